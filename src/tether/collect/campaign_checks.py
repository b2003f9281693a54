"""The numbers a running campaign needs, computed with `tether.audit`'s functions: agreement, position bias.

The pilot decision goes through `paused_task_types`, the one place the pause rule is applied
to per-task-type agreement numbers: Krippendorff's alpha (nominal, the audit's primary metric)
over ALL the pilot's raters (a rating task type: interval alpha, `tether.audit.ratings`). Why not
`run_audit`'s verdict: it judges on the raters its label model trusts, which on a small pilot can drop the
very disagreement a vague rubric causes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from tether.audit import build_table
from tether.audit.agreement import krippendorff_alpha
from tether.audit.config import AGREEMENT_FLOOR
from tether.audit.position import first_position_rate
from tether.audit.ratings import rating_alphas
from tether.records import Comparison, Rating


def paused_task_types(agreement: Mapping[str, float | None], threshold: float = AGREEMENT_FLOOR) -> set[str]:
    """The pause rule on per-task-type numbers from elsewhere (e.g. `tether audit --json`): below `threshold`
    stops scaling; None (not judged) does not pause."""
    return {t for t, value in agreement.items() if value is not None and not value >= threshold}


def agreement_by_task_type(comparisons: Iterable[Comparison]) -> dict[str, float]:
    """Krippendorff's alpha (nominal, canonical labels) per task type; task types it cannot judge are left out."""
    comparisons = list(comparisons)
    if not comparisons:
        return {}
    out: dict[str, float] = {}
    for task_type, table in build_table(comparisons).by_task_type().items():
        counts = table.counts()
        if (counts.sum(axis=1) >= 2).sum() == 0:
            continue
        value = krippendorff_alpha(counts)
        if math.isfinite(value):
            out[task_type] = value
    return out


def rating_agreement(ratings: Iterable[Rating]) -> float | None:
    """Krippendorff's alpha (interval: the rating audit's primary metric) of ratings; None if it cannot judge."""
    alphas = rating_alphas(ratings)
    return None if alphas is None or not math.isfinite(alphas[0]) else float(alphas[0])


@dataclass(frozen=True)
class PositionBias:
    """How often raters picked the response shown first, among non-tie answers."""

    first: int
    n: int
    rate: float
    low: float
    high: float
    p_value: float


def position_bias(comparisons: Iterable[Comparison], confidence: float = 0.95) -> PositionBias | None:
    """First-position rate with the audit's binomial test against 0.5 and Wilson interval; None if no data."""
    cs = list(comparisons)
    labels = np.array([{"a": 0, "b": 1, "tie": 2}[c.choice.value] for c in cs], dtype=np.int64)
    shown = np.array([0 if c.shown_first.value == "a" else 1 for c in cs], dtype=np.int64)
    rate = first_position_rate(labels, shown, level=confidence)
    if rate.n == 0:
        return None
    return PositionBias(first=rate.picked_first, n=rate.n, rate=rate.rate, low=rate.wilson[0], high=rate.wilson[1],
                        p_value=rate.p_value)
