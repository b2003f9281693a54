"""What makes the loop retrain: the cadence, and evidence from production — drift, negative feedback, outcomes,
the policy's own confidence, a task type the audit paused. Each trigger is evaluated from stored data and reported
with its value and threshold, fired or not, so a tick's record says why it acted (or why it did not).

Windows: the last `window_days` before `now` against the `window_days` before that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tether.loop.config import LoopConfig
from tether.records import Event, EventType, Outcome, Promotion

__all__ = ["Trigger", "evaluate_triggers", "Evidence"]


@dataclass
class Trigger:
    name: str
    fired: bool
    value: float | None
    threshold: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evidence:
    """What the triggers read, gathered once by the tick."""

    now: datetime
    champion: Promotion | None
    events: Sequence[Event]                 # the tenant's events
    outcomes: Sequence[Outcome]
    training_prompts: Sequence[str]         # what the champion was trained on (its lineage)
    paused_task_types: Sequence[str]        # blocked by the newest audit run since the last batch
    champion_model: Any = None              # loaded lazily by the outcome trigger


def _windows(now: datetime, days: float) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    w = timedelta(days=days)
    return (now - w, now), (now - 2 * w, now - w)


def _in(ts: datetime, window: tuple[datetime, datetime]) -> bool:
    return window[0] <= ts < window[1]


def cadence(ev: Evidence, cfg: LoopConfig) -> Trigger:
    if ev.champion is None:
        return Trigger("cadence", True, None, cfg.cadence_days, f"role {cfg.role!r} has no champion yet")
    age = (ev.now - ev.champion.created_at).total_seconds() / 86400
    return Trigger("cadence", age >= cfg.cadence_days, round(age, 3), cfg.cadence_days,
                   f"the champion has served {age:.1f} days (cadence {cfg.cadence_days:g})")


def drift(ev: Evidence, cfg: LoopConfig) -> Trigger:
    from tether.shift.data import prompts_of_events
    from tether.shift.drift import detect_drift

    current, _ = _windows(ev.now, cfg.window_days)
    production = prompts_of_events(ev.events, *current)
    annotation = list(dict.fromkeys(ev.training_prompts))
    if len(production) < cfg.min_window or len(annotation) < cfg.min_window:
        return Trigger("drift", False, None, cfg.drift_alpha,
                       f"not enough prompts to test ({len(production)} in the window, {len(annotation)} trained on; "
                       f"needs {cfg.min_window} each)")
    from tether.shift.data import PromptRecord

    result = detect_drift([PromptRecord(t) for t in annotation], production, alpha=cfg.drift_alpha,
                          seed=cfg.seed, n_permutations=200)
    p = min(result.mmd_pvalue, result.c2st_pvalue)
    return Trigger("drift", result.drift, round(p, 6), cfg.drift_alpha,
                   f"{len(production)} production prompts vs {len(annotation)} the champion was trained on: MMD "
                   f"p={result.mmd_pvalue:.4f}, classifier AUC {result.c2st_auc:.3f} p={result.c2st_pvalue:.4f}")


def _negative_share(events: Sequence[Event]) -> tuple[float, int]:
    from tether.shift.sampling import candidates_from_events

    cands = candidates_from_events(events)
    return (sum(c.negative_feedback for c in cands) / len(cands) if cands else float("nan")), len(cands)


def negative_feedback(ev: Evidence, cfg: LoopConfig) -> Trigger:
    current, previous = _windows(ev.now, cfg.window_days)
    by_trace: dict[str, list[Event]] = {}
    for e in ev.events:  # feedback counts for the window its generation fell in
        by_trace.setdefault(e.trace_id, []).append(e)
    sides = []
    for window in (current, previous):
        evs = [e for t in by_trace.values() for e in t
               if any(g.type is EventType.GENERATION and _in(g.timestamp, window) for g in t)]
        sides.append(_negative_share(evs))
    (now_share, n_now), (before, n_before) = sides
    if min(n_now, n_before) < cfg.min_window:
        return Trigger("negative_feedback", False, None, cfg.negative_feedback_rise,
                       f"not enough generations ({n_now} in the window, {n_before} before; needs {cfg.min_window})")
    rise = now_share - before
    return Trigger("negative_feedback", rise >= cfg.negative_feedback_rise, round(rise, 4),
                   cfg.negative_feedback_rise,
                   f"negative feedback on {now_share:.1%} of {n_now} generations, {before:.1%} of {n_before} before")


def outcome_auc(ev: Evidence, cfg: LoopConfig) -> Trigger:
    from tether.outcomes.metrics import auc
    from tether.outcomes.scored import outcome_value

    if ev.champion is None:
        return Trigger("outcome_auc", False, None, cfg.outcome_auc_drop, "no champion to score with")
    gens = {e.trace_id: e for e in ev.events if e.type is EventType.GENERATION and e.prompt and e.response}
    current, previous = _windows(ev.now, cfg.window_days)
    sides: list[tuple[list[Event], list[float]]] = [([], []), ([], [])]
    for o in ev.outcomes:
        g = gens.get(o.trace_id or "")
        if g is None:
            continue
        try:
            value = outcome_value(o.value)
        except ValueError:
            continue  # a categorical outcome says nothing about pass / fail
        for side, window in zip(sides, (current, previous), strict=True):
            if _in(g.timestamp, window):
                side[0].append(g)
                side[1].append(value)
    counts = [len(s[0]) for s in sides]
    if min(counts) < cfg.min_window:
        return Trigger("outcome_auc", False, None, cfg.outcome_auc_drop,
                       f"not enough outcomes joined to generations ({counts[0]} in the window, {counts[1]} before; "
                       f"needs {cfg.min_window})")
    model = ev.champion_model
    aucs = []
    for gs, values in sides:
        scores = model.score([g.prompt for g in gs], [g.response for g in gs])
        scores = getattr(scores, "scores", scores)
        head = cfg.objectives[0] if cfg.objectives[0] in scores else next(iter(scores))
        aucs.append(auc(np.asarray(scores[head], dtype=float), np.asarray(values) >= 0.5))
    drop = aucs[1] - aucs[0]
    if np.isnan(drop):
        return Trigger("outcome_auc", False, None, cfg.outcome_auc_drop,
                       "a window has outcomes of one kind only (all passed or all failed): AUC undefined")
    return Trigger("outcome_auc", drop >= cfg.outcome_auc_drop, round(float(drop), 4), cfg.outcome_auc_drop,
                   f"the champion's outcome AUC {aucs[0]:.3f} on {counts[0]} outcomes, {aucs[1]:.3f} on {counts[1]} "
                   "before")


def confidence(ev: Evidence, cfg: LoopConfig) -> Trigger:
    from tether.shift.sampling import MEAN_LOGPROB

    current, previous = _windows(ev.now, cfg.window_days)
    sides = [[e.attributes[MEAN_LOGPROB] for e in ev.events if e.type is EventType.GENERATION
              and isinstance(e.attributes.get(MEAN_LOGPROB), int | float) and _in(e.timestamp, w)]
             for w in (current, previous)]
    if min(len(s) for s in sides) < cfg.min_window:
        return Trigger("confidence", False, None, cfg.confidence_drop,
                       f"not enough generations with {MEAN_LOGPROB} ({len(sides[0])} in the window, {len(sides[1])} "
                       f"before; needs {cfg.min_window})")
    now, before = float(np.mean(sides[0])), float(np.mean(sides[1]))
    return Trigger("confidence", before - now >= cfg.confidence_drop, round(before - now, 4), cfg.confidence_drop,
                   f"the policy's mean token log-probability {now:.3f} over {len(sides[0])} answers, {before:.3f} "
                   f"over {len(sides[1])} before")


def paused(ev: Evidence, cfg: LoopConfig) -> Trigger:
    names = sorted(ev.paused_task_types)
    detail = ("paused by the audit: " + ", ".join(names)) if names else "no task type paused since the last batch"
    return Trigger("paused_task_type", bool(names), float(len(names)), None, detail)


TRIGGERS = (cadence, drift, negative_feedback, outcome_auc, confidence, paused)


def evaluate_triggers(ev: Evidence, cfg: LoopConfig) -> list[Trigger]:
    return [t(ev, cfg) for t in TRIGGERS]
