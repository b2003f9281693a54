"""Match candidate raters to a written target profile: a score in [0, 1] and the reason for it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tether.raters.profile import AttributeSpec, TargetProfile
from tether.records import Rater


@dataclass(frozen=True)
class AttributeScore:
    """How one candidate meets one profile attribute."""

    key: str
    score: float
    weight: float
    required: bool
    reason: str


@dataclass(frozen=True)
class Match:
    """A candidate's overall score (weighted mean of attribute scores) and eligibility."""

    rater: Rater
    score: float
    eligible: bool
    parts: list[AttributeScore] = field(default_factory=list)

    @property
    def reason(self) -> str:
        """One line: every attribute's contribution, failures of required ones first."""
        parts = sorted(self.parts, key=lambda p: (not (p.required and p.score < 1.0), -p.weight))
        return "; ".join(f"{p.reason} [{p.score:.2f} x{p.weight:g}{' required' if p.required else ''}]"
                         for p in parts)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [str(v).lower() for v in (value if isinstance(value, list) else [value])]


def _level(spec: AttributeSpec, value: Any) -> int | None:
    scale = [s.lower() for s in spec.scale or []]
    return scale.index(str(value).lower()) if str(value).lower() in scale else None


def score_attribute(spec: AttributeSpec, value: Any) -> AttributeScore:
    """Score in [0, 1]: 1 meets the rule, partial credit for being close on ordinal and numeric rules."""

    def result(score: float, why: str) -> AttributeScore:
        return AttributeScore(spec.key, max(0.0, min(1.0, score)), spec.weight, spec.required, why)

    if value is None or value == [] or value == "":
        return result(0.0, f"{spec.key} unknown")
    if spec.any_of is not None or spec.all_of is not None:
        have = set(_as_list(value))
        if spec.all_of is not None:
            want = set(_as_list(spec.all_of))
            missing = sorted(want - have)
            score = len(want & have) / len(want)
            return result(score, f"{spec.key} has {len(want & have)}/{len(want)} of {sorted(want)}"
                          + (f" (missing {missing})" if missing else ""))
        want = set(_as_list(spec.any_of))
        hit = sorted(want & have)
        return result(1.0 if hit else 0.0, f"{spec.key}={value!r} " + (f"matches {hit}" if hit else
                                                                          f"not in {sorted(want)}"))
    if spec.equals is not None:
        ok = _as_list(value) == _as_list(spec.equals)
        return result(float(ok), f"{spec.key}={value!r} {'==' if ok else '!='} {spec.equals!r}")
    if spec.scale is not None:
        level = _level(spec, value)
        if level is None:
            return result(0.0, f"{spec.key}={value!r} is not on the scale {spec.scale}")
        span = max(len(spec.scale) - 1, 1)
        if spec.target is not None:
            distance = abs(level - _level(spec, spec.target))
            return result(1.0 - distance / span, f"{spec.key}={value} is {distance} level(s) from {spec.target}")
        lo = _level(spec, spec.min) if spec.min is not None else None
        hi = _level(spec, spec.max) if spec.max is not None else None
        below = lo - level if lo is not None and level < lo else 0
        short = below + (level - hi if hi is not None and level > hi else 0)
        bounds = f"{spec.min or spec.scale[0]}..{spec.max or spec.scale[-1]}"
        return result(1.0 - short / span, f"{spec.key}={value} " + ("within " if not short else
                                                                     f"{short} level(s) outside ") + bounds)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return result(0.0, f"{spec.key}={value!r} is not a number")
    lo, hi = spec.min, spec.max
    if lo is not None and number < float(lo):
        return result(number / float(lo) if float(lo) > 0 else 0.0, f"{spec.key}={number:g} below {lo}")
    if hi is not None and number > float(hi):
        return result(float(hi) / number if number > 0 else 0.0, f"{spec.key}={number:g} above {hi}")
    lo_text, hi_text = ("-inf" if lo is None else lo), ("inf" if hi is None else hi)
    return result(1.0, f"{spec.key}={number:g} within {lo_text}..{hi_text}")


def lookup(attributes: dict[str, Any], key: str) -> Any:
    """An attribute by key; `a.b` reads key `b` of a nested object `a` (e.g. domain_knowledge.medical)."""
    if key in attributes:
        return attributes[key]
    value: Any = attributes
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def match(profile: TargetProfile, rater: Rater) -> Match:
    """Score one candidate; a required attribute not fully met makes them ineligible."""
    attributes = {**rater.attributes, **rater.extras}
    parts = [score_attribute(spec, lookup(attributes, spec.key)) for spec in profile.attribute]
    total = sum(p.weight for p in parts)
    score = sum(p.score * p.weight for p in parts) / total
    eligible = all(p.score >= 1.0 for p in parts if p.required)
    return Match(rater=rater, score=score, eligible=eligible, parts=parts)


def rank(profile: TargetProfile, raters: Iterable[Rater]) -> list[Match]:
    """The recruit list: eligible candidates by score (best first), then the ineligible ones."""
    return sorted((match(profile, r) for r in raters), key=lambda m: (not m.eligible, -m.score, m.rater.id))
