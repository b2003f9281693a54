"""PII redaction: recall/precision on the committed labelled set, checksums, keyed pseudonyms."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tether.deploy.pii import Redactor, iban_ok, luhn_ok, ssn_ok
from tether.deploy.pii_eval import evaluate
from tether.records import Event

PII_SET = Path(__file__).parents[1] / "data" / "pii" / "pii_set.jsonl"
SECRET = b"test-secret-0123456789abcdef"


def test_labelled_set_is_reproducible_from_its_seed() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pii_set", PII_SET.with_name("make_pii_set.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    rows = [json.loads(line) for line in PII_SET.read_text(encoding="utf-8").splitlines()]
    assert rows == mod.build()
    for row in rows:  # spans point at the planted value
        for s in row["spans"]:
            assert row["text"][s["start"] : s["end"]] == s["value"]


def test_recall_on_structured_types_is_at_least_99_percent() -> None:
    res = evaluate(Redactor(SECRET), PII_SET)
    misses = res.pop("_misses")
    assert set(res) >= {"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IPV4", "IPV6", "SECRET", "URL_TOKEN"}
    for t, v in res.items():
        assert v["gold"] >= 100, t
        assert v["recall"] >= 0.99, (t, v, misses.get(t, [])[:5])
        assert v["precision"] >= 0.95, (t, v)


def test_redacted_text_no_longer_contains_any_planted_value() -> None:
    r = Redactor(SECRET)
    for line in PII_SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        red = r.redact(row["text"])
        for s in row["spans"]:
            assert s["value"] not in red, (s, red)
        if not row["spans"]:
            assert red == row["text"]  # decoys come through untouched


def test_pseudonyms_are_consistent_keyed_and_normalized() -> None:
    a, b = Redactor(SECRET), Redactor(b"another-secret-0123456789")
    t1 = a.redact("mail Anna.Meyer@Example.org now")
    t2 = a.redact("again: anna.meyer@example.org")
    p1 = re.search(r"<EMAIL_k1_[0-9a-f]{24}>", t1).group(0)
    assert p1 in t2  # same person, same placeholder across traces (case-normalized)
    assert p1 not in b.redact("anna.meyer@example.org")  # a different project secret, a different pseudonym
    assert a.redact("+1 415 555 0132") == a.redact("+1-415-555-0132")  # phones compared by digits
    assert a.redact(a.redact("card 4111 1111 1111 1111")) == a.redact("card 4111 1111 1111 1111")  # idempotent


def test_checksums_reject_lookalikes() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE89 3704 0044 0532 0130 01")
    assert iban_ok("GB82WEST12345698765432")
    assert ssn_ok("123-45-6789") and not ssn_ok("666-45-6789") and not ssn_ok("123-00-6789")
    r = Redactor(SECRET)
    assert r.find("ticket 4111111111111112 open") == []
    assert r.find("iban DE89370400440532013001 maybe") == []


@pytest.mark.parametrize(("text", "kind"), [
    ("export OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz012345", "SECRET"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "SECRET"),
    ("aws AKIAIOSFODNN7EXAMPLE key", "SECRET"),
    ("slack xoxb-123456789012-abcdefABCDEF", "SECRET"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.abcdefghijk", "SECRET"),
    ("db_password=hunter2hunter2", "SECRET"),
    ("https://x.io/a?user=1&sig=abcdef123456&lang=en", "URL_TOKEN"),
    ("server 192.168.10.20 down", "IPV4"),
    ("gw fe80::1ff:fe23:4567:890a down", "IPV6"),
    ("SSN 078-05-1120 on file", "SSN"),
])
def test_secret_and_network_examples(text: str, kind: str) -> None:
    found = Redactor(SECRET).find(text)
    assert [f.type for f in found] == [kind], found


def test_redact_event_covers_texts_value_and_attributes_but_keeps_ids() -> None:
    e = Event(event_id="e1", type="generation", trace_id="t1", timestamp=datetime(2026, 1, 1, tzinfo=UTC),
              model="m", prompt="I am bob@corp.com", response="Call 415-555-0132",
              attributes={"enduser.id": "bob@corp.com", "nested": ["ip 10.1.2.3"], "n": 3})
    red = Redactor(SECRET).redact_event(e)
    assert red.event_id == "e1" and red.trace_id == "t1" and red.model == "m"
    assert "bob@corp.com" not in red.model_dump_json()
    assert red.attributes["enduser.id"] == Redactor(SECRET).redact("bob@corp.com")
    assert red.attributes["n"] == 3 and red.attributes["nested"][0].startswith("ip <IPV4_")


def test_unknown_type_and_short_secret_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown PII types"):
        Redactor(SECRET, types=["EMAIL", "NAME"])
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Redactor(b"short")
