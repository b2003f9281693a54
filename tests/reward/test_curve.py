"""`tether reward curve`: the learning curve on curated pairs, its power-law fit and pairs-needed, and its report."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.io.v1 import pairs_to_v1
from tether.records import PreferencePair
from tether.reward.curve import default_sizes, fit_power_law, learning_curve

GOOD = [f"good{i}" for i in range(60)]
BAD = [f"bad{i}" for i in range(60)]
FILL = [f"w{i}" for i in range(200)]


def word_pairs(n: int, noise: float = 0.1, seed: int = 0) -> list[PreferencePair]:
    """Each response holds one signal word among fillers; 60 good and 60 bad words, so the probe must see many
    pairs to learn them all (the curve rises), and `noise` of the labels are flipped."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        good = " ".join(rng.sample(FILL, 5) + [rng.choice(GOOD)])
        bad = " ".join(rng.sample(FILL, 5) + [rng.choice(BAD)])
        if rng.random() < noise:
            good, bad = bad, good
        out.append(PreferencePair(prompt=f"prompt {i % 120}", chosen=good, rejected=bad))
    return out


def test_fit_power_law_recovers_known_curve() -> None:
    n = np.array([25, 50, 100, 200, 400, 800], float)
    fit, needed = fit_power_law(n, 0.9 - 0.5 * n ** -0.5, target=0.85)
    assert fit["a"] == pytest.approx(0.9, abs=1e-4) and fit["c"] == pytest.approx(0.5, abs=1e-3)
    assert needed == pytest.approx(100.0, rel=1e-2)  # 0.9 - 0.5 / sqrt(100) = 0.85
    assert fit_power_law(n, 0.8 - 0.5 * n ** -0.5, target=0.85)[1] is None  # target above the ceiling


def test_learning_curve_rises_and_holds_prompts_out() -> None:
    pairs = word_pairs(900)
    curve = learning_curve(pairs, target=0.8, repeats=2, seed=1)
    assert curve.sizes == default_sizes(curve.n_train) and curve.sizes[-1] == curve.n_train
    assert curve.n_test_prompts == 24 and curve.n_train + curve.n_test == len(pairs)  # 20% of 120 prompts
    assert curve.accuracy[-1] > curve.accuracy[0] + 0.15 and curve.accuracy[-1] > 0.75
    f = curve.fit
    assert f is not None and curve.pairs_needed is not None
    assert f["a"] - f["b"] * curve.pairs_needed ** -f["c"] == pytest.approx(0.8, abs=1e-6)


def test_curve_command_report_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "curated.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1(word_pairs(400))))
    res = runner.invoke(app, ["reward", "curve", "--pairs", str(data), "--repeats", "1", "--report",
                              str(tmp_path / "curve.html"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_train"] + out["n_test"] == 400 and len(out["accuracy"]) == len(out["sizes"])
    page = (tmp_path / "curve.html").read_text()
    assert page.count("base64,") == 1 and "pairs needed for accuracy 0.85" in page
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps(r) + "\n" for r in pairs_to_v1(
        [p.model_copy(update={"prompt": "same"}) for p in word_pairs(20)])))
    res = runner.invoke(app, ["reward", "curve", "--pairs", str(one)])
    assert res.exit_code != 0 and "at least two prompts" in res.output
