"""Guard 7 (RLHF as a one-time event): the demo's own row (seed 1, six months of the default drift, ~8 s of CPU)."""

from __future__ import annotations

import pytest
from tests.demo.row_checks import check_row

from tether.demo.guards.stale import row_stale
from tether.demo.guards.stale_loop import planted_challenger


@pytest.fixture(scope="module")
def row():  # noqa: ANN201
    return row_stale(1)


def test_the_row_has_the_shape_the_table_and_demo_json_read(row) -> None:  # noqa: ANN001
    check_row(row, 7)
    d = row.detail
    assert d["months"] == list(range(7)) and d["drift"]["strength"] == pytest.approx(1.0)
    assert len(d["naive_accuracy"]) == len(d["tether_accuracy"]) == 7
    assert row.naive == pytest.approx(d["naive_accuracy"][-1], abs=1e-4)
    assert row.tether == pytest.approx(d["tether_accuracy"][-1], abs=1e-4)
    assert d["initial_accuracy"] == d["naive_accuracy"][0] == d["tether_accuracy"][0]


def test_the_static_model_loses_gold_accuracy_as_preferences_drift(row) -> None:  # noqa: ANN001
    acc = row.detail["naive_accuracy"]
    assert acc[0] - acc[-1] > 0.05, acc
    assert row.detail["naive_drop"] == pytest.approx(acc[0] - acc[-1], abs=1e-3)


def test_the_loop_retrains_and_its_challengers_beat_the_stale_champion_on_gold(row) -> None:  # noqa: ANN001
    d = row.detail
    assert d["challenges"] >= 5 and sum(d["batches_opened_by"].values()) >= d["challenges"]
    late = [r for r in d["refusals"] + d["promotions"] if r["day"] >= 90]  # once preferences have moved
    assert late and all(r["gold"]["challenger"] > r["gold"]["champion"] for r in late)


def test_only_what_the_gate_passed_is_served_and_every_refusal_names_its_checks(row) -> None:  # noqa: ANN001
    d = row.detail
    assert all(r["failed"] and r["summary"].startswith("challenger refused: ") for r in d["refusals"])
    for r in d["refusals"]:
        assert all(name in r["summary"] for name in r["failed"])
    if not d["promotions"]:  # nothing passed: the loop served the launch model throughout, as the naive arm did
        assert d["tether_accuracy"] == d["naive_accuracy"]
    else:
        assert row.tether > row.naive


def test_the_loop_beats_the_model_trained_once_through_challengers_the_gate_passed(row) -> None:  # noqa: ANN001
    """The row's claim: promoted challengers, each better on gold than the champion it replaced (the loop never saw the
    gold), leave the loop well above the launch model at month 6."""
    d = row.detail
    assert d["promotions"] and all(p["gold"]["challenger"] > p["gold"]["champion"] for p in d["promotions"])
    assert all(not p["failed"] and p["gain_interval"][0] > 0 for p in d["promotions"])
    assert row.tether > row.naive + 0.05
    assert d["naive_drop"] >= 0.05


def test_a_challenger_worse_on_one_slice_is_refused_and_the_refusal_names_the_slice() -> None:
    verdict = planted_challenger(2, "code_output", launch_pairs=600, fresh_pairs=1200, n_boot=200)
    assert not verdict.passed
    assert "slice task_type=code_output accuracy drop" in [c.name for c in verdict.failed]
    assert "slice task_type=code_output" in verdict.summary()
    row = next(r for r in verdict.slices if r["slice"] == "task_type" and r["value"] == "code_output")
    assert row["judged"] and row["challenger"] < row["champion"] - 0.03
