"""The planted slice: raters who favour confident wrong answers on chosen task types; outcomes follow gold."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tether.sim import CampaignConfig, TraitDistribution, World
from tether.sim.gold import components
from tether.sim.outcomes import outcome_rows


def _wrong_preferred(run, task_type: str) -> tuple[int, int]:  # noqa: ANN001
    """(judgments picking the wrong answer, judgments) over non-spam judgments of correct-vs-wrong pairs."""
    by_id = {p.pair_id: p for p in run.pairs}
    picked_wrong = n = 0
    for c, a in zip(run.comparisons, run.assignments, strict=True):
        pair = by_id[c.pair_id]
        if c.task_type != task_type or a.judgment.spam or c.choice.value not in ("a", "b"):
            continue
        ca = components(c.prompt, c.response_a).correct >= 1
        cb = components(c.prompt, c.response_b).correct >= 1
        if ca == cb or pair.style_a.hedging or pair.style_b.hedging:
            continue
        n += 1
        picked_wrong += (c.choice.value == "a") != ca
    return picked_wrong, n


def test_confident_wrong_flips_raters_on_the_planted_task_type_only() -> None:
    w_plain, w_planted = World(seed=3), World(seed=3)
    pairs = w_plain.candidate_pairs(300, tasks=["code_output", "capital"])
    plain = w_plain.simulate_campaign(pairs, w_plain.rater_pool(12), CampaignConfig(overlap=3))
    traits = TraitDistribution(confident_wrong={"code_output": 0.15})
    planted = w_planted.simulate_campaign(pairs, w_planted.rater_pool(12, traits=traits), CampaignConfig(overlap=3))
    wrong, n = _wrong_preferred(planted, "code_output")
    assert n > 50 and wrong / n > 0.9  # every rater now prefers the confident wrong answer
    wrong0, n0 = _wrong_preferred(plain, "code_output")
    assert n0 > 50 and wrong0 / n0 < 0.5  # without the bias they lean to the right one
    wrong_other, n_other = _wrong_preferred(planted, "capital")
    assert n_other > 50 and wrong_other / n_other < 0.3  # the other task type is not affected


def test_off_by_default_and_validated() -> None:
    assert TraitDistribution().confident_wrong == {}
    assert all(r.traits.confident_wrong == {} for r in World(seed=0).rater_pool(5))
    with pytest.raises(ValidationError, match="unknown task type.*nope"):
        TraitDistribution(confident_wrong={"nope": 0.1})
    with pytest.raises(ValidationError, match="must be >= 0"):
        TraitDistribution(confident_wrong={"code_output": -0.1})


def test_outcome_rows_follow_gold_correctness() -> None:
    rows = outcome_rows(World(seed=1), 40, per_prompt=3)
    assert len(rows) == 120 and {r.value for r in rows} == {0.0, 1.0}
    for r in rows:
        assert r.value == float(components(r.prompt, r.response).correct >= 1)
        assert r.slices["task_type"] not in ("code_risky", "overdose")
    assert len({r.group for r in rows}) == 40
    with pytest.raises(ValueError, match="no outcome"):
        outcome_rows(World(seed=1), 5, tasks=["overdose"])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the option under test, not the store
def test_cli_plants_the_slice(project_dir) -> None:  # noqa: ANN001
    import json

    from typer.testing import CliRunner

    from tether.cli import app

    runner = CliRunner()
    rater_truth = project_dir / "raters.jsonl"
    res = runner.invoke(app, ["sim", "campaign", "--pairs", "10", "--raters", "4", "--overlap", "2",
                              "--confident-wrong", "code_output=0.2", "--rater-truth", str(rater_truth)])
    assert res.exit_code == 0, res.output
    assert all(json.loads(line)["confident_wrong"] == {"code_output": 0.2}
               for line in rater_truth.read_text().splitlines())
    for bad, word in (("code_output", "TASK_TYPE=BIAS"), ("code_output=x", "TASK_TYPE=BIAS"), ("poetry=0.1", "poetry")):
        res = runner.invoke(app, ["sim", "campaign", "--confident-wrong", bad])
        assert res.exit_code == 2 and "--confident-wrong" in res.output and word in res.output, res.output
