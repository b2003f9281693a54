"""Agreement on rating-scale (Likert) judgments: Krippendorff's alpha, interval and ordinal, and the 0.4 rule.

A unit is one item (prompt and response) on one objective; its values are the scores its raters gave
(a rater's first score when they rated it twice). The scale's points are the categories: interval
alpha weighs a disagreement by the squared difference of the scores, ordinal alpha by how many
ratings lie between them. The 0.4 rule is judged on interval alpha (a Likert scale's points are
meant as equal steps); ordinal alpha is reported beside it for scales whose steps are not equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.audit.agreement import bootstrap
from tether.audit.agreement_counts import krippendorff_alpha
from tether.audit.config import AuditConfig
from tether.records import Rating

PRIMARY_RATING_METRIC = "krippendorff_alpha_interval"


@dataclass(frozen=True)
class RatingTable:
    """Ratings as an (units x scale points) count matrix, with the points' values and each unit's raters."""

    units: list[tuple[str, str]]  # (item_id, objective)
    points: np.ndarray  # the scale's values, ascending
    counts: np.ndarray  # (units, points)
    scores: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # unit -> rater -> score

    @property
    def pairable(self) -> int:
        """Units with two or more ratings (the only ones alpha uses)."""
        return int((self.counts.sum(axis=1) >= 2).sum())


def rating_table(ratings: Iterable[Rating]) -> RatingTable:
    """The count matrix of `ratings`; the scale runs from the lowest scale_min to the highest scale_max seen."""
    scores: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    low = high = None
    for r in ratings:
        scores[(r.item_id or "", r.objective)].setdefault(r.rater, r.score)
        low = r.scale_min if low is None else min(low, r.scale_min)
        high = r.scale_max if high is None else max(high, r.scale_max)
    if low is None:
        return RatingTable([], np.zeros(0), np.zeros((0, 0)), {})
    points = np.arange(low, high + 1)
    units = list(scores)
    counts = np.zeros((len(units), len(points)))
    for u, unit in enumerate(units):
        for score in scores[unit].values():
            counts[u, score - low] += 1
    return RatingTable(units, points, counts, dict(scores))


def _alphas(counts: np.ndarray, points: Sequence[float]) -> tuple[float, float]:
    order = list(range(len(points)))  # explicit: a 3-point scale is not the pairwise a / tie / b order
    return (krippendorff_alpha(counts, "interval", values=points), krippendorff_alpha(counts, "ordinal", order=order))


def rating_alphas(ratings: Iterable[Rating]) -> tuple[float, float] | None:
    """(interval, ordinal) Krippendorff's alpha of a set of ratings; None when no unit has two ratings."""
    table = rating_table(ratings)
    if table.pairable == 0:
        return None
    return _alphas(table.counts, table.points)


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _estimate(table: RatingTable, metric: str, config: AuditConfig) -> dict[str, float | None]:
    rows = table.counts[table.counts.sum(axis=1) >= 2]
    if metric == "interval":
        def stat(c: np.ndarray) -> float:
            return krippendorff_alpha(c, "interval", values=table.points)
    else:
        order = list(range(len(table.points)))

        def stat(c: np.ndarray) -> float:
            return krippendorff_alpha(c, "ordinal", order=order)
    value, low, high = bootstrap(stat, rows, n_boot=config.n_bootstrap, seed=config.seed, level=config.confidence)
    return {"value": _finite(value), "ci_low": _finite(low), "ci_high": _finite(high)}


def _group(ratings: list[Rating], config: AuditConfig) -> dict[str, Any]:
    table = rating_table(ratings)
    out: dict[str, Any] = {"n_ratings": len(ratings), "n_items": len(table.units), "n_items_pairable": table.pairable,
                           "n_raters": len({r.rater for r in ratings}),
                           "scale": [int(table.points[0]), int(table.points[-1])]}
    if table.pairable == 0 or table.counts.shape[1] < 2:
        out.update(krippendorff_alpha_interval=None, krippendorff_alpha_ordinal=None)
        return out
    out["krippendorff_alpha_interval"] = _estimate(table, "interval", config)
    out["krippendorff_alpha_ordinal"] = _estimate(table, "ordinal", config)
    return out


def _verdict(group: dict[str, Any], config: AuditConfig) -> dict[str, Any]:
    interval = (group.get("krippendorff_alpha_interval") or {}).get("value")
    ordinal = (group.get("krippendorff_alpha_ordinal") or {}).get("value")
    verdict = {"task": "rating", "metric": PRIMARY_RATING_METRIC, "alpha": interval, "alpha_ordinal": ordinal,
               "n_items": group["n_items_pairable"]}
    if interval is None or group["n_items_pairable"] < config.min_items_to_judge:
        return {**verdict, "status": "insufficient", "blocked": False,
                "message": f"{group['n_items_pairable']} items rated by two or more raters; the 0.4 rule needs "
                           f"{config.min_items_to_judge}"}
    blocked = not interval >= config.block_threshold
    return {**verdict, "status": "ambiguous" if blocked else "ok", "blocked": blocked,
            "message": (f"interval alpha {interval:.3f} {'<' if blocked else '>='} {config.block_threshold} "
                        f"(ordinal {ordinal:.3f})" if ordinal is not None else
                        f"interval alpha {interval:.3f} {'<' if blocked else '>='} {config.block_threshold}")}


def _by_rater(ratings: list[Rating]) -> dict[str, dict[str, Any]]:
    """Per rater: ratings, mean score, and mean absolute difference from the other raters on shared units."""
    table = rating_table(ratings)
    out: dict[str, dict[str, Any]] = {}
    diffs: dict[str, list[float]] = defaultdict(list)
    for unit_scores in table.scores.values():
        for rater, score in unit_scores.items():
            others = [s for r, s in unit_scores.items() if r != rater]
            if others:
                diffs[rater].append(abs(score - float(np.mean(others))))
    for rater in sorted({r.rater for r in ratings}):
        mine = [r.score for r in ratings if r.rater == rater]
        out[rater] = {"n_ratings": len(mine), "mean_score": float(np.mean(mine)),
                      "n_shared": len(diffs[rater]),
                      "mean_abs_difference": float(np.mean(diffs[rater])) if diffs[rater] else None}
    return out


def audit_ratings(ratings: Iterable[Rating], config: AuditConfig | None = None) -> dict[str, Any]:
    """Agreement of rating-scale judgments per task type and per (task type, objective), the 0.4 rule per task
    type (on interval alpha over all its objectives), and each rater's figures: the `ratings` part of
    `tether audit --json`."""
    config = config or AuditConfig()
    ratings = list(ratings)
    by_type: dict[str, list[Rating]] = defaultdict(list)
    by_group: dict[tuple[str, str], list[Rating]] = defaultdict(list)
    for r in ratings:
        by_type[r.task_type].append(r)
        by_group[(r.task_type, r.objective)].append(r)
    agreement = {t: _group(rs, config) for t, rs in sorted(by_type.items())}
    by_objective: dict[str, dict[str, Any]] = defaultdict(dict)
    for (t, objective), rs in sorted(by_group.items()):
        by_objective[objective][t] = _group(rs, config)
    verdicts = {t: _verdict(g, config) for t, g in agreement.items()}
    return {
        "n_ratings": len(ratings),
        "n_raters": len({r.rater for r in ratings}),
        "primary_metric": PRIMARY_RATING_METRIC,
        "block_threshold": config.block_threshold,
        "blocked_task_types": sorted(t for t, v in verdicts.items() if v["blocked"]),
        "task_types": verdicts,
        "agreement": {"by_task_type": agreement, "by_objective": dict(by_objective)},
        "raters": _by_rater(ratings),
    }
