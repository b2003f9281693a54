"""PII redaction for production text: structured identifiers -> consistent keyed pseudonyms.

Each detector (`pii_patterns`) is a bounded regular expression plus, where the identifier carries
one, its checksum (Luhn for cards, mod-97 and the registered length for IBANs, SSA rules for SSNs),
so a random 16-digit number is not called a card; context rules catch what only context tells
("phone=4155550132", "social security number 123456789", "password: Tr0ub4dor&3"). A found value
becomes `<TYPE_KEYID_digest>` (`<EMAIL_k1_3f2a…>`, 24 hex digits: 96 bits) where the digest is an HMAC
of the normalized value under the tenant's key `KEYID` (`tether.deploy.keyring`, kept outside the
database): the same email maps to the same placeholder in every trace, queue and dataset (also when
written `anna.meyer%40example.org` or `anna dot meyer at example dot org`), and nobody without the key
can reverse or test a guess. 96 bits make a collision between two of a billion distinct values a
~6e-12 event (n^2 / 2^97), so `forget --user` never takes another user's data for theirs. Stores
written before key ids hold `<TYPE_xxxxxx>` (24 bits, no key id): they are still recognised as
placeholders, and `Redactor(secret, key_id=None, digest_chars=6)` re-makes them for lookup.

Linear time for any input: every pattern's repetitions are bounded, so redaction cost grows with
the text's length only: inputs built to make a backtracking engine go quadratic cost no more per
byte than ordinary text with PII in it, at 1 KB and at 1 MB (`benchmarks/pii_redaction.py`,
`tests/deploy/test_pii_linear.py`). Overlaps between detectors are resolved with a per-text bitmap.
Cheap per-text pre-checks (`pii_patterns.gate`, each detector's `needs`) skip detectors that cannot
match, and keyword / digit detectors only try positions where their match can begin (`Start`).

Unicode: detectors match on a folded copy of the text (NFKC, every decimal digit to ASCII, dashes
to `-`, zero-width and other format characters removed; `pii_text`), and each span is mapped back
to the ORIGINAL text, which is what gets redacted: text that holds no PII comes through unchanged,
byte for byte, and a redacted span covers whole original characters (zero-width ones inside the
value included). Pseudonyms are keyed on the folded value, so full-width and ASCII spellings of
one card number get one placeholder.

Names and street addresses are NOT detected. Measured on a labelled set of names and addresses in
chat text (tests/data/pii/names_addresses.md): no detector that installs from PyPI with its data (no
run-time download) reaches recall 0.8. Best single ones: usaddress 0.57 on addresses (every
US-formatted one, 3 of 54 continental European ones), names-dataset 0.73 on names at precision 0.16;
spaCy's small English model plus names-dataset reach 0.93 on names, but at precision 0.22, ~25 ms a
text, 2.2 GB per process and with a third party's re-upload of the spaCy model.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tether.deploy.pii_checksums import iban_ok, luhn_ok, ssn_ok
from tether.deploy.pii_patterns import DETECTORS, Detector, Probe, card_ok, context_key, gate
from tether.deploy.pii_text import Folded, fold
from tether.records import Event

__all__ = ["AS_WRITTEN_ONLY", "DIGEST_CHARS", "PII_TYPES", "Finding", "Redactor", "luhn_ok", "iban_ok", "number_pii",
           "ssn_ok"]

PII_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IPV4", "IPV6", "SECRET", "URL_TOKEN")


@dataclass(frozen=True)
class Finding:
    """One detected identifier: its type and character span in the original text."""

    type: str
    start: int
    end: int
    value: str


_NANP = re.compile(r"1?[2-9][0-9]{2}[2-9][0-9]{6}")


def number_pii(value: Any) -> tuple[str, str] | None:
    """(type, digits) when a JSON number has the shape of a card, SSN or phone number, else None.

    A number has no separators and no context, so its shape decides: 13-19 digits that pass the card
    check (Luhn, a network's first digit), 9 digits that pass the SSN rules, 10 digits (11 with a
    leading 1) that form a North American number. An integral float counts as its integer. SSNs whose
    area starts with 0 lose that digit as a number and are not caught; international numbers are not.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not value.is_integer() or abs(value) >= 1e19:
            return None
        value = int(value)
    d = str(abs(value))
    if 13 <= len(d) <= 19 and card_ok(d):
        return "CREDIT_CARD", d
    if len(d) == 9 and ssn_ok(d):
        return "SSN", d
    if len(d) in (10, 11) and _NANP.fullmatch(d):
        return "PHONE", d
    return None


_JOINERS_AS_BLANKS = str.maketrans("-_/:.|", "      ")
_HAS_JOINER = re.compile(r"[-_/:.|]")
AS_WRITTEN_ONLY = frozenset({"SECRET", "URL_TOKEN"})
DIGEST_CHARS = 24  # hex digits: 96 bits
CLEAN_CACHE_CHARS, CLEAN_CACHE_SIZE = 64, 65536  # values up to 64 characters, at most ~6 MB of them
LEGACY_DIGEST_CHARS = 6  # the id-less pseudonyms of stores written before key ids
KEY_ID = re.compile(r"[a-z][a-z0-9]{0,7}")
# a placeholder with a key id, or a legacy one: never redacted again
_PLACEHOLDER = re.compile(r"<(?:" + "|".join(PII_TYPES) + r")_(?:[a-z][a-z0-9]{0,7}_[0-9a-f]{24,64}|[0-9a-f]{6})>")


class Redactor:
    """Finds structured PII and replaces it with `<TYPE_KEYID_digest>` placeholders keyed by a tenant's key."""

    def __init__(self, secret: bytes | str, types: Iterable[str] = PII_TYPES, digest_chars: int = DIGEST_CHARS,
                 key_id: str | None = "k1") -> None:
        self.secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(self.secret) < 16:
            raise ValueError("the PII key must be at least 16 bytes (see tether.deploy.keyring)")
        if key_id is not None:
            if not KEY_ID.fullmatch(key_id):
                raise ValueError(f"key id {key_id!r}: a lowercase letter and up to 7 letters or digits")
            if not DIGEST_CHARS <= digest_chars <= 64:
                raise ValueError(f"digest_chars={digest_chars}: use {DIGEST_CHARS} to 64 hex digits (96+ bits)")
        self.key_id = key_id
        self._prefix = "" if key_id is None else f"{key_id}_"
        self.types = frozenset(types)
        unknown = self.types - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {', '.join(PII_TYPES)}")
        self.digest_chars = digest_chars
        self._detectors: list[Detector] = [d for d in DETECTORS if d.type in self.types]
        self._normalizers = {d.type: d.normalize for d in reversed(self._detectors)}
        self._short: dict[str, str] = {}  # model names, feedback names, attribute keys: a few values recur
        self._context: dict[str, bool] = {}  # attribute key -> whether it gives its value context
        # short values found to hold no PII (attribute values such as a user id, a domain, a model name recur in
        # every batch); only clean values are kept, so the cache never holds a value that redaction would change
        self._clean: set[str] = set()

    def redact_short(self, text: str) -> str:
        """Redact a name-like string (model, feedback name, attribute key), whose parts are often joined by
        `-_/:.|` (`resource.415-555-0132`, `user_4111111111111111`): a second pass reads those as blanks.
        Cached: a few such values recur in every batch."""
        if len(text) > 256:
            return self.redact(text)
        hit = self._short.get(text)
        if hit is None:
            hit = self._redact_joined(self.redact(text))
            if len(self._short) >= 4096:
                self._short.clear()
            self._short[text] = hit
        return hit

    def _redact_joined(self, text: str) -> str:
        if not _HAS_JOINER.search(text):
            return text
        # one character for one: the spans carry over. Secrets and URL tokens are read as written only: with its
        # joiners as blanks a path reads as a password (`PWD=/home/ana` -> `PWD= home ana`)
        found = [f for f in self.find(text.translate(_JOINERS_AS_BLANKS)) if f.type not in AS_WRITTEN_ONLY]
        if not found:
            return text
        parts, pos = [], 0
        for f in found:
            parts += [text[pos:f.start], self.pseudonym(f.type, text[f.start:f.end])]
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def pseudonym(self, type_: str, value: str) -> str:
        """The placeholder for a value: same value and secret, same placeholder, everywhere."""
        return self._pseudonym_folded(type_, fold(value).text)

    def _pseudonym_folded(self, type_: str, folded: str) -> str:
        norm = self._normalizers.get(type_, str)(folded)
        mac = hmac.new(self.secret, f"{type_}\x1f{norm}".encode(), hashlib.sha256).hexdigest()
        return f"<{type_}_{self._prefix}{mac[: self.digest_chars]}>"

    def _find_folded(self, text: str) -> tuple[list[tuple[str, int, int]], Folded]:
        folded = fold(text)
        t = folded.text
        taken: bytearray | None = None
        found: list[tuple[str, int, int]] = []
        # shorter than any identifier, or a short string (an attribute value) holding nothing any detector needs;
        # long texts skip the gate: it would scan them to the end for nothing
        if len(t) < 6 or (len(t) <= 512 and not gate(t)):
            return found, folded
        if "<" in t:  # an existing placeholder is never redacted again, nor a value overlapping it
            for m in _PLACEHOLDER.finditer(t):
                if taken is None:
                    taken = bytearray(len(t))
                taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
        probe = Probe(t)
        for det in self._detectors:
            if not det.needs(probe):
                continue
            for start, end in det.scan(probe):
                if taken is None:
                    taken = bytearray(len(t))
                elif taken.find(1, start, end) != -1:
                    continue
                taken[start:end] = b"\x01" * (end - start)
                found.append((det.type, start, end))
        found.sort(key=lambda f: f[1])
        return found, folded

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in text order (higher-priority types win overlaps), as original spans."""
        found, folded = self._find_folded(text)
        out = []
        for type_, s, e in found:
            os_, oe = folded.to_original(s, e)
            out.append(Finding(type_, os_, oe, text[os_:oe]))
        return out

    def redact(self, text: str) -> str:
        """The text with every finding replaced by its pseudonym."""
        if len(text) < 6 or text in self._clean:
            return text
        if len(text) <= 512 and text.isascii() and not gate(text):
            return text  # the common attribute value: nothing to fold, nothing any detector needs
        found, folded = self._find_folded(text)
        if not found:
            if len(text) <= CLEAN_CACHE_CHARS:
                if len(self._clean) >= CLEAN_CACHE_SIZE:
                    self._clean.clear()
                self._clean.add(text)
            return text
        parts: list[str] = []
        pos = 0
        for type_, s, e in found:
            os_, oe = folded.to_original(s, e)
            parts.append(text[pos:os_])
            # keyed on the original span, folded: the same pseudonym as `pseudonym(type, finding.value)`,
            # also when the span had to grow to whole original characters (a ligature, `¼`)
            parts.append(self.pseudonym(type_, text[os_:oe]))
            pos = oe
        parts.append(text[pos:])
        return "".join(parts)

    def redact_number(self, value: Any) -> Any:
        """A number shaped like a card, SSN or phone number (`number_pii`) as its placeholder; others as they are."""
        found = number_pii(value)
        return value if found is None else self.pseudonym(*found)

    def redact_value(self, value: Any) -> Any:
        """Redact strings, numbers and keys inside JSON-like values (attributes), keeping the structure."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return self._redact_items(value)
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        return self.redact_number(value)

    def _redact_items(self, items: dict[Any, Any]) -> dict[str, Any]:
        out = {}
        for k, v in items.items():
            key = str(k)
            if isinstance(v, str) and self._context_key(key):
                # the name is the context the value lacks: {"password": "hunter2"} reads as "password=hunter2";
                # then the value alone too (placeholders are kept), because `key=` can also hide what the value
                # shows by itself: a number glued to `=` is no phone unless the key names one (`otel` holds `tel`)
                red = self.redact(f"{key}={v}")
                v = self.redact(red[len(key) + 1:] if red.startswith(key + "=") else v)
            else:
                v = self.redact_value(v)
            out[self.redact_short(key)] = v
        return out

    def _context_key(self, key: str) -> bool:
        hit = self._context.get(key)
        if hit is None:
            if len(self._context) >= 4096:
                self._context.clear()
            hit = self._context[key] = context_key(key)
        return hit

    def redact_event(self, event: Event) -> Event:
        """The event with every client-set text, number and key redacted; ids are kept (`event_rules` refuses
        PII-shaped ones before this runs)."""
        update: dict[str, Any] = {}
        for key in ("prompt", "response", "corrected_response"):
            text = getattr(event, key)
            if text is not None:
                update[key] = self.redact(text)
        for key in ("model", "name"):
            text = getattr(event, key)
            if text is not None:
                update[key] = self.redact_short(text)
        if event.value is not None:
            update["value"] = self.redact(event.value) if isinstance(event.value, str) else \
                self.redact_number(event.value)
        if event.attributes:
            update["attributes"] = self.redact_value(event.attributes)
        extras = event.model_extra or {}
        if extras:
            # an unknown top-level key is stored as metadata: its name is client text too
            clean = self._redact_items(extras)
            data = event.model_dump(exclude=set(extras))
            data.update(update)
            data.update(clean)
            return Event.model_validate(data)
        changed = {k: v for k, v in update.items() if v != getattr(event, k)}
        return event.model_copy(update=changed) if changed else event  # most events hold no PII: no copy
