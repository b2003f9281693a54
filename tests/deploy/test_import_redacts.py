"""Events imported from a file are redacted before storage, like events sent over HTTP."""

import json
from pathlib import Path

import pytest

from tether.deploy.ingest import import_redactor
from tether.io import export_file, import_file
from tether.store import Store


def test_imported_events_are_stored_redacted(store: Store, tmp_path: Path):
    src = tmp_path / "events.jsonl"
    src.write_text(json.dumps({
        "event_id": "e1", "type": "generation", "trace_id": "t1", "timestamp": "2026-01-01T00:00:00Z",
        "model": "m1", "prompt": "Mail me at jane.doe@example.com or call +1 415 555 0132",
        "response": "Sure, jane.doe@example.com",
    }) + "\n")
    with pytest.raises(ValueError, match="transform_event"):  # no events in without a redactor
        import_file(store, "events", src)
    assert import_file(store, "events", src, transform_event=import_redactor(store)).stored == 1
    (event,) = list(store.iter_events())
    assert "jane.doe@example.com" not in event.prompt + event.response
    assert "555 0132" not in event.prompt
    # the same value maps to the same pseudonym in prompt and response
    placeholder = event.response.split("Sure, ")[1]
    assert placeholder.startswith("<EMAIL_") and placeholder in event.prompt
    out = tmp_path / "out.jsonl"
    export_file(store, "events", out)
    assert "jane.doe@example.com" not in out.read_text()
