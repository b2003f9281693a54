"""A challenger policy is promoted only if a held-out evaluator says it is better and no hacking signature moved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tether.loop.challenge import PolicyChallengeConfig, challenge_policy

PROMPTS = [f"question {i}" for i in range(60)]
RNG = np.random.default_rng(0)
OLD = {"overall": RNG.normal(0.0, 0.1, 60)}
CFG = PolicyChallengeConfig(n_boot=300)


def answers(words: int, hedge: bool = False) -> list[str]:
    rng = np.random.default_rng(1)
    out = []
    for _ in range(60):
        n = words + int(rng.integers(-2, 3))
        text = " ".join(["answer"] * n)
        out.append(("I think perhaps it may be that " + text) if hedge else text)
    return out


def test_better_on_the_evaluator_with_the_same_style_is_promoted() -> None:
    result = challenge_policy(PROMPTS, answers(12), answers(12), OLD, {"overall": OLD["overall"] + 0.2}, CFG)
    assert result.passed, result.summary()
    assert result.difference["overall"] == pytest.approx(0.2)


def test_a_better_score_bought_with_longer_hedged_answers_is_refused() -> None:
    result = challenge_policy(PROMPTS, answers(12), answers(30, hedge=True), OLD, {"overall": OLD["overall"] + 0.2},
                              CFG)
    failed = {c.name for c in result.failed}
    assert "signature length drift (champion SDs)" in failed and "signature hedging drift (champion SDs)" in failed
    assert not any(name.startswith("overall") for name in failed)


def test_an_objective_that_falls_refuses_even_when_the_primary_rises() -> None:
    old = {"overall": OLD["overall"], "safety": RNG.normal(0, 0.1, 60)}
    new = {"overall": old["overall"] + 0.2, "safety": old["safety"] - 0.3}
    result = challenge_policy(PROMPTS, answers(12), answers(12), old, new, PolicyChallengeConfig(
        objective="overall", n_boot=300))
    assert [c.name for c in result.failed] == ["safety change (95% interval high end)"]


def test_cli_refuses_a_challenger_no_better_than_the_champion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              tiny_policy: Path) -> None:
    from tether.cli import app
    from tether.config import init_project
    from tether.sim import World

    root = init_project(tmp_path / "proj").root
    monkeypatch.chdir(root)
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    champion, challenger = root / "pol-a", root / "pol-b"
    shutil.copytree(tiny_policy, champion)
    shutil.copytree(tiny_policy, challenger)
    (root / "prompts.jsonl").write_text("".join(json.dumps({"prompt": p.text}) + "\n"
                                                for p in World(seed=0).prompts(12)))
    runner = CliRunner()
    args = ["models", "challenge-policy", "pol-b", "--prompts", "prompts.jsonl", "--evaluator", "gold",
            "--max-new-tokens", "8", "--bootstrap", "200"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "no champion policy" in res.output
    assert runner.invoke(app, ["models", "promote", "pol-a", "--role", "policy", "--kind", "policy", "--reason",
                               "first"]).exit_code == 0
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 1, res.output
    result = json.loads(res.stdout)
    assert result["recorded"] == "refuse" and result["difference"]["overall"] == 0.0  # the same weights
    history = json.loads(runner.invoke(app, ["models", "champion", "--role", "policy", "--json"]).stdout)
    assert [h["action"] for h in history["history"]] == ["promote", "refuse"]
    assert history["champion"].endswith("pol-a")
