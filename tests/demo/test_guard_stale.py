"""Guard 7 (RLHF as a one-time event), a short run: two simulated months with the drift compressed into them."""

from __future__ import annotations

import pytest

from tether.demo.guards.row import JSON_KEYS
from tether.demo.guards.stale import row_stale
from tether.demo.guards.stale_loop import ECE_CHECK, Sizes, planted_challenger

SHORT = Sizes(months=2, launch_pairs=400, batch_pairs=150, eval_pairs=200, tick_days=5, cadence_days=10.0,
              window_days=10.0, train_days=20.0, judge_days=20.0, requests_per_day=15.0, n_boot=200)


@pytest.fixture(scope="module")
def row():  # noqa: ANN201
    return row_stale(3, SHORT)


def test_the_row_has_the_shape_the_table_and_demo_json_read(row) -> None:  # noqa: ANN001
    assert row.failure_mode == 7 and row.higher_is_better
    assert tuple(row.to_json()) == JSON_KEYS
    d = row.detail
    assert d["months"] == [0, 1, 2]
    assert len(d["naive_accuracy"]) == len(d["tether_accuracy"]) == 3
    assert row.naive == pytest.approx(d["naive_accuracy"][-1], abs=1e-4)
    assert row.tether == pytest.approx(d["tether_accuracy"][-1], abs=1e-4)
    assert d["initial_accuracy"] == d["naive_accuracy"][0] == d["tether_accuracy"][0]
    assert row.naive_arm and row.tether_arm


def test_the_static_model_loses_gold_accuracy_as_preferences_drift(row) -> None:  # noqa: ANN001
    acc = row.detail["naive_accuracy"]
    assert acc[0] - acc[-1] > 0.05, acc
    assert row.detail["naive_drop"] == pytest.approx(acc[0] - acc[-1], abs=1e-3)


def test_the_loop_retrains_and_its_challengers_beat_the_stale_champion_on_gold(row) -> None:  # noqa: ANN001
    d = row.detail
    assert d["challenges"] >= 3 and sum(d["batches_opened_by"].values()) >= d["challenges"]
    late = [r for r in d["refusals"] + d["promotions"] if r["day"] >= 40]
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


def test_the_gate_without_its_calibration_check_would_have_kept_up(row) -> None:  # noqa: ANN001
    """The diagnostic arm (never served): promotions when every check but calibration passed."""
    d = row.detail
    shadow = d["diagnostic_tether_accuracy_without_calibration_check"]
    assert shadow[-1] > d["naive_accuracy"][-1] + 0.05
    calibration_only = [r for r in d["refusals"] if r["failed"] == [ECE_CHECK]]
    assert calibration_only  # the check that held the loop back in this run


def test_a_challenger_worse_on_one_slice_is_refused_and_the_refusal_names_the_slice() -> None:
    verdict = planted_challenger(2, "code_output", launch_pairs=600, fresh_pairs=1200, n_boot=200)
    assert not verdict.passed
    assert "slice task_type=code_output accuracy drop" in [c.name for c in verdict.failed]
    assert "slice task_type=code_output" in verdict.summary()
    row = next(r for r in verdict.slices if r["slice"] == "task_type" and r["value"] == "code_output")
    assert row["judged"] and row["challenger"] < row["champion"] - 0.03
