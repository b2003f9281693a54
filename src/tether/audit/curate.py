"""Curation: audited comparisons -> weighted preference pairs (FORMATS.md, preference pair v1).

One pair per item (pair_id, objective). The label and `p_chosen` come from the soft-label model
(`bradley_terry`: position-free Bradley–Terry probabilities; `dawid_skene`: the reliability-aware
posterior). A tie (P(tie) at least P(a) and P(b)) is kept as `tie: true` with `p_chosen` 0.5.

    weight = first factor x task-type factor x reversal factor

The defaults are `reliability="slice"` and `weights="posterior"` (below), chosen because they trained the better
reward models (benchmarks/RESULTS.md, "Labels that pay off"); `reliability="rater"`, `weights="reliability"` make
the first factor the mean reliability of the item's judgments, as before.

- task-type factor: 1 when the task type's alpha is at or above the threshold, else alpha / threshold
  (clipped to [0, 1]); blocked task types are only present with `include_blocked`.
- reversal factor (policy `downweight`): 1 / (1 + n_reversals), n_reversals = within-rater swaps whose
  verdict changed with the display order (followed the position, or a tie in one order only) plus 1
  if the per-order majorities flip; `discard` drops reversed pairs (so on data where one rater judged
  every pair in both orders it keeps exactly the pairs judged the same way both times), `keep` leaves
  the weight alone. Reversals are flagged in provenance under every policy.

With `reliability="slice"` (see `tether.audit.slice_reliability`) each judgment counts by its rater's
reliability *in the item's task type*: the label is the position-free Bradley–Terry fit weighted that way,
and `p_chosen` is the slice Dawid–Skene posterior of the chosen side after a temperature fitted on held-out
judgments (or gold), so it means what it says. With `weights="posterior"` the first factor of the weight is
2 p_chosen - 1 (the expected sign of the label: 0 for a coin flip, 1 for a sure label) instead of the mean
reliability, so items of the same raters weigh more when those raters agree.

Items whose raters all have reliability 0 carry no usable evidence and are dropped (counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.audit.audit import AuditResult, run_audit
from tether.audit.config import AuditConfig, CurateConfig
from tether.audit.labels import LABEL_NAMES, TIE, A, B
from tether.audit.slice_reliability import SliceLabels, slice_labels
from tether.records import Comparison, PreferencePair


@dataclass
class CurationResult:
    pairs: list[PreferencePair]
    counts: dict[str, int] = field(default_factory=dict)


def _task_factor(result: AuditResult, task_type: str) -> float:
    verdict = result.verdicts[task_type]
    threshold = result.config.block_threshold
    if not verdict.blocked or verdict.alpha is None:
        return 1.0
    return float(np.clip(verdict.alpha / threshold, 0.0, 1.0))


class _Items:
    """The per-item numbers of an audit that curation reads."""

    def __init__(self, result: AuditResult, sliced: SliceLabels | None = None) -> None:
        table = result.table
        self.sliced = sliced
        reliability = result.judgment_reliability if sliced is None else sliced.judgment_reliability
        self.votes = table.counts()
        self.n_judgments = self.votes.sum(axis=1)
        rel_sum = np.bincount(table.item, weights=reliability, minlength=table.n_items)
        self.mean_reliability = np.divide(rel_sum, self.n_judgments, out=np.zeros(table.n_items),
                                          where=self.n_judgments > 0)
        self.n_raters = np.bincount(np.unique(table.item * table.n_raters + table.rater) // table.n_raters,
                                    minlength=table.n_items)
        swaps = result.swaps
        self.reversals = [int(r) + int(x) for r, x in zip(swaps.item_changed, swaps.item_across_reversal,
                                                          strict=True)]
        blocked = set(result.blocked_task_types)
        self.blocked = [e.task_type in blocked for e in table.examples]


def curate(source: AuditResult | Iterable[Comparison], config: CurateConfig | None = None,
           audit_config: AuditConfig | None = None) -> CurationResult:
    """Turn an audit (or comparisons, audited first) into preference pairs with weights and flags."""
    config = config or CurateConfig()
    result = source if isinstance(source, AuditResult) else run_audit(source, audit_config)
    wants_slice = config.reliability == "slice" or config.weights == "posterior"
    sliced = slice_labels(result.table, result.config.gold) if wants_slice else None
    items = _Items(result, sliced)
    use_bt = config.soft_labels == "bradley_terry" and result.item_bt_proba is not None
    proba = result.item_bt_proba if use_bt else result.item_posteriors
    posteriors = result.item_posteriors
    if config.reliability == "slice" and sliced is not None:
        proba = sliced.label_proba if config.soft_labels == "bradley_terry" else sliced.posteriors
        posteriors = sliced.posteriors
    tally = {"items": result.table.n_items, "pairs": 0, "ties": 0, "excluded_blocked": 0, "discarded_reversal": 0,
             "downweighted_reversal": 0, "dropped_zero_weight": 0}
    pairs: list[PreferencePair] = []
    for i, e in enumerate(result.table.examples):
        chosen, p_chosen, tie = _choose(proba[i], posteriors[i])
        # the label is Bradley–Terry's side; how sure it is, the calibrated posterior says
        sure = None if tie or sliced is None else _side_probability(sliced.posteriors[i], chosen)
        if config.reliability == "slice" and sure is not None:
            p_chosen = sure
        weight, counted = _weigh(result, config, items, i, sure)
        for key in counted:
            tally[key] += 1
        if weight <= 0:
            continue
        a_chosen = chosen == A
        pairs.append(PreferencePair(
            prompt=e.prompt,
            chosen=e.response_a if a_chosen else e.response_b,
            rejected=e.response_b if a_chosen else e.response_a,
            weight=float(weight),
            p_chosen=p_chosen,
            tie=tie,
            objective=e.objective,
            provenance=_provenance(result, config, items, i, chosen, tie, proba[i] if use_bt else None),
        ))
        tally["pairs"] += 1
        tally["ties"] += int(tie)
    return CurationResult(pairs, tally)


def _side_probability(p: np.ndarray, side: int) -> float:
    return float(np.clip(p[side] / max(p[A] + p[B], 1e-12), 0.5, 1.0))


def _weigh(result: AuditResult, config: CurateConfig, items: _Items, i: int,
           sure: float | None) -> tuple[float, list[str]]:
    """Item i's weight (0: left out) and the tally entries it counts toward (sure: the calibrated
    posterior of the chosen side, None for a tie or without the slice fit)."""
    if items.blocked[i] and not config.include_blocked:
        return 0.0, ["excluded_blocked"]
    n_rev = items.reversals[i]
    if n_rev and config.policy == "discard":
        return 0.0, ["discarded_reversal"]
    first = items.mean_reliability[i]
    if config.weights == "posterior" and items.sliced is not None:
        # a tie's weight is how sure the posterior is that neither side wins
        first = items.sliced.posteriors[i, TIE] if sure is None else 2 * sure - 1
    weight = first * _task_factor(result, result.table.examples[i].task_type)
    counted = []
    if n_rev and config.policy == "downweight":
        weight /= 1 + n_rev
        counted.append("downweighted_reversal")
    if weight <= 0:
        counted.append("dropped_zero_weight")
    return weight, counted


def _choose(p: np.ndarray, ds: np.ndarray) -> tuple[int, float, bool]:
    """(chosen side, p_chosen, tie) from the soft-label probabilities `p` and Dawid–Skene's posterior `ds`."""
    # Ties come from Dawid–Skene: Davidson's single tie rate rarely makes a tie the likeliest outcome.
    if ds.argmax() == TIE:
        return A, 0.5, True
    chosen = A if p[A] >= p[B] else B
    return chosen, float(np.clip(p[chosen] / max(p[A] + p[B], 1e-12), 0.5, 1.0)), False


def _provenance(result: AuditResult, config: CurateConfig, items: _Items, i: int, chosen: int, tie: bool,
                p_bt: np.ndarray | None) -> dict[str, Any]:
    """Where item i's pair came from, and the flags that say why it may need a second look."""
    e = result.table.examples[i]
    n_judg, n_rev, is_blocked = items.n_judgments[i], items.reversals[i], items.blocked[i]
    ds = result.item_posteriors[i]
    disagree = p_bt is not None and not tie and (ds[A] >= ds[B]) != (chosen == A)
    majority_share = float(items.votes[i].max() / n_judg)
    flags = [name for name, on in (
        ("reversal", n_rev > 0),
        ("low_agreement", n_judg >= 2 and majority_share < config.low_agreement_share),
        ("single_judgment", n_judg < 2),
        ("blocked_task_type", is_blocked),
        ("label_models_disagree", disagree),
    ) if on]
    provenance: dict[str, Any] = {
        "pair_id": e.pair_id,
        "task_type": e.task_type,
        "n_judgments": int(n_judg),
        "n_raters": int(items.n_raters[i]),
        "votes": {name: int(items.votes[i, k]) for k, name in enumerate(LABEL_NAMES)},
        "label_model": ("dawid_skene" if p_bt is None else "bradley_terry") + (
            "_by_slice" if config.reliability == "slice" else ""),
        "p_dawid_skene": [round(float(x), 6) for x in ds],
        "mean_reliability": round(float(items.mean_reliability[i]), 6),
        "judged_both_orders": bool(result.swaps.item_swapped[i]),
        "reversal": n_rev > 0,
        "n_reversals": n_rev,
        "low_agreement": "low_agreement" in flags,
        "blocked_task_type": is_blocked,
        "task_factor": round(_task_factor(result, e.task_type), 6),
        "flags": flags,
        "policy": config.policy,
    }
    if items.sliced is not None:
        provenance["p_slice_posterior"] = [round(float(x), 6) for x in items.sliced.posteriors[i]]
    if p_bt is not None:
        provenance["p_bradley_terry"] = [round(float(x), 6) for x in p_bt]
    return provenance
