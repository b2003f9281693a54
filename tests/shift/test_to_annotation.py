"""Sampled production prompts are opened as a campaign batch with two candidate answers each."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.collect.campaign import CampaignSettings, get_campaign
from tether.shift.sampling import Pick
from tether.shift.to_annotation import open_campaign_batch
from tether.store import Store


def _picks(texts: list[str]) -> list[Pick]:
    return [Pick(text=t, trace_id=None, score=1.0, novelty=1.0) for t in texts]


def test_picks_become_campaign_items_and_identical_answers_are_skipped(store: Store):
    prompts = ["What is the capital of Peru?", "¿Cuál es la capital de Chile?", "Say hi"]

    def candidates(ps: list[str]) -> tuple[list[str], list[str]]:
        return [f"greedy {p}" for p in ps], [f"greedy {p}" if p == "Say hi" else f"sampled {p}" for p in ps]

    batch = open_campaign_batch(store, _picks(prompts), candidates, CampaignSettings(name="prod-1"), "Pick the better")
    assert [i.prompt for i in batch.items] == prompts[:2]
    assert batch.skipped == ["Say hi"]
    assert all(i.task_type == "production" and i.pair_id.startswith("production-") for i in batch.items)
    with store.engine.connect() as conn:
        assert get_campaign(conn, "prod-1").settings.name == "prod-1"


def test_all_identical_answers_is_a_clear_error(store: Store):
    with pytest.raises(ValueError, match="no item to open"):
        open_campaign_batch(store, _picks(["a", "b"]), lambda ps: (ps, ps), CampaignSettings(name="x"), "r")


def test_cli_sample_opens_a_campaign_with_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     tiny_policy: Path):
    from tether.cli import app
    from tether.config import init_project
    from tether.sim import World

    world = World(seed=0)
    policy = tiny_policy
    init_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path / "proj")
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    annotated = [p.text for p in world.prompts(20, tasks=["capital"])]
    production = [p.text for p in world.prompts(30, tasks=["interest", "max_dose"])]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"prompt": t}) + "\n" for t in annotated))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"prompt": t}) + "\n" for t in production))
    (tmp_path / "rubric.md").write_text("Pick the answer that is correct and concise.")
    res = CliRunner().invoke(app, ["shift", "sample", "--annotation", str(tmp_path / "a.jsonl"), "--production",
                                   str(tmp_path / "p.jsonl"), "--budget", "6", "--out", str(tmp_path / "s.jsonl"),
                                   "--campaign", "prod-batch", "--policy", str(policy), "--rubric",
                                   str(tmp_path / "rubric.md")])
    assert res.exit_code == 0, res.output
    assert "opened campaign 'prod-batch'" in res.output
    status = CliRunner().invoke(app, ["campaign", "status", "prod-batch", "--json"])
    assert status.exit_code == 0, status.output
