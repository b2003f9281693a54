"""`tether loop tick / status` from the command line: a batch written by the policy, a second tick that waits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app

runner = CliRunner()


def test_tick_opens_a_batch_with_the_policy_and_the_next_tick_waits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   tiny_policy: Path) -> None:
    from tether.config import init_project
    from tether.records import Event, EventType, Rater
    from tether.store import Store

    root = init_project(tmp_path / "shop").root
    monkeypatch.chdir(root)
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    (root / "rubric.md").write_text("Pick the answer that is correct and concise.")
    store = Store(f"sqlite:///{root / '.tether' / 'tether.db'}")
    store.upsert_raters([Rater(id="ana"), Rater(id="ben")])
    store.add_events([Event(event_id=f"e{i}", type=EventType.GENERATION, trace_id=f"t{i}", model="m1",
                            timestamp=f"2026-06-0{1 + i % 5}T10:00:00Z", prompt=f"What is {i} times {i + 3}?",
                            response=str(i * (i + 3))) for i in range(30)], project="shop")
    store.close()

    res = runner.invoke(app, ["loop", "tick", "--now", "2026-06-07T00:00:00"])
    assert res.exit_code == 2, res.output  # not configured: every missing setting named, nothing done
    assert all(w in res.output for w in ("policy is not set", "rubric None is not a file", "raters is empty"))
    args = ["loop", "tick", "--now", "2026-06-07T00:00:00", "--policy", str(tiny_policy), "--rubric", "rubric.md",
            "--raters", "ana", "--raters", "ben", "--overlap", "2", "--batch-prompts", "5"]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert first["state"] == "labelling" and first["result"]["items"] >= 1
    assert {t["name"]: t["fired"] for t in first["triggers"]}["cadence"] is True
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "waiting on batch" in res.output and "waiting" in res.output
    status = json.loads(runner.invoke(app, ["loop", "status", "--json"]).stdout)
    assert [t["state"] for t in status["ticks"]] == ["waiting", "labelling"] and status["champion"] is None
    res = runner.invoke(app, ["campaign", "status", first["campaign"], "--json"])
    assert res.exit_code == 0, res.output
