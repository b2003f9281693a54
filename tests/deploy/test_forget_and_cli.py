"""Deletion requests and the keys/deploy CLI on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app
from tether.config import find_project
from tether.deploy.feedback import corrections_to_pairs
from tether.deploy.ingest import Ingestor
from tether.deploy.keys import authenticate
from tether.outcomes.pairs import outcome_pairs
from tether.outcomes.scored import ScoredResponse
from tether.records import Event, Outcome

runner = CliRunner()
T = datetime(2026, 5, 1, tzinfo=UTC)


def _traffic(user: str, trace: str) -> list[Event]:
    attrs = {"enduser.id": user}
    return [
        Event(event_id=f"{trace}-g", type="generation", trace_id=trace, timestamp=T, model="m", prompt="2+2?",
              response=f"5, says {trace}", attributes=attrs),
        Event(event_id=f"{trace}-f", type="feedback", trace_id=trace, timestamp=T, name="thumbs", value=-1,
              attributes=attrs),
        Event(event_id=f"{trace}-c", type="correction", trace_id=trace, timestamp=T, corrected_response="4",
              attributes=attrs),
    ]


def test_keys_cli_create_list_revoke(project_dir: Path) -> None:
    r = runner.invoke(app, ["keys", "create", "--name", "ci"])
    assert r.exit_code == 0, r.output
    key = r.stdout.splitlines()[0]
    store = find_project().store()
    try:
        info = authenticate(store, key)
        assert info is not None and info.project == find_project().name == "proj"  # the project's tenant
        listed = runner.invoke(app, ["keys", "list"])
        assert info.prefix in listed.output and "active" in listed.output and key not in listed.output
        assert runner.invoke(app, ["keys", "revoke", info.prefix]).exit_code == 0
        assert authenticate(store, key) is None
        again = runner.invoke(app, ["keys", "revoke", info.prefix])
        assert again.exit_code == 2 and "no active key" in again.output
    finally:
        store.close()


def test_forget_user_removes_events_outcomes_and_derived_pairs(project_dir: Path) -> None:
    store = find_project().store()
    name = find_project().name  # the tenant commands read by default
    try:
        ing = Ingestor(store)
        # the user id is an email: stored redacted, and still found by `forget --user` with the raw id
        ing.ingest(_traffic("ann@example.com", "t-ann") + _traffic("bob", "t-bob"), name)
        ing.ingest(_traffic("ann@example.com", "t-other-project"), "other")
        store.add_pairs(corrections_to_pairs(store.iter_events(project=name)), set_name="production")
        # outcomes from outside the event stream (the code sandbox), joined by trace
        store.add_outcomes([Outcome(outcome_id=f"sandbox-{t}", name="tests_passed", value=1, source="sandbox",
                                    trace_id=t) for t in ("t-ann", "t-bob")], project=name)
        r = runner.invoke(app, ["deploy", "forget", "--user", "ann@example.com"])
        assert r.exit_code == 0, r.output
        assert "deleted 3 events, 1 outcomes and 1 preference pairs from 1 traces" in r.output
        left = {e.trace_id for e in store.iter_events(project=name)}
        assert left == {"t-bob"}
        assert [p.provenance["trace_id"] for p in store.iter_pairs(set_name="production")] == ["t-bob"]
        assert [o.trace_id for o in store.outcomes(project=name)] == ["t-bob"]
        assert len(list(store.iter_events(project="other"))) == 3  # another project is untouched
        r = runner.invoke(app, ["deploy", "forget", "--trace", "t-bob"])
        assert "deleted 3 events" in r.output and list(store.iter_events(project=name)) == []
        assert runner.invoke(app, ["deploy", "forget"]).exit_code == 2
    finally:
        store.close()


def test_redact_cli_uses_the_project_secret(project_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("mail ann@example.com", encoding="utf-8")
    a = runner.invoke(app, ["deploy", "redact", str(f)])
    b = runner.invoke(app, ["deploy", "redact", str(f)])
    assert a.exit_code == 0 and a.stdout == b.stdout and a.stdout.startswith("mail <EMAIL_")


def test_feedback_and_pairs_cli(project_dir: Path) -> None:
    store = find_project().store()
    try:
        Ingestor(store).ingest(_traffic("u1", "t1") + _traffic("u2", "t2"), find_project().name)
    finally:
        store.close()
    r = runner.invoke(app, ["deploy", "feedback", "--json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert (row["key"], row["generations"], row["thumbs_down"], row["corrections"]) == ("m", 2, 2, 2)
    r = runner.invoke(app, ["deploy", "pairs", "--set", "fb"])
    assert "2 new pairs in set 'fb'" in r.output
    assert "0 new pairs" in runner.invoke(app, ["deploy", "pairs", "--set", "fb"]).output
    assert runner.invoke(app, ["deploy", "feedback", "--by", "week"]).exit_code == 2


def test_imported_events_and_api_events_share_the_default_project(project_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    f.write_text("".join(e.model_dump_json() + "\n" for e in _traffic("u9", "t9")), encoding="utf-8")
    assert runner.invoke(app, ["import", "events", str(f)]).exit_code == 0
    (row,) = json.loads(runner.invoke(app, ["deploy", "feedback", "--json"]).stdout)
    assert row["generations"] == 1 and row["thumbs_down"] == 1


def test_forget_user_finds_a_user_id_sent_at_the_top_level(project_dir: Path) -> None:
    """`user_id` at the event's top level is stored and echoed back; forget --user searched attributes only."""
    with find_project().store() as store:
        Ingestor(store).ingest([Event(event_id="g1", type="generation", trace_id="t1", timestamp=T, model="m",
                                      prompt="hi", response="hello", user_id="u-123"),
                                Event(event_id="g2", type="generation", trace_id="t2", timestamp=T, model="m",
                                      prompt="hi", response="hello", user_id="u-456")], find_project().name)
    r = runner.invoke(app, ["deploy", "forget", "--user", "u-123"])
    assert r.exit_code == 0, r.output
    with find_project().store() as store:
        assert [e.trace_id for e in store.iter_events()] == ["t2"]


def test_forget_reaches_pairs_built_from_outcomes(project_dir: Path) -> None:
    """Outcome pairs name the traces of both sides; forgetting either side's trace deletes the pair."""
    store = find_project().store()
    try:
        rows = [ScoredResponse(line=i, prompt="2+2?", response=r, score=None, value=v, group="2+2?", keys=(),
                               trace_id=t)
                for i, (r, v, t) in enumerate([("4", 1.0, "t-pass"), ("5", 0.0, "t-fail"), ("four", 1.0, "t-keep")])]
        pairs = outcome_pairs(rows)
        assert {p.provenance["rejected_trace_id"] for p in pairs} == {"t-fail"}
        store.add_pairs(pairs, set_name="outcome")
        r = runner.invoke(app, ["deploy", "forget", "--trace", "t-pass"])
        assert r.exit_code == 0, r.output
        left = list(store.iter_pairs(set_name="outcome"))
        assert [p.provenance["chosen_trace_id"] for p in left] == ["t-keep"]
        runner.invoke(app, ["deploy", "forget", "--trace", "t-fail"])
        assert list(store.iter_pairs(set_name="outcome")) == []
    finally:
        store.close()
