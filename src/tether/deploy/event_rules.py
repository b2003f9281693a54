"""What the ingestion API accepts beyond the `Event` model (Event v2 in the README's formats): one copy of the rules.

The server (`api._ingest`), the SDK (`Client.log`, before anything is queued or spooled), the in-process
`Ingestor` and `tether import events` (a bad line is a bad line, `--skip-bad` skips it) all call
`event_problems`, so a client never learns a rule from a 422 it could have known locally.

- `event_id`, `trace_id`: 1-256 characters without NUL (as in v1), and no PII: an id in which the
  redactor finds an e-mail, phone number, card number, IBAN, SSN, IP address or secret (also when the
  id's `-_/:.|` separators are read as blanks, so `order-4111111111111111` counts) is refused with
  the field and the type named. Ids are refused, not redacted: a redacted id would differ from the
  id the client holds (its retries, `GET /v1/events?trace_id=`, its acks) and, keyed, would change
  when the key changes, so a retry after a rotation would be stored twice.
- `model`: 1-255 printable ASCII characters (space to `~`), no leading or trailing blank; then redacted.
- `model`, `name`: at most 255 characters also after redaction (a placeholder can be longer than the
  value it replaces; the column holds 255).
- no NUL anywhere (PostgreSQL text cannot hold it).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from tether.deploy.pii import AS_WRITTEN_ONLY, Redactor
from tether.deploy.pii_patterns import GATE_WORDS
from tether.records import Event

MAX_SHORT_FIELD = 255  # model and name columns are String(255)
MAX_BODY_BYTES = 5 * 1024 * 1024  # the server's default request limit (413 above it)
MAX_BATCH = 1000  # events per request
ID_FIELDS = ("event_id", "trace_id")
_MODEL = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")
_ID_SEPARATORS = str.maketrans("-_/:.|", "      ")
# find() and lengths never depend on the key: an unkeyed redactor gives the same spans and placeholder lengths
_FINDER = Redactor(b"tether-event-rules-unkeyed")
_NAMES = {"EMAIL": "an e-mail address", "PHONE": "a phone number", "CREDIT_CARD": "a payment card number",
          "IBAN": "an IBAN", "SSN": "a social security number", "IPV4": "an IP address", "IPV6": "an IP address",
          "SECRET": "a secret (password, key or token)", "URL_TOKEN": "a URL with a token or credentials"}


# ids SDKs make carry no PII, and the detectors' rare hits on random hex (an IBAN-shaped `be65-cb3e9e5ec5b6`, a
# `0696 4086 9382` "phone" in a UUID, about 1 in 8,000 UUIDs; a Luhn-valid all-digit OTLP span id) must not
# refuse them: a UUID, an OTLP trace id with its span id (random by the W3C spec), or hex segments
# (an optional `otel-` prefix) none of which is all digits (a card) or starts like an IBAN (`DE89...`), skip
# the detectors. No detector can find a real value in that shape: each needs a digit-only group, a non-hex
# letter, a separator other than `-`, or two letters and two digits at a segment's start.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                   r"|(?:otel-)?[0-9a-fA-F]{32}(?:-[0-9a-fA-F]{16})?")  # and W3C trace / span ids (OTLP)
_HEX_SEGMENTS = re.compile(r"(?:otel-)?[0-9a-fA-F]{8,64}(?:-[0-9a-fA-F]{8,64}){0,3}")
_DIGITS_OR_IBAN_SEGMENT = re.compile(r"(?:^|-)(?:[0-9]+(?:-|$)|[A-Fa-f]{2}[0-9]{2})")


def _opaque(value: str) -> bool:
    if _UUID.fullmatch(value):
        return True
    return _HEX_SEGMENTS.fullmatch(value) is not None and _DIGITS_OR_IBAN_SEGMENT.search(value) is None


# what only the id as written can show (an e-mail's dots, an IP, a URL, a prefixed token): else one pass suffices
_NEEDS_AS_WRITTEN = re.compile(r"[@=:%\[({<./+]|" + "|".join(map(re.escape, GATE_WORDS)), re.I)
_AS_WRITTEN_CHARS = re.compile(r"[@=:%\[({<./+]")


def _needs_as_written(value: str) -> bool:
    """`_NEEDS_AS_WRITTEN.search(value)`, 8x faster on ASCII ids: a case-insensitive alternation is a slow
    regex, and lower-casing ASCII is exactly what `re.I` does to it (other text keeps the regex)."""
    if not value.isascii():
        return _NEEDS_AS_WRITTEN.search(value) is not None
    if _AS_WRITTEN_CHARS.search(value) is not None:
        return True
    low = value.lower()
    return any(w in low for w in GATE_WORDS)


def id_pii(value: str) -> str | None:
    """The PII type found in an id, or None when the id is safe to store as it is.

    The detectors read the id with its `-_/:.|` joiners as blanks (so `order-4111111111111111` is a card) and,
    when it holds a character or word that only the written form shows, as written too."""
    return ids_pii([value])[value]


def ids_pii(values: Iterable[str]) -> dict[str, str | None]:
    """`id_pii` of many ids at once: the joiners-as-blanks pass reads them all in one text, one per line (no
    detector matches across a line break), so its cost per id is the regex scan, not the per-text setup."""
    out: dict[str, str | None] = {}
    todo = []
    for v in values:
        if v in out:
            continue
        out[v] = None
        if not _opaque(v):
            todo.append(v)
    one_line = [v for v in todo if v.isprintable()]  # no line break of its own
    starts, pos = [], 0
    for v in one_line:
        starts.append(pos)
        pos += len(v) + 1
    # secrets and URL tokens only as written (`AS_WRITTEN_ONLY`): with its joiners as blanks a path reads as one
    for f in _FINDER.find("\n".join(v.translate(_ID_SEPARATORS) for v in one_line)) if one_line else ():
        if f.type in AS_WRITTEN_ONLY:
            continue
        v = one_line[bisect.bisect_right(starts, f.start) - 1]
        out[v] = out[v] or f.type
    for v in todo:
        if out[v] is None and not v.isprintable():
            found = [f for f in _FINDER.find(v.translate(_ID_SEPARATORS)) if f.type not in AS_WRITTEN_ONLY]
            out[v] = found[0].type if found else None
        if out[v] is None and _needs_as_written(v):
            found = _FINDER.find(v)
            out[v] = found[0].type if found else None
    return out


@functools.lru_cache(maxsize=4096)
def _short_field_problems(key: str, value: str) -> tuple[str, ...]:
    """Problems of a model or name (cached: a few distinct values recur in every batch)."""
    problems = []
    if key == "model" and not _MODEL.fullmatch(value):
        problems.append(f"model: must be 1-{MAX_SHORT_FIELD} printable ASCII characters without leading or "
                        "trailing blanks")
    if len(value) > MAX_SHORT_FIELD or len(_FINDER.redact_short(value)) > MAX_SHORT_FIELD:
        problems.append(f"{key}: longer than {MAX_SHORT_FIELD} characters"
                        + ("" if len(value) > MAX_SHORT_FIELD else " once PII in it is replaced by placeholders"))
    return tuple(problems)


def event_problems(event: Event, ids: Mapping[str, str | None] | None = None) -> list[str]:
    """Everything the server would refuse in this (model-valid) event, each as 'field: why'; `ids`: the
    `ids_pii` of a batch's ids, computed once for the batch."""
    problems = []
    for key in ID_FIELDS:
        value = getattr(event, key)
        kind = ids[value] if ids is not None else id_pii(value)
        if kind is not None:
            problems.append(f"{key}: looks like {_NAMES.get(kind, kind)}; ids must not carry personal data "
                            "(use an opaque id such as a UUID)")
    for key in ("model", "name"):
        v = getattr(event, key)
        if v is not None:
            problems.extend(_short_field_problems(key, v))
    # PostgreSQL text cannot hold NUL; the model refuses it in top-level strings, this looks inside the metadata
    if (event.attributes or event.model_extra) and b"\\u0000" in orjson.dumps([event.attributes, event.model_extra]):
        problems.append("contains a NUL character (\\u0000), which the store cannot hold")
    return problems


def check_event(event: Event) -> Event:
    """The event, or ValueError naming every problem (`event_problems`)."""
    problems = event_problems(event)
    if problems:
        raise ValueError("event refused: " + "; ".join(problems))  # the values are not echoed: they may be PII
    return event


def problems_as_detail(events: list[Event]) -> list[dict[str, Any]]:
    """The 422 detail for a batch: one entry per problem, located by index and field."""
    out = []
    ids = ids_pii(getattr(e, key) for e in events for key in ID_FIELDS)
    for i, e in enumerate(events):
        for p in event_problems(e, ids):
            field = p.split(":", 1)[0]
            loc = ["events", i, field] if field in ("event_id", "trace_id", "model", "name") else ["events", i]
            out.append({"loc": loc, "msg": p})
    return out
