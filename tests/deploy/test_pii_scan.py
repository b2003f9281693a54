"""A planted PII value in every client-settable field, sent through /v1/events, OTLP, the SDK (server up and down)
and `tether import events`; then the database (every table's text), the log output, the export file and the SDK
spool are scanned for the raw values: none may be found (issue 16, defects 2 and 4)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select
from tests.deploy.test_client import FlakyTransport
from typer.testing import CliRunner

from tether.cli import app
from tether.config import find_project
from tether.deploy.api import create_app
from tether.deploy.client import Client
from tether.deploy.keys import create_key
from tether.records import Event
from tether.store import Store

EMAIL, CARD, PHONE, SSN, IBAN = "zoe.planted@example.org", "4111111111111111", "415-555-0132", "219-09-9999", \
    "DE89370400440532013000"
# as texts, and the numbers as a client sends them (a JSON number stores its digits)
PASSWORD = "Tr0ub4dor&3"
RAW = [EMAIL, CARD, "4111 1111 1111 1111", PHONE, SSN, IBAN, "4155550132", "219099999", PASSWORD]
TEXT = f"mail {EMAIL}, card 4111 1111 1111 1111, call {PHONE}, ssn {SSN}, iban {IBAN}"
NUMBERS = {"card": int(CARD), "phone": 4155550132, "ssn": 219099999}


def planted_events(tag: str) -> list[dict]:
    """Every field a client can set on /v1/events, each holding planted values."""
    attrs = {**NUMBERS, "text": TEXT, EMAIL: "key", f"nested {IBAN}": {"list": [TEXT, int(CARD)], PHONE: 1},
             "password": PASSWORD, "user": {"phone": "4155550132", "ssn": "219099999"}}
    base = {"timestamp": "2026-11-27T03:00:00Z", "attributes": attrs, f"extra {EMAIL}": TEXT, "user_id": EMAIL,
            "extra_number": int(CARD)}
    return [
        {**base, "event_id": f"{tag}-g", "type": "generation", "trace_id": f"{tag}-t", "model": f"ft:m:{EMAIL}",
         "prompt": TEXT, "response": TEXT},
        {**base, "event_id": f"{tag}-f", "type": "feedback", "trace_id": f"{tag}-t", "name": f"by {EMAIL}",
         "value": int(CARD)},
        {**base, "event_id": f"{tag}-o", "type": "outcome", "trace_id": f"{tag}-t", "name": "status", "value": TEXT},
        {**base, "event_id": f"{tag}-c", "type": "correction", "trace_id": f"{tag}-t", "corrected_response": TEXT},
    ]


def refused_ids() -> list[dict]:
    return [{**planted_events("r")[0], "event_id": v} for v in (EMAIL, CARD, PHONE, SSN, IBAN)] + \
        [{**planted_events("r")[0], "trace_id": v} for v in (EMAIL, CARD, PHONE, SSN, IBAN)]


def otlp_body() -> dict:
    def kv(k: str, v: object) -> dict:
        return {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}

    attrs = [kv("gen_ai.request.model", f"m/{EMAIL}"), kv("gen_ai.prompt", TEXT), kv("gen_ai.completion", TEXT),
             kv(EMAIL, TEXT), *(kv(k, v) for k, v in NUMBERS.items())]
    return {"resourceSpans": [{"resource": {"attributes": [kv("enduser.id", EMAIL), kv(PHONE, int(CARD))]},
                               "scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "cd" * 8, "name": TEXT,
                                                          "attributes": attrs}]}]}]}


def db_text(store: Store) -> str:
    """Every row of every table, as text."""
    meta = MetaData()
    meta.reflect(store.engine)
    with store.engine.connect() as conn:
        # str of each value (a Row's repr cuts long values short)
        return "\n".join("\t".join(map(str, row)) for t in meta.sorted_tables for row in conn.execute(select(t)))


def found(text: str) -> list[str]:
    return [v for v in RAW if v in text]


def test_no_planted_value_is_found_raw_anywhere(project_dir: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    store = find_project().store()
    tenant = find_project().name
    key = create_key(store, tenant)
    h = {"Authorization": f"Bearer {key}"}
    application = create_app(store)
    with TestClient(application) as http:
        assert http.post("/v1/events", json=planted_events("api"), headers=h).status_code == 200
        for bad in refused_ids():  # PII-shaped ids: refused, and the answer does not echo them
            r = http.post("/v1/events", json=[bad], headers=h)
            assert r.status_code == 422 and found(r.text) == [], r.text
        assert http.post("/v1/traces", json=otlp_body(), headers=h).status_code == 200
    # the SDK: once with the server up, once down (spooled), then replayed
    spool = tmp_path / "spool"
    transport = FlakyTransport(application)
    with Client("http://t", key, flush_interval=0.05, spool_dir=spool, transport=transport) as sdk:
        for e in planted_events("sdk"):
            sdk.log(Event.model_validate(e))
        assert sdk.flush(10)
    transport.down.set()
    sdk = Client("http://t", key, flush_interval=0.05, max_retries=1, backoff_base=0.01, spool_dir=spool,
                 transport=transport, write_ahead=True)
    for e in planted_events("spooled"):
        sdk.log(Event.model_validate(e))
    assert sdk.flush(10) and sdk.spooled == 4
    spool_text = "\n".join(p.read_text() for p in spool.iterdir() if p.is_file())
    sdk.close()
    transport.down.clear()
    with Client("http://t", key, spool_dir=spool, transport=transport) as again:
        assert again.replay() == 4
    # the file import
    src = tmp_path / "events.jsonl"
    src.write_text("".join(json.dumps(e) + "\n" for e in planted_events("imp")))
    assert runner.invoke(app, ["import", "events", str(src)]).exit_code == 0
    out = tmp_path / "export.jsonl"
    r = runner.invoke(app, ["export", "events", str(out)])
    assert r.exit_code == 0, r.output

    stored = list(store.iter_events(project=tenant))
    assert len(stored) == 4 * 4 + 1  # api, sdk, spooled, imported; one OTLP span
    text = db_text(store)
    assert "resource.<PHONE_" in text and text.count("<CREDIT_CARD_") > 17  # the scan reads every stored value
    assert found(text) == [], [line for line in text.splitlines() if found(line)][:1]
    assert found(out.read_text()) == [], [line for line in out.read_text().splitlines() if found(line)][:1]
    assert out.read_text().count("\n") == len(stored)
    assert found(spool_text) == [] and "<EMAIL>" in spool_text
    assert found(caplog.text) == []
    assert found(r.output) == []
    store.close()
