"""The end-to-end scoring of `benchmarks/pii_fields.py`: findings read back from what a pipeline stored."""

from __future__ import annotations

from tether.deploy.pii import Redactor
from tether.deploy.pii_eval import Tally, findings_in_stored
from tether.deploy.spool import disk_form

SECRET = "pii-eval-test-secret-0123456789"


def test_findings_read_back_from_a_redacted_text_are_the_redactors_findings() -> None:
    r = Redactor(SECRET)
    text = "mail a.b@example.org or 4111 1111 1111 1111, then a.b@example.org again; ip 10.0.0.1 ."
    stored = r.redact(text)
    assert findings_in_stored(text, stored, r) == r.find(text)


def test_a_repeated_literal_is_resolved_by_the_keyed_pseudonym() -> None:
    r = Redactor(SECRET)
    # the literal after the first placeholder (" ") also occurs inside the phone number: only the pseudonym tells
    text = "call 415 555 0132 zoe@example.org now"
    stored = r.redact(text)
    assert [(f.type, f.value) for f in findings_in_stored(text, stored, r)] == [
        ("PHONE", "415 555 0132"), ("EMAIL", "zoe@example.org")]
    assert findings_in_stored(text, stored)[0].value == "415"  # without the key: the shortest reading


def test_unkeyed_placeholders_of_the_sdk_spool_are_read_back() -> None:
    text = "card 4111111111111111 and mail zoe@example.org"
    stored = disk_form({"event_id": "e", "type": "generation", "trace_id": "t", "timestamp": "2026-11-27T03:00:00Z",
                        "model": "m", "prompt": text, "response": "a"})["prompt"]
    found = findings_in_stored(text, stored)
    assert [(f.type, f.value) for f in found] == [("CREDIT_CARD", "4111111111111111"), ("EMAIL", "zoe@example.org")]


def test_a_stored_text_that_is_not_the_sent_one_with_placeholders_is_none() -> None:
    r = Redactor(SECRET)
    assert findings_in_stored("abc", "abd", r) is None
    assert findings_in_stored("mail a@b.org", "mail <EMAIL_k1_" + "0" * 24 + "> extra", r) is None
    assert findings_in_stored("same", "same", r) == []


def test_tally_scores_recall_precision_and_removal_per_type() -> None:
    r = Redactor(SECRET)
    text = "mail zoe@example.org, card 4111 1111 1111 1111"
    spans = [{"type": "EMAIL", "start": 5, "end": 20, "value": "zoe@example.org"},
             {"type": "PHONE", "start": 27, "end": 46, "value": "4111 1111 1111 1111"}]  # mislabelled on purpose
    t = Tally()
    t.add(spans, findings_in_stored(text, r.redact(text), r))
    res = t.result()
    assert res["EMAIL"]["recall"] == res["EMAIL"]["precision"] == 1.0
    assert res["PHONE"]["recall"] == 0.0 and res["PHONE"]["removed"] == 1.0  # removed as a card, not a phone
    assert res["CREDIT_CARD"]["precision"] == 0.0 and res["CREDIT_CARD"]["predicted"] == 1
