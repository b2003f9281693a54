"""A rater's own page: how much they have done, how often they agree with the other raters on the items they
shared, and how often they picked the response shown first (their position-bias figure)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from tether.collect.campaign_checks import position_bias
from tether.store import Store
from tether.store.assignment_repo import rater_progress

# Agreement is shown once a rater shares this many judgments with others: with fewer, the figure would tell a
# rater how one other person answered one item.
MIN_SHARED = 3


def _regular(judgments: list) -> list:
    return [j for j in judgments if "item_kind" not in j.extras]  # gold and attention checks test the rater


def rater_summary(store: Store, rater_id: str) -> dict[str, Any]:
    """Plain data for the rater's page (their own judgments only; others' appear only as agreement counts)."""
    answered, issued = rater_progress(store, rater_id)
    mine = _regular(list(store.iter_comparisons(rater=rater_id)))
    pair_agree = pair_shared = 0
    for campaign in sorted({c.campaign for c in mine}, key=str):
        theirs: dict[tuple[str, str], list[str]] = defaultdict(list)
        for c in _regular(list(store.iter_comparisons(campaign=campaign))):
            if c.rater != rater_id:
                theirs[(c.pair_id, c.objective)].append(c.choice.value)
        for c in (c for c in mine if c.campaign == campaign):
            for choice in theirs.get((c.pair_id, c.objective), ()):
                pair_shared += 1
                pair_agree += choice == c.choice.value
    my_ratings = _regular(list(store.iter_ratings(rater=rater_id)))
    exact = rated_shared = 0
    abs_diff = 0.0
    for campaign in sorted({r.campaign for r in my_ratings}, key=str):
        scores: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r in store.iter_ratings(campaign=campaign):
            if r.rater != rater_id:
                scores[(r.item_id, r.objective)].append(r.score)
        for r in (r for r in my_ratings if r.campaign == campaign):
            for score in scores.get((r.item_id, r.objective), ()):
                rated_shared += 1
                exact += score == r.score
                abs_diff += abs(score - r.score)
    bias = position_bias(mine)
    return {
        "rater": rater_id,
        "answered": answered,
        "issued": issued,
        "comparisons": len(mine),
        "ratings": len(my_ratings),
        "min_shared": MIN_SHARED,
        "pairwise_agreement": {"shared": pair_shared, "agree": pair_agree,
                               "rate": pair_agree / pair_shared if pair_shared >= MIN_SHARED else None},
        "rating_agreement": {"shared": rated_shared, "exact": exact,
                             "exact_rate": exact / rated_shared if rated_shared >= MIN_SHARED else None,
                             "mean_abs_difference": abs_diff / rated_shared if rated_shared >= MIN_SHARED
                             else None},
        "position_bias": None if bias is None else asdict(bias),
    }
