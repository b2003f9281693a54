"""Human and AI raters in one audit (RLAIF): who is which, agreement within and across the two kinds, and the
display-order flags every rater gets by the same test.

A rater is an AI rater when any of its judgments came through an AI interface (`llm-judge`: `tether raters
judge`, PRD's LLM reviewers), when its Rater record in the store says `kind: "ai"`, or when the audit config
names it (`ai_raters`). Everyone else is human.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tether.audit.agreement import Estimate, between_rater_alpha
from tether.audit.agreement_counts import krippendorff_alpha
from tether.audit.labels import N_CLASSES, LabelTable
from tether.audit.position import FirstPositionRate, SwapConsistency
from tether.audit.rubric import position_evidence
from tether.records import AI_INTERFACES, Comparison

HUMAN, AI = "human", "ai"


def judged_by_ai(comparison: Comparison, ai_raters: Iterable[str] = ()) -> bool:
    """Whether one comparison is an AI rater's (its interface, or its rater named in `ai_raters`)."""
    return comparison.interface in AI_INTERFACES or comparison.rater in set(ai_raters)


def ai_rater_names(table: LabelTable, also: Iterable[str] = ()) -> set[str]:
    """The table's AI raters: any judgment through an AI interface, or named in `also`."""
    codes = [i for i, name in enumerate(table.interface_names) if name in AI_INTERFACES]
    through_ai = np.unique(table.rater[np.isin(table.interface, codes)]) if codes else []
    return {table.rater_names[r] for r in through_ai} | (set(also) & set(table.rater_names))


def ai_judgments(table: LabelTable, ai_names: set[str]) -> np.ndarray:
    """Per judgment: made by an AI rater."""
    codes = [i for i, name in enumerate(table.rater_names) if name in ai_names]
    return np.isin(table.rater, codes)


def agreement_by_kind(rated: LabelTable, ai: np.ndarray, *, n_boot: int, seed: int, level: float
                      ) -> dict[str, Estimate]:
    """Krippendorff's alpha (nominal, between different raters) among humans, among AI raters, and all together;
    a kind with no judgments is left out."""
    out = {}
    for kind, mask in ((HUMAN, ~ai), (AI, ai)):
        if mask.any():
            out[kind] = between_rater_alpha(rated.subset(mask), n_boot=n_boot, seed=seed, level=level)
    # one kind only: "all" is that kind's estimate (the bootstrap is the audit's slowest step on large tables)
    out["all"] = next(iter(out.values())) if len(out) == 1 else between_rater_alpha(rated, n_boot=n_boot, seed=seed,
                                                                                       level=level)
    return out


def human_majority_agreement(rated: LabelTable, ai: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per rater: how often its judgments match the majority label of the *human* raters on the same item (the
    rater's own judgments left out), as a share and as Krippendorff's alpha between the rater and that majority.

    Items where the other humans are split evenly, or where no other human judged, are left out (`n_items`
    counts the rater's judgments that had a human majority to compare with)."""
    human_counts = np.zeros((rated.n_items, N_CLASSES), dtype=np.int64)
    np.add.at(human_counts, (rated.item[~ai], rated.label[~ai].astype(np.int64)), 1)
    out: dict[str, dict[str, Any]] = {}
    for r, name in enumerate(rated.rater_names):
        mine = rated.rater == r
        others = human_counts.copy()
        if not ai[mine].any():  # a human: leave their own judgments out of the majority they are compared with
            np.add.at(others, (rated.item[mine], rated.label[mine].astype(np.int64)), -1)
        top = others.max(axis=1)
        unique_top = (others == top[:, None]).sum(axis=1) == 1
        has_majority = (top > 0) & unique_top
        items = rated.item[mine]
        keep = has_majority[items]
        labels, majority = rated.label[mine][keep].astype(np.int64), others.argmax(axis=1)[items[keep]]
        if not keep.any():
            out[name] = {"n_items": 0, "rate": None, "alpha": None}
            continue
        pairs = np.zeros((labels.size, N_CLASSES), dtype=np.int64)
        np.add.at(pairs, (np.arange(labels.size), labels), 1)
        np.add.at(pairs, (np.arange(labels.size), majority), 1)
        alpha = krippendorff_alpha(pairs)
        out[name] = {"n_items": int(labels.size), "rate": float((labels == majority).mean()),
                     "alpha": float(alpha) if np.isfinite(alpha) else None}
    return out


def position_flags(names: list[str], rates: dict[str, FirstPositionRate], swaps: dict[str, SwapConsistency],
                   ai_names: set[str]) -> dict[str, list[str]]:
    """Per rater, the display-order evidence against it (`rubric.position_evidence`), by one test for everyone:
    a significant first- or second-position preference, or keeping its verdict through a swap less often than
    the human raters (the rater itself left out; all other raters when no human was swapped)."""
    out = {}
    for name in names:
        pool = [s for n, s in swaps.items() if n != name and n not in ai_names]
        whom = "the human raters"
        if not sum(s.n_swapped for s in pool):
            pool, whom = [s for n, s in swaps.items() if n != name], "the other raters"
        pooled = (sum(s.consistent for s in pool), sum(s.n_swapped for s in pool))
        out[name] = position_evidence(rates.get(name), swaps.get(name), pooled, whom)[0]
    return out
