"""User feedback from production: corrections and regenerations -> preference pairs; feedback rates.

Reliability weights (PreferencePair.weight; a human-rated comparison counts 1.0):
- CORRECTION_WEIGHT = 0.8: the person who asked rewrote the answer, so the edit is what they wanted,
  but it is one person, unaudited, and sometimes an edit of style rather than substance.
  Cosmetic edits (only case, whitespace or punctuation change) get half that: they say little about
  which answer a rater would prefer. A one-digit fix ("$96" -> "$696") is not cosmetic.
- REGENERATION_WEIGHT = 0.3: asking for another answer is a weak, implicit rejection of the earlier
  one (users also regenerate out of curiosity); the last answer is preferred only if it was not
  thumbed down afterwards.
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tether.records import Event, EventType, PreferencePair
from tether.stats import wilson_interval

CORRECTION_WEIGHT = 0.8
REGENERATION_WEIGHT = 0.3
THUMBS = "thumbs"
REGENERATE = "regenerate"


def edit_fraction(a: str, b: str) -> float:
    """Share of the text changed between a and b (1 - difflib similarity ratio)."""
    return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def is_cosmetic(a: str, b: str) -> bool:
    """True when a and b differ only in case, whitespace or punctuation."""
    def norm(s: str) -> str:
        return "".join(ch for ch in s.casefold() if ch.isalnum())

    return norm(a) == norm(b)


def _by_trace(events: Iterable[Event]) -> dict[str, list[Event]]:
    traces: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        traces[e.trace_id].append(e)
    for evs in traces.values():
        evs.sort(key=lambda e: e.timestamp)
    return traces


def corrections_to_pairs(events: Iterable[Event], *, weight: float = CORRECTION_WEIGHT,
                         regeneration_weight: float = REGENERATION_WEIGHT) -> list[PreferencePair]:
    """Pairs from corrections (corrected over original) and regenerations (last answer over earlier ones)."""
    pairs: list[PreferencePair] = []
    for trace_id, evs in _by_trace(events).items():
        gens = [e for e in evs if e.type is EventType.GENERATION]
        if not gens:
            continue
        for fix in (e for e in evs if e.type is EventType.CORRECTION):
            # the correction edits the answer the user saw last before correcting
            before = [g for g in gens if g.timestamp <= fix.timestamp] or gens[:1]
            original = before[-1]
            assert fix.corrected_response is not None and original.response is not None and original.prompt
            if fix.corrected_response.strip() == original.response.strip():
                continue  # no edit, no preference
            frac = edit_fraction(original.response, fix.corrected_response)
            w = weight * (0.5 if is_cosmetic(original.response, fix.corrected_response) else 1.0)
            pairs.append(PreferencePair(
                prompt=original.prompt, chosen=fix.corrected_response, rejected=original.response, weight=w,
                provenance={"source": "correction", "trace_id": trace_id, "model": original.model,
                            "event_id": fix.event_id, "edit_fraction": round(frac, 4)}))
        if len(gens) >= 2:
            last = gens[-1]
            down_after = any(e.type is EventType.FEEDBACK and e.name == THUMBS and _num(e.value) < 0
                             and e.timestamp >= last.timestamp for e in evs)
            if not down_after:
                for earlier in gens[:-1]:
                    if earlier.response == last.response or earlier.prompt != last.prompt:
                        continue
                    pairs.append(PreferencePair(
                        prompt=last.prompt or "", chosen=last.response or "", rejected=earlier.response or "",
                        weight=regeneration_weight,
                        provenance={"source": "regeneration", "trace_id": trace_id, "model": last.model,
                                    "event_id": last.event_id}))
    return pairs


def _num(v: float | str | None) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


@dataclass
class FeedbackRate:
    """Feedback for one group (a model version or a day)."""

    key: str
    generations: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    corrections: int = 0
    regenerations: int = 0

    @property
    def feedback_rate(self) -> float:
        """Share of generations that got a thumb."""
        return (self.thumbs_up + self.thumbs_down) / self.generations if self.generations else math.nan

    @property
    def up_rate(self) -> float:
        """Thumbs up / all thumbs."""
        n = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / n if n else math.nan

    @property
    def up_rate_ci(self) -> tuple[float, float]:
        return wilson_interval(self.thumbs_up, self.thumbs_up + self.thumbs_down)

    @property
    def correction_rate(self) -> float:
        return self.corrections / self.generations if self.generations else math.nan


def feedback_rates(events: Iterable[Event], by: str = "model") -> list[FeedbackRate]:
    """Thumbs, corrections and regenerations per model version (`by="model"`) or per UTC day (`by="day"`).

    Feedback is attributed to its trace's generation (model, and the day the answer was given).
    """
    if by not in ("model", "day"):
        raise ValueError(f"by must be 'model' or 'day', not {by!r}")
    groups: dict[str, FeedbackRate] = {}
    for evs in _by_trace(events).values():
        gens = [e for e in evs if e.type is EventType.GENERATION]
        if not gens:
            continue  # feedback on a trace whose generation was never logged (or was forgotten)
        first = gens[0]
        key = (first.model or "unknown") if by == "model" else first.timestamp.date().isoformat()
        g = groups.setdefault(key, FeedbackRate(key))
        g.generations += len(gens)
        g.regenerations += len(gens) - 1
        for e in evs:
            if e.type is EventType.FEEDBACK and e.name == THUMBS:
                v = _num(e.value)
                if v > 0:
                    g.thumbs_up += 1
                elif v < 0:
                    g.thumbs_down += 1
            elif e.type is EventType.FEEDBACK and e.name == REGENERATE:
                g.regenerations += 1
            elif e.type is EventType.CORRECTION:
                g.corrections += 1
    return [groups[k] for k in sorted(groups)]
