"""Graders for exact-answer tasks: is a response's final number the reference answer?

GSM8K writes its reference as a worked solution ending in ``#### 18``; model answers end in ``#### 18``,
``The answer is $18.``, ``A: 18`` or just a last number. The final answer is, in that order of trust: the
text after the last ``####``, after the last "answer is" / "answer:" / "A:", else the last number in the
text. Numbers are compared as values: ``1,000``, ``$1000.00`` and ``1000`` are equal, ``50%`` is 50,
``3/4`` and ``0.75`` are equal, within a relative and an absolute tolerance. Calculator annotations
(``<<9*2=18>>``) are dropped first: they are working, not answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Grade", "extract_answer", "grade_numeric", "numbers_equal", "parse_number"]

_CALC = re.compile(r"<<[^<>]*>>")
# a number: optional sign, digits with thousands commas or plain, optional decimals; or a bare decimal;
# then an optional fraction denominator; a mixed number "1 1/2" is matched by its own pattern first
_NUM = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+"
_MIXED = re.compile(r"(?<![\w.])(-?\d+)\s+(\d+)\s*/\s*(\d+)(?![\w/])")
_NUMBER = re.compile(rf"(?<![\w.])(?:{_NUM})(?:\s*/\s*(?:\d+(?:\.\d+)?))?(?![\d])")
_MARKERS = (
    re.compile(r"####\s*(.*)", re.S),
    re.compile(r"answer\s+is\s*:?\s*(.*)", re.S | re.I),
    re.compile(r"answer\s*:\s*(.*)", re.S | re.I),
    re.compile(r"(?:^|\n)\s*A\s*:\s*(.*)", re.S),
)
_CURRENCY = "$€£¥₹"


def parse_number(text: str) -> float | None:
    """The value of one number as written (``"1,234.5"``, ``"$18"``, ``"-3/4"``, ``"50%"``, ``"1 1/2"``), or None
    when `text` holds no number. Percent signs are dropped (``50%`` is 50), as GSM8K references write percents."""
    t = text.strip().rstrip(".").strip()
    t = t.strip(_CURRENCY).replace("%", "").strip()
    for sym in _CURRENCY:
        t = t.replace(sym, "")
    mixed = _MIXED.fullmatch(t)
    if mixed:
        whole, num, den = (int(g) for g in mixed.groups())
        if den == 0:
            return None
        frac = Fraction(num, den)
        return float(whole - frac if whole < 0 or t.startswith("-") else whole + frac)
    if "/" in t:
        num_text, _, den_text = t.partition("/")
        num, den = _plain(num_text), _plain(den_text)
        if num is None or den is None or den == 0:
            return None
        return num / den
    return _plain(t)


def _plain(text: str) -> float | None:
    t = text.strip().replace(",", "")
    try:
        value = float(t)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _last_number(text: str) -> str | None:
    spans = [(m.start(), m.end(), m.group(0)) for m in _MIXED.finditer(text)]
    spans += [(m.start(), m.end(), m.group(0)) for m in _NUMBER.finditer(text)
              if not any(s <= m.start() < e for s, e, _ in spans)]
    return max(spans)[2] if spans else None


def extract_answer(text: str) -> str | None:
    """The final answer's text (a number as written), or None when the text has no number."""
    body = _CALC.sub("", text)
    for marker in _MARKERS:
        found = list(marker.finditer(body))
        if found:
            tail = found[-1].group(1)
            first = _first_number(tail)
            if first is not None:
                return first
    return _last_number(body)


def _first_number(text: str) -> str | None:
    """The first number after an answer marker (``#### 1,200 dollars`` -> ``1,200``)."""
    spans = [(m.start(), m.group(0)) for m in _MIXED.finditer(text)]
    spans += [(m.start(), m.group(0)) for m in _NUMBER.finditer(text)]
    return min(spans)[1] if spans else None


def numbers_equal(a: float, b: float, *, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    """Equal within `rel_tol` of the larger magnitude or `abs_tol` (0.75 == 3/4; 0.33 != 1/3 by default)."""
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


@dataclass(frozen=True)
class Grade:
    """One graded response: its extracted answer, the reference's, and whether they are equal."""

    passed: bool
    answer: str | None
    reference: str | None
    reason: str

    @property
    def value(self) -> float:
        return 1.0 if self.passed else 0.0


def grade_numeric(response: str, reference: str | float, *, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> Grade:
    """Grade a response against a reference: a number, or a GSM8K-style solution whose final answer is read the
    same way as the response's. A reference without a number is a ValueError (bad data, not a wrong answer)."""
    if isinstance(reference, bool):
        raise ValueError("the reference answer must be a number or text, not a boolean")
    if isinstance(reference, int | float):
        ref_text, ref_value = repr(reference), float(reference)
    else:
        ref_text = extract_answer(reference)
        ref_value = parse_number(ref_text) if ref_text is not None else None
        if ref_value is None:
            raise ValueError(f"the reference answer has no number: {reference[-80:]!r}")
    answer = extract_answer(response)
    if answer is None:
        return Grade(False, None, ref_text, "no number in the response")
    value = parse_number(answer)
    if value is None:
        return Grade(False, answer, ref_text, f"cannot read {answer!r} as a number")
    if numbers_equal(value, ref_value, rel_tol=rel_tol, abs_tol=abs_tol):
        return Grade(True, answer, ref_text, "equal")
    return Grade(False, answer, ref_text, f"{answer} != {ref_text}")
