"""The seven guards against a naive pipeline, each measured on the simulated world's gold by this run.

Each row module exposes `row(seed) -> GuardRow`: it builds both arms from the same world seed (same prompts, same
raters, same label budget), trains their reward models with the cheap probe `tether.reward.probe.NgramReward`
where a reward model is needed, and scores both on gold the arms never saw. `run_guards` times each row and
returns them in failure-mode order; `tether demo` writes them as the first table of its report and as `guards` in
demo.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tether.console import console
from tether.demo.guards.row import JSON_KEYS, GuardRow

# (failure mode, what is measured, the row function); filled as each guard's row lands
ROWS: list[tuple[int, str, Callable[[int], GuardRow]]] = []


def run_guards(seed: int = 1) -> list[GuardRow]:
    """Every row, in failure-mode order, with the seconds each took."""
    rows = []
    for mode, what, fn in sorted(ROWS, key=lambda r: r[0]):
        with console.status(f"guard {mode}: {what}"):
            t0 = time.perf_counter()
            row = fn(seed)
            row.seconds = time.perf_counter() - t0
        rows.append(row)
    return rows


__all__ = ["JSON_KEYS", "ROWS", "GuardRow", "run_guards"]
