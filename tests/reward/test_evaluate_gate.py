"""Calibration, slices, length audit and the gate, on stand-in models with known scores (no torch)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from tether.records import PreferencePair, RewardContract
from tether.reward.evaluate import (
    IsotonicMap,
    calibration_bins,
    evaluate,
    expected_calibration_error,
    fit_temperature,
    write_report,
)
from tether.reward.gate import GateConfig, GateFailed, check_gate, require_gate, save_gate
from tether.reward.model import write_contracts


class LengthModel:
    """Scores a response by its word count (a pure length-hacking reward)."""

    objectives = ["overall"]

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        return {"overall": np.array([len(r.split()) for r in responses], dtype=float)}


class TableModel:
    """Scores from a lookup table of response text (one head, `overall`)."""

    objectives = ("overall",)

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        return {"overall": np.array([self.table[r] for r in responses])}


def _pairs(margins: list[float], **prov: str) -> tuple[list[PreferencePair], dict[str, float]]:
    pairs, table = [], {}
    for i, m in enumerate(margins):
        c, r = f"chosen {i}", f"rejected {i}"
        table[c], table[r] = m / 2, -m / 2
        pairs.append(PreferencePair(prompt=f"p{i}", chosen=c, rejected=r, provenance=dict(prov)))
    return pairs, table


def test_ece_by_hand() -> None:
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.3 -> predicts rejected with confidence 0.7 (right)
    q = np.array([0.9, 0.1, 0.6, 0.3])
    # as "chosen wins" labels: 0.1 means predicting rejected at 0.9 -> wrong; so bins: [0.9: 1 right, 1 wrong]
    # 0.9 bin: conf 0.9, acc 0.5 -> 2 * 0.4; 0.6 bin: conf .6 acc 0 (q>0.5 is right!)
    r = calibration_bins(q, n_bins=5)
    correct = (q > 0.5).astype(float)
    conf = np.maximum(q, 1 - q)
    edges = np.linspace(0.5, 1, 6)
    want = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (conf > lo) & (conf <= hi) if lo > 0.5 else (conf >= lo) & (conf <= hi)
        if sel.any():
            want += sel.sum() * abs(correct[sel].mean() - conf[sel].mean())
    assert expected_calibration_error(q, n_bins=5) == pytest.approx(want / 4)
    assert sum(r["count"]) == 4


def test_a_half_half_prediction_names_no_side_and_counts_half_right() -> None:
    # pairs are stored chosen-first, so a zero margin is no evidence of a wrong call
    r = calibration_bins(np.array([0.5, 0.5, 0.9]), n_bins=5)
    assert r["accuracy"][0] == 0.5 and r["confidence"][0] == 0.5
    assert expected_calibration_error(np.array([0.5, 0.5])) == 0.0


def test_the_isotonic_map_learns_a_shape_one_temperature_cannot() -> None:
    # accuracy jumps from a coin flip to 90% at |margin| 0.2 and stays there: a sigmoid is too flat below and too
    # steep above; the isotonic map, fitted on one half, is calibrated on the other
    rng = np.random.default_rng(0)
    size = rng.uniform(0, 3, 8000)
    right = rng.random(8000) < np.where(size < 0.2, 0.5, 0.9)
    oriented = np.where(right, size, -size)
    fit, judge = oriented[:4000], oriented[4000:]
    iso = IsotonicMap.fit(fit)
    assert expected_calibration_error(iso(judge)) < 0.02
    t = fit_temperature(fit)
    assert expected_calibration_error(1 / (1 + np.exp(-judge / t))) > 0.05
    q = iso(np.array([-2.0, 0.0, 2.0]))
    assert q[1] == 0.5 and q[0] == pytest.approx(1 - q[2]) and q[2] == pytest.approx(0.9, abs=0.03)


def test_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 40000)
    wins = rng.random(40000) < 1 / (1 + np.exp(-logits))
    margins = 3.0 * logits  # an over-confident model: true temperature 3
    # pairs are oriented as labelled: a lost comparison is a pair with the margin flipped
    oriented = np.where(wins, margins, -margins)
    assert fit_temperature(oriented) == pytest.approx(3.0, rel=0.05)
    q_raw, q_cal = 1 / (1 + np.exp(-oriented)), 1 / (1 + np.exp(-oriented / fit_temperature(oriented)))
    assert expected_calibration_error(q_cal) < 0.02 < expected_calibration_error(q_raw)


def test_evaluate_accuracy_slices_and_calibration() -> None:
    good, t1 = _pairs([2.0, 1.0, 0.5, -0.5, 3.0, 1.5], task_type="code", domain="coding")
    bad, t2 = _pairs([-1.0, -2.0, 0.5, 1.0], task_type="chat", domain="chat")
    bad = [p.model_copy(update={"chosen": p.chosen + "x", "rejected": p.rejected + "x"}) for p in bad]
    t2 = {k + "x": v for k, v in t2.items()}
    tie = PreferencePair(prompt="t", chosen="chosen 0", rejected="rejected 0", tie=True)
    model = TableModel({**t1, **t2})
    res = evaluate(model, [*good, *bad, tie])
    assert res.n_ties == 1 and res.n_pairs == 11
    assert res.accuracy == pytest.approx(7 / 10)
    assert res.by_slice["task_type"]["code"] == {"accuracy": pytest.approx(5 / 6), "n": 6.0}
    assert res.by_slice["domain"]["chat"]["accuracy"] == pytest.approx(2 / 4)
    assert sum(s["n"] for s in res.by_slice["length"].values()) == 10
    assert res.temperature == 1.0 and res.ece == res.ece_raw
    cal = evaluate(model, good, calibration_pairs=good)
    assert cal.temperature == pytest.approx(fit_temperature(np.array([2.0, 1.0, 0.5, -0.5, 3.0, 1.5])))
    assert cal.calibration == "isotonic" and res.calibration == "none"
    by_t = evaluate(model, good, calibration_pairs=good, calibration="temperature")
    assert by_t.calibration == "temperature" and by_t.temperature == cal.temperature
    assert by_t.ece == pytest.approx(expected_calibration_error(
        1 / (1 + np.exp(-np.array([2.0, 1.0, 0.5, -0.5, 3.0, 1.5]) / by_t.temperature))))
    with pytest.raises(ValueError, match="calibration must be"):
        evaluate(model, good, calibration_pairs=good, calibration="platt")


def test_length_audit_flags_a_length_hacking_reward() -> None:
    pairs = [PreferencePair(prompt="p", chosen="short answer", rejected="a much longer answer with filler words"),
             PreferencePair(prompt="p", chosen="right answer here", rejected="wrong answer here"),
             PreferencePair(prompt="p", chosen="a long and correct answer with many words", rejected="no")]
    res = evaluate(LengthModel(), pairs)
    assert res.length_correlation["overall"] == pytest.approx(1.0)
    assert res.n_matched == 1 and res.matched_accuracy == 0.0  # equal lengths: a tie in score, not a win
    assert res.longer_preferred_model == 1.0
    assert res.longer_preferred_labels == pytest.approx(0.5)
    gate = check_gate(res, GateConfig(min_accuracy=0.3, max_ece=None, max_length_correlation=0.3))
    assert not gate.passed
    assert [c.name for c in gate.failed] == ["length_correlation"]
    assert "length_correlation" in gate.summary()


def _result(margins: list[float]):  # noqa: ANN202
    pairs, table = _pairs(margins, task_type="code")
    return evaluate(TableModel(table), pairs, agreement_ceiling=0.8)


def test_gate_names_each_failed_criterion() -> None:
    res = _result([1.0] * 30 + [-1.0] * 10)  # accuracy 0.75
    cfg = GateConfig(min_accuracy=0.8, max_ece=0.5, max_length_correlation=None, min_ceiling_ratio=0.95,
                     slice_floors={"task_type": 0.8, "domain=medical": 0.5})
    gate = check_gate(res, cfg)
    failed = {c.name for c in gate.failed}
    assert failed == {"accuracy", "accuracy / agreement ceiling", "slice task_type=code accuracy",
                      "slice domain=medical"}
    ratio = next(c for c in gate.checks if c.name == "accuracy / agreement ceiling")
    assert ratio.value == pytest.approx(0.75 / 0.8)
    assert check_gate(res, GateConfig(min_accuracy=0.7, max_ece=0.5, max_length_correlation=None)).passed


def _model_dir(tmp_path: Path, fp: str) -> Path:
    write_contracts(tmp_path, [RewardContract(name="rm/quality", objective="quality", data_fingerprint=fp)])
    return tmp_path


def test_require_gate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _model_dir(tmp_path, "abc")
    with pytest.raises(GateFailed, match="no gate result"):
        require_gate(folder)
    res = _result([1.0] * 30 + [-1.0] * 10)
    save_gate(folder, check_gate(res, GateConfig(min_accuracy=0.9, max_ece=None, max_length_correlation=None)))
    with pytest.raises(GateFailed, match="accuracy"):
        require_gate(folder)
    with caplog.at_level(logging.WARNING):
        assert require_gate(folder, override="smoke test of the policy loop") is not None
    assert "overridden" in caplog.text
    save_gate(folder, check_gate(res, GateConfig(min_accuracy=0.7, max_ece=None, max_length_correlation=None)))
    assert require_gate(folder).passed
    _model_dir(tmp_path, "retrained")  # the model changed after the gate ran
    with pytest.raises(GateFailed, match="another model"):
        require_gate(folder)


def test_html_report_is_self_contained(tmp_path: Path) -> None:
    res = _result([1.0, 2.0, -0.5, 0.3] * 10)
    gate = check_gate(res)
    path = write_report(res, tmp_path / "r.html", gate=gate)
    html = path.read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "Gate: FAILED" in html or "Gate: PASSED" in html
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from a server
    json.dumps(res.to_dict())  # JSON-ready
