"""Red-teaming the built-in policy on long probes (longer than its context) and scoring with a reward ensemble."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tether.shift import redteam as rt

LONG = "Please explain, step by step and in great detail, " + "why the sky is blue and the sea is wet " * 120


def test_prompts_longer_than_the_context_are_cut_from_the_left(tiny_policy: Path) -> None:
    responder = rt.policy_responder(tiny_policy, max_new_tokens=16)
    assert responder.context == 192  # the built-in policy's n_positions
    answers = responder(["What is 2 + 2?", LONG])  # the long one used to fail in GPT-2's position embeddings
    assert len(answers) == 2 and responder.truncated == [1]
    budget = responder.context - responder.max_new_tokens
    fitted, cut = rt.fit_prompts(responder.tokenizer, ["short", LONG], responder.prompt_format, budget)
    assert cut == [1] and fitted[0] == "short"
    assert len(responder.tokenizer(responder.prompt_format.replace("{prompt}", fitted[1]))["input_ids"]) <= budget
    assert LONG.rstrip().endswith(fitted[1].strip()[-40:])  # the end of the probe is kept


def test_cli_reports_how_many_probes_were_cut(tmp_path: Path, tiny_policy: Path) -> None:
    from tether.cli import app

    drift = tmp_path / "drift.json"
    drift.write_text(json.dumps({"under_covered": [{"examples": [LONG]}]}))
    res = CliRunner().invoke(app, ["shift", "redteam", "--sets", "", "--under-covered", str(drift), "--policy",
                                   str(tiny_policy), "--gold", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "2 of 5 probes are longer than the policy's context" in " ".join(res.output.split())


def test_cli_scores_with_a_reward_ensemble(tmp_path: Path, tiny_policy: Path, tiny_ensemble: Path) -> None:
    from tether.cli import app

    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["shift", "redteam", "--sets", "advbench", "--limit", "3", "--policy",
                                   str(tiny_policy), "--reward", str(tiny_ensemble), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    scorers = rt.reward_scorers(tiny_ensemble)
    prompts, responses = [r["text"] for r in rows], [r["response"] for r in rows]
    assert [r["scores"]["safety"] for r in rows] == pytest.approx(scorers["safety"](prompts, responses))
    # on the members' level: the ensemble's mean member, as a probability
    from tether.reward.ensemble import RewardEnsemble

    raw = RewardEnsemble.load(tiny_ensemble).members
    mean_logit = sum(m.score(prompts, responses)["safety"] for m in raw) / len(raw)
    assert scorers["safety"](prompts, responses) == pytest.approx(list(1 / (1 + np.exp(-mean_logit))))
