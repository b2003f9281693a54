"""Constrained RL: constraint parsing, the PID-Lagrangian multiplier against a direct transcription of Stooke et al.
(2020) Algorithm 2, the shaped reward, the cost model's calibration check, and a tiny constrained RL run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tether.policy.constraints import (
    CalibrationRefused,
    Constraint,
    ConstraintShaper,
    PIDGains,
    PIDLagrangian,
    parse_constraint,
    parse_constraints,
    require_calibrated,
    saved_ece,
)


def paper_pid(costs: list[float], d: float, kp: float, ki: float, kd: float) -> list[float]:
    """Algorithm 2 (PID-Lagrangian) of Stooke, Achiam & Abbeel 2020, line by line; J_C,prev starts at the first
    cost (tether's documented choice instead of the paper's 0)."""
    lambdas, integral, prev = [], 0.0, costs[0]
    for j_c in costs:
        delta = j_c - d
        integral = max(0.0, integral + delta)
        partial = max(0.0, j_c - prev)
        lambdas.append(max(0.0, kp * delta + ki * integral + kd * partial))
        prev = j_c
    return lambdas


def test_pid_update_matches_a_hand_computed_sequence_and_the_paper() -> None:
    pid = PIDLagrangian(0.5, PIDGains(kp=1.0, ki=0.5, kd=2.0))
    costs = [0.9, 1.0, 0.4, 0.2, 0.1]
    got = [pid.update(c) for c in costs]
    # by hand: e=.4 I=.4 D=0 -> .4+.2=.6; e=.5 I=.9 D=.1 -> .5+.45+.2=1.15; e=-.1 I=.8 D=0 -> -.1+.4=.3;
    # e=-.3 I=.5 -> -.3+.25=0 (clamped: -.05 -> 0); e=-.4 I=.1 -> -.4+.05 -> 0
    assert got == pytest.approx([0.6, 1.15, 0.3, 0.0, 0.0])
    rng = np.random.default_rng(0)
    seq = list(rng.uniform(0, 2, 40))
    pid = PIDLagrangian(0.8, PIDGains(0.3, 0.1, 0.7))
    assert [pid.update(c) for c in seq] == pytest.approx(paper_pid(seq, 0.8, 0.3, 0.1, 0.7))


def test_multiplier_rises_while_violated_and_decays_to_zero_when_satisfied() -> None:
    pid = PIDLagrangian(1.0, PIDGains(kp=0.0, ki=0.2, kd=0.0))
    rising = [pid.update(2.0) for _ in range(10)]
    assert all(b > a for a, b in zip(rising, rising[1:], strict=False))
    falling = [pid.update(0.5) for _ in range(30)]
    assert all(b <= a for a, b in zip(falling, falling[1:], strict=False))
    assert falling[-1] == 0.0 and pid.integral == 0.0


@pytest.mark.parametrize(("text", "needle"), [
    ("safety<=0.02", "higher-is-better; write safety>=0.02"),
    ("length>=10", "length is a cost"),
    ("refusal<=1.5", "in [0, 1]"),
    ("cost:harm>=0.1", "bounded from above"),
    ("safety=0.1", "expected NAME>=VALUE"),
    ("safety>=abc", "expected NAME>=VALUE"),
    ("safety>=1e999", "finite"),
])
def test_parse_errors_name_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(ValueError, match="constraint") as err:
        parse_constraint(text)
    assert needle in str(err.value) and text in str(err.value)


def test_parse_forms_and_duplicates() -> None:
    assert parse_constraint("safety>=0.98") == Constraint("safety", -0.98, "objective", "safety>=0.98")
    assert parse_constraint("cost:harm <= 0.02") == Constraint("harm", 0.02, "cost", "cost:harm <= 0.02")
    assert parse_constraint("length<=120").source == "builtin"
    with pytest.raises(ValueError, match="more than once"):
        parse_constraints(["length<=10", "length<=20"])
    with pytest.raises(ValueError, match="KP,KI,KD"):
        PIDGains.parse("1,2")
    assert PIDGains.parse("0.1, 0.2,0") == PIDGains(0.1, 0.2, 0.0)


def test_shaped_reward_is_normalised_by_one_plus_the_multipliers() -> None:
    gains = PIDGains(kp=1.0, ki=0.0, kd=0.0)
    shaper = ConstraintShaper(parse_constraints(["safety>=0.5", "length<=1"]), gains)
    texts = ["a b c", "a"]
    scores = {"quality": np.array([1.0, 0.0]), "safety": np.array([0.2, 0.4])}
    shaped, fields = shaper.shape(scores["quality"], scores, texts)
    lam_s = max(0.0, -0.3 - (-0.5))  # mean cost -0.3 vs threshold -0.5
    lam_l = 2.0 - 1.0  # mean length 2 words vs 1
    c_s, c_l = -scores["safety"], np.array([3.0, 1.0])
    expect = (scores["quality"] - lam_s * c_s - lam_l * c_l) / (1 + lam_s + lam_l)
    assert shaped == pytest.approx(expect)
    assert fields["constraint/safety/lambda"] == pytest.approx(lam_s)
    assert fields["constraint/safety/cost"] == pytest.approx(0.3)  # logged in the objective's own units
    assert fields["constraint/safety/threshold"] == pytest.approx(0.5)
    assert fields["constraint/length/violated"] == 1.0


def _gate(folder: Path, ece: float | None) -> None:
    from tether.reward.gate import GATE_FILE, Check, GateResult

    folder.mkdir(parents=True, exist_ok=True)
    checks = [Check("accuracy", 0.8, 0.6, True, "min")]
    if ece is not None:
        checks.append(Check("ece", ece, 0.1, ece <= 0.1, "max"))
    (folder / GATE_FILE).write_text(json.dumps(GateResult(checks).to_dict()))  # as `tether reward gate` saves it


def test_cost_model_calibration_is_checked(tmp_path: Path) -> None:
    _gate(tmp_path / "good", 0.04)
    _gate(tmp_path / "bad", 0.23)
    _gate(tmp_path / "unknown", None)
    assert saved_ece(tmp_path / "good") == pytest.approx(0.04)
    assert require_calibrated(tmp_path / "good", "safety>=0.9") == pytest.approx(0.04)
    with pytest.raises(CalibrationRefused, match=r"ECE 0\.2300 > 0\.1"):
        require_calibrated(tmp_path / "bad", "safety>=0.9")
    with pytest.raises(CalibrationRefused, match="no calibration recorded"):
        require_calibrated(tmp_path / "unknown", "safety>=0.9")
    assert require_calibrated(tmp_path / "bad", "safety>=0.9", override="checked by hand") == pytest.approx(0.23)
    (tmp_path / "ens").mkdir()
    (tmp_path / "ens" / "reward_ensemble.json").write_text(json.dumps({"members": ["../good", "../bad"]}))
    assert saved_ece(tmp_path / "ens") == pytest.approx(0.23)  # the worst member


def test_a_tiny_constrained_run_logs_costs_and_multipliers(digits_lm: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from tether.policy.evaluators import FunctionEvaluator, MissingObjective
    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig

    def digits(prompts: list[str], responses: list[str]) -> dict[str, list[float]]:
        return {"digits": [sum(c.isdigit() for c in r) / max(1, len(r)) for r in responses]}

    ev = FunctionEvaluator(digits, ["digits"], name="digits")
    prompts = [f"What is {i} plus {i}?" for i in range(16)]
    cfg = RLConfig(objectives=["digits"], constraints=["length<=0", "digits>=0.99"], pid="0.05,0.1,0", steps=3,
                   max_new_tokens=8, lr=3e-2, sample_every=0, kl_coef=0.01)
    res = train_rl(digits_lm, prompts, ev, tmp_path / "out", cfg, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    lam = [r["constraint/length/lambda"] for r in rows]
    assert len(lam) == 3 and all(b > a for a, b in zip(lam, lam[1:], strict=False))  # always violated: rises
    assert all(r["constraint/length/cost"] > 0 and r["constraint/length/threshold"] == 0 for r in rows)
    assert "constraint/digits/lambda" in rows[-1] and "reward_main" in rows[-1]
    assert "Constraints: cost against threshold" in (tmp_path / "out" / "report.html").read_text()
    assert res.last["constraint/length/lambda"] == lam[-1]
    bad = RLConfig(objectives=["digits"], constraints=["safety>=0.9"], steps=1)
    with pytest.raises(MissingObjective, match="safety"):
        train_rl(digits_lm, prompts, ev, tmp_path / "x", bad, progress=False)


def test_a_resumed_constrained_run_keeps_its_multipliers(digits_lm: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import shutil

    from tether.policy.evaluators import FunctionEvaluator
    from tether.policy.rl import train_rl
    from tether.policy.rl_config import RLConfig

    ev = FunctionEvaluator(lambda p, r: {"digits": [sum(c.isdigit() for c in x) / max(1, len(x)) for x in r]},
                           ["digits"], name="digits")
    prompts = [f"What is {i} plus {i}?" for i in range(16)]
    cfg = RLConfig(objectives=["digits"], constraints=["length<=0"], steps=4, save_every=2, max_new_tokens=8,
                   lr=3e-2, sample_every=0, kl_coef=0.01)
    straight = train_rl(digits_lm, prompts, ev, tmp_path / "a", cfg, progress=False, save=False)
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "a" / "checkpoints" / "step-2", tmp_path / "b" / "checkpoints" / "step-2")
    resumed = train_rl(digits_lm, prompts, ev, tmp_path / "b", cfg, resume=True, progress=False, save=False)
    assert resumed.last["constraint/length/lambda"] == pytest.approx(straight.last["constraint/length/lambda"])
    assert straight.last["constraint/length/lambda"] > 0
