"""The shape every guard row must have for the demo's table and demo.json, and the row's claim."""

import json
import math

from tether.demo.guards.row import JSON_KEYS, GuardRow


def check_row(row: GuardRow, mode: int, *, higher: bool = True, unit: bool = True) -> None:
    """`unit`: the metric is a rate or an accuracy in [0, 1]."""
    assert row.failure_mode == mode and row.higher_is_better is higher
    assert tuple(row.to_json()) == JSON_KEYS
    json.dumps(row.to_dict(), allow_nan=False)  # the report writes it as strict JSON
    for value in (row.naive, row.tether):
        assert math.isfinite(value) and (not unit or 0.0 <= value <= 1.0)
    assert row.naive_arm and row.tether_arm
    assert row.tether_better, (row.naive, row.tether)  # the row's claim
    if "difference_ci95" in row.detail:  # paired bootstrap over the scored items
        low, high = row.detail["difference_ci95"]
        assert low <= row.tether - row.naive <= high
