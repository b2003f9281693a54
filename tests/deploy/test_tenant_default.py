"""One notion of the events tenant: the project's name in tether.toml, unless --project says otherwise; keys are
made for it, imports write to it, every command that reads events reads it and says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tether.cli import app
from tether.config import find_project, init_project
from tether.deploy.ingest import Ingestor
from tether.deploy.keys import authenticate
from tether.records import Event

runner = CliRunner()
T = datetime(2026, 3, 1, tzinfo=UTC)


def _traffic(user: str, trace: str) -> list[Event]:
    attrs = {"user_id": user}
    return [
        Event(event_id=f"{trace}-g", type="generation", trace_id=trace, timestamp=T, model="m",
              prompt=f"2+2? ({trace})",
              response="5", attributes=attrs),
        Event(event_id=f"{trace}-f", type="feedback", trace_id=trace, timestamp=T, name="thumbs", value=-1,
              attributes=attrs),
        Event(event_id=f"{trace}-c", type="correction", trace_id=trace, timestamp=T, corrected_response="4",
              attributes=attrs),
    ]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shop-folder"
    init_project(root, name="shop")
    monkeypatch.chdir(root)
    monkeypatch.delenv("TETHER_DATABASE_URL", raising=False)
    return root


def test_keys_imports_and_readers_share_the_project_tenant(shop: Path, tmp_path: Path) -> None:
    key = runner.invoke(app, ["keys", "create"])
    assert key.exit_code == 0, key.output
    assert "key for events tenant 'shop'" in key.output
    with find_project().store() as store:
        info = authenticate(store, key.stdout.splitlines()[0])
        assert info is not None and info.project == "shop"
        Ingestor(store).ingest(_traffic("ann", "t1"), info.project)  # what POST /v1/events with that key does
    f = tmp_path / "events.jsonl"
    f.write_text("".join(e.model_dump_json() + "\n" for e in _traffic("bob", "t2")), encoding="utf-8")
    imported = runner.invoke(app, ["import", "events", str(f)])
    assert imported.exit_code == 0 and "into events tenant 'shop'" in imported.output
    feedback = runner.invoke(app, ["deploy", "feedback", "--json"])
    assert feedback.exit_code == 0, feedback.output
    (row,) = json.loads(feedback.stdout)
    assert row["generations"] == 2 and row["thumbs_down"] == 2  # the API's and the imported events, together
    assert "events tenant 'shop'" in feedback.output
    pairs = runner.invoke(app, ["deploy", "pairs", "--set", "fb"])
    assert "2 new pairs in set 'fb'" in pairs.output and "tenant 'shop'" in pairs.output
    forget = runner.invoke(app, ["deploy", "forget", "--user", "ann"])
    assert "deleted 3 events" in forget.output and "tenant 'shop'" in forget.output
    other = runner.invoke(app, ["deploy", "feedback", "--json", "--project", "default"])
    assert json.loads(other.stdout) == [] and "events tenant 'default'" in other.output
