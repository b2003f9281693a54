"""PII redaction for production text: structured identifiers -> consistent keyed pseudonyms.

Each detector is a regular expression plus, where the identifier carries one, its checksum
(Luhn for cards, mod-97 for IBANs, SSA rules for SSNs), so a random 16-digit number is not
called a card. A found value becomes `<TYPE_xxxxxx>` where `xxxxxx` is an HMAC of the
normalized value under the project secret: the same email maps to the same placeholder in
every trace, queue and dataset, and nobody without the secret can reverse or test a guess.

Names and street addresses are not detected: every PyPI detector for them (presidio, spaCy,
flair, GLiNER) downloads a model at run time, which Tether does not do.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tether.records import Event

__all__ = ["PII_TYPES", "Finding", "Redactor", "luhn_ok", "iban_ok", "ssn_ok"]

PII_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "IPV4", "IPV6", "SECRET", "URL_TOKEN")


@dataclass(frozen=True)
class Finding:
    """One detected identifier: its type and character span in the original text."""

    type: str
    start: int
    end: int
    value: str


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string (payment card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
    "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25,
    "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26, "UA": 29,
}


def iban_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check (and the country's length where known)."""
    s = re.sub(r"[\s-]", "", iban).upper()
    if len(s) < 15 or len(s) > 34 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    if s[:2] in _IBAN_LENGTHS and len(s) != _IBAN_LENGTHS[s[:2]]:
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def ssn_ok(ssn: str) -> bool:
    """US SSN issuance rules: area not 000/666/9xx, group not 00, serial not 0000."""
    d = re.sub(r"\D", "", ssn)
    if len(d) != 9:
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# -- detectors: (type, compiled pattern, group to redact, validator or None, normalizer) -----------

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}(?![\w])")
# 13-19 digits, plain or in card groups (4-4-4-4, 4-6-5 for Amex): an ISBN's 3-1-2-6-1 is not a card
_CARD = re.compile(
    r"(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-]|[ -]\d)"
)
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_SSN = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])|(?<=SSN[: ])\s*\d{9}(?!\d)")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(r"(?<![\w.])(?<!version )(?<!Version )(?:" + _OCTET + r"\.){3}" + _OCTET + r"(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])")
_PHONE = re.compile(
    r"(?<![\w+/=.-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(0?\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # international, +CC ...
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"  # US (415) 555-0132
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # US 415-555-0132 / 415.555.0132
    r"|0\d{1,4}(?:[ .-]\d{2,8}){1,4}"  # EU national: 030 901820 44, 06 12 34 56 78, 020 7946 0958
    r")(?![\w]|[.-]?\d)"
)
_SECRET_PREFIXED = re.compile(
    r"(?<![\w-])(?:"
    r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic / Stripe-like
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"  # AWS access key id
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r")"
)
_BEARER = re.compile(r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/=-]{16,})")
_KEY_VALUE = re.compile(
    r"(?i)\b[\w.-]*(?:secret|passw(?:or)?d|pwd|api[_-]?key|apikey|access[_-]?key|token|auth|credential|private[_-]?key)"
    r"[\w.-]*\s*[:=]\s*[\"']?([^\s\"',;&]{8,})"
)
_URL_TOKEN = re.compile(
    r"(?i)[?&](?:token|access_token|id_token|auth|key|api_key|apikey|sig|signature|secret|code|session|sid|"
    r"password|x-amz-signature|x-amz-credential)=([^&\s#\"'<>]{4,})"
)


def _card_ok(v: str) -> bool:
    d = _digits(v)
    return 13 <= len(d) <= 19 and luhn_ok(d) and d[0] in "2345689" and len(set(d)) > 1


def _ipv4_ok(v: str) -> bool:
    return not v.startswith(("0.", "255.")) and v.count(".") == 3


def _ipv6_ok(v: str) -> bool:
    if v.count(":") < 2 or len(v) < 6:
        return False
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        return False
    return True


def _phone_ok(v: str) -> bool:
    n = len(_digits(v))
    return 9 <= n <= 15 if not v.startswith("+") else 8 <= n <= 15


def _high_entropy(v: str) -> bool:
    # a value after `password=` is a secret whatever it looks like; after a vaguer key we ask for randomness
    return len(v) >= 8 and v.lower() not in {"password", "changeme", "redacted", "none", "null", "true", "false"} \
        and not v.startswith("<")


@dataclass(frozen=True)
class _Detector:
    type: str
    pattern: re.Pattern[str]
    group: int
    valid: Callable[[str], bool] | None
    normalize: Callable[[str], str]
    needs: Callable[[str], bool] = lambda _text: True  # cheap pre-check: can this text contain a match at all?


_HAS_DIGIT = re.compile(r"\d")


def _has_digit(text: str) -> bool:
    return _HAS_DIGIT.search(text) is not None


_DETECTORS: tuple[_Detector, ...] = (
    # order is priority: an earlier type wins an overlap (a URL token before the email inside it, ...)
    _Detector("URL_TOKEN", _URL_TOKEN, 1, None, str, lambda t: "=" in t),
    _Detector("SECRET", _SECRET_PREFIXED, 0, None, str),
    _Detector("SECRET", _BEARER, 1, lambda v: _entropy(v) >= 3.0, str),
    _Detector("SECRET", _KEY_VALUE, 1, _high_entropy, str, lambda t: "=" in t or ":" in t),
    _Detector("EMAIL", _EMAIL, 0, None, str.lower, lambda t: "@" in t),
    _Detector("IBAN", _IBAN, 0, iban_ok, lambda v: re.sub(r"\s", "", v).upper(), _has_digit),
    _Detector("CREDIT_CARD", _CARD, 0, _card_ok, _digits, _has_digit),
    _Detector("SSN", _SSN, 0, ssn_ok, _digits, _has_digit),
    _Detector("IPV6", _IPV6, 0, _ipv6_ok, lambda v: ipaddress.IPv6Address(v).compressed, lambda t: ":" in t),
    _Detector("IPV4", _IPV4, 0, _ipv4_ok, str, lambda t: "." in t and _has_digit(t)),
    _Detector("PHONE", _PHONE, 0, _phone_ok, _digits, _has_digit),
)

_PLACEHOLDER = re.compile(r"<(?:" + "|".join(PII_TYPES) + r")_[0-9a-f]{6}>")


class Redactor:
    """Finds structured PII and replaces it with `<TYPE_hmac6>` placeholders keyed by a project secret."""

    def __init__(self, secret: bytes | str, types: Iterable[str] = PII_TYPES, digest_chars: int = 6) -> None:
        self.secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(self.secret) < 16:
            raise ValueError("the PII secret must be at least 16 bytes (see `tether deploy secret`)")
        self.types = frozenset(types)
        unknown = self.types - set(PII_TYPES)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {', '.join(PII_TYPES)}")
        self.digest_chars = digest_chars
        self._detectors = [d for d in _DETECTORS if d.type in self.types]

    def pseudonym(self, type_: str, value: str) -> str:
        """The placeholder for a value: same value and secret, same placeholder, everywhere."""
        norm = next((d.normalize for d in self._detectors if d.type == type_), str)(value)
        mac = hmac.new(self.secret, f"{type_}\x1f{norm}".encode(), hashlib.sha256).hexdigest()
        return f"<{type_}_{mac[: self.digest_chars]}>"

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in text order (higher-priority types win overlaps)."""
        taken: list[tuple[int, int]] = []
        found: list[Finding] = []
        for det in self._detectors:
            if not det.needs(text):
                continue
            for m in det.pattern.finditer(text):
                start, end = m.span(det.group)
                value = m.group(det.group)
                if start < 0 or (det.valid is not None and not det.valid(value)):
                    continue
                if _PLACEHOLDER.fullmatch(value) or any(s < end and start < e for s, e in taken):
                    continue
                taken.append((start, end))
                found.append(Finding(det.type, start, end, value))
        found.sort(key=lambda f: f.start)
        return found

    def redact(self, text: str) -> str:
        """The text with every finding replaced by its pseudonym."""
        findings = self.find(text)
        if not findings:
            return text
        parts: list[str] = []
        pos = 0
        for f in findings:
            parts.append(text[pos : f.start])
            parts.append(self.pseudonym(f.type, f.value))
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def redact_value(self, value: Any) -> Any:
        """Redact strings inside JSON-like values (attributes), leaving the structure as is."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        return value

    def redact_event(self, event: Event) -> Event:
        """The event with its texts, string value and attributes redacted (ids are kept)."""
        update: dict[str, Any] = {}
        for key in ("prompt", "response", "corrected_response"):
            text = getattr(event, key)
            if text is not None:
                update[key] = self.redact(text)
        if isinstance(event.value, str):
            update["value"] = self.redact(event.value)
        if event.attributes:
            update["attributes"] = self.redact_value(event.attributes)
        for key, val in (event.model_extra or {}).items():
            update[key] = self.redact_value(val)
        return event.model_copy(update=update)
