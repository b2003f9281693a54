"""PII redaction runs in linear time on any input (hardening issue, defect 1).

Two checks, neither a wall-clock bound: (1) every detector pattern has a finite maximum match width
(no `*` / `+`), so one match attempt reads a bounded number of characters; (2) on inputs built to make
a backtracking engine go quadratic, redacting one text 16x longer costs about 16x one short text:
the ratio `time(big) / (16 * time(small))` is ~1 when linear and ~16 when quadratic; the bound is 4.
Times are this process's CPU time, so other work on the machine does not count.
"""

from __future__ import annotations

import re._parser as sre_parse
import time
from collections.abc import Callable

import pytest

from tether.deploy.pii import Redactor
from tether.deploy.pii_patterns import DETECTORS

SECRET = b"test-secret-0123456789abcdef"
SMALL, FACTOR, BOUND = 2_000, 16, 4.0


def _cycle(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


BAIT: dict[str, Callable[[int], str]] = {
    "issue: a.a.a...=": lambda n: "a." * ((n - 1) // 2) + "=",
    "key run then =": lambda n: _cycle("password" + "a" * 40 + "=", n),
    "colon key runs": lambda n: _cycle("x-token.a.b.c.d.e.f:", n),
    "digits and dashes": lambda n: _cycle("1-", n),
    "digits and spaces": lambda n: _cycle("1 ", n),
    "digits and dots": lambda n: _cycle("4.", n),
    "zeros and plus": lambda n: _cycle("0 +1 ", n),
    "a@a@a@": lambda n: _cycle("a@", n),
    "one long e-mail domain": lambda n: "x@" + _cycle("a.", n - 2),
    "percent local parts": lambda n: _cycle("a%", n - 1) + "@",
    "BEGIN private key without END": lambda n: _cycle("-----BEGIN RSA PRIVATE KEY-----\n", n),
    "BEGIN repeated": lambda n: _cycle("-----BEGIN ", n),
    "BEGIN then END far away": lambda n: "-----BEGIN PRIVATE KEY-----\n" + _cycle("ab+/", n - 60) + "\n-----END X-----",
    "spelled at/dot": lambda n: _cycle("a at b dot ", n),
    "bracketed at": lambda n: _cycle("a[at]b[dot]", n),
    "IBAN prefixes": lambda n: _cycle("de89 ", n),
    "many findings (IPs)": lambda n: _cycle("10.1.2.3 ", n),
    "many findings (cards)": lambda n: _cycle("4111 1111 1111 1111 ", n),
    "hex and colons": lambda n: _cycle("a:", n),
    "token and blanks": lambda n: _cycle("token" + " " * 30, n),
    "phone words and digits": lambda n: _cycle("phone 1 ", n),
    "ssn words and digits": lambda n: _cycle("ssn 12 ", n),
    "full-width digits, zero-width spaces": lambda n: _cycle("４１１１\u200b1111 ", n),
    "url credentials": lambda n: _cycle("ftp://a:b", n),
    "query tokens": lambda n: _cycle("?token=abcd", n),
}


def test_every_detector_pattern_has_a_bounded_match_width() -> None:
    for det in DETECTORS:
        assert det.patterns, det.type
        for pat in det.patterns:
            lo, hi = sre_parse.parse(pat.pattern, pat.flags).getwidth()
            assert hi < 8192, (det.type, pat.pattern[:60], hi)  # MAXREPEAT would mean an unbounded repeat


def _best(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("name", list(BAIT))
def test_redaction_time_grows_linearly_on_backtracking_bait(name: str) -> None:
    r = Redactor(SECRET)
    small, big = BAIT[name](SMALL), BAIT[name](SMALL * FACTOR)
    r.redact(small)  # warm caches

    def many_small() -> None:
        for _ in range(FACTOR):
            r.redact(small)

    ratio = float("inf")
    for _ in range(3):  # a busy machine can slow one measurement; quadratic stays ~16x on every try
        t_small = _best(many_small, 5)
        t_big = _best(lambda: r.redact(big), 3)
        ratio = min(ratio, t_big / t_small)
        if ratio < BOUND or ratio > 4 * BOUND:
            break
    assert ratio < BOUND, f"{name}: {FACTOR}x the input took {ratio * FACTOR:.0f}x the time"


def test_bait_is_still_redacted_where_it_holds_pii() -> None:
    r = Redactor(SECRET)
    assert r.redact("10.1.2.3 " * 3).count("<IPV4_") == 3
    out = r.redact("-----BEGIN RSA PRIVATE KEY-----\nMIIEabc+/def==\n" * 3)
    assert "MIIE" not in out and "<SECRET_" in out
    assert "<EMAIL_" in r.redact("x@" + "a." * 6 + "com")
