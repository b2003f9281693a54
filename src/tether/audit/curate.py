"""Curation: audited comparisons -> weighted preference pairs (FORMATS.md, preference pair v1).

One pair per item (pair_id, objective). The label and `p_chosen` come from the soft-label model
(`bradley_terry`: position-free Bradley–Terry probabilities; `dawid_skene`: the reliability-aware
posterior). A tie (P(tie) at least P(a) and P(b)) is kept as `tie: true` with `p_chosen` 0.5.

    weight = mean reliability of the item's judgments x task-type factor x reversal factor

- task-type factor: 1 when the task type's alpha is at or above the threshold, else alpha / threshold
  (clipped to [0, 1]); blocked task types are only present with `include_blocked`.
- reversal factor (policy `downweight`): 1 / (1 + n_reversals), n_reversals = within-rater swaps that
  followed the display position plus 1 if the per-order majorities flip; `discard` drops reversed
  pairs, `keep` leaves the weight alone. Reversals are flagged in provenance under every policy.

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
from tether.records import Comparison, PreferencePair


@dataclass
class CurationResult:
    pairs: list[PreferencePair]
    counts: dict[str, int] = field(default_factory=dict)


def _task_factor(result: AuditResult, task_type: str) -> float:
    verdict = result.verdicts[task_type]
    threshold = result.config.block_threshold
    if verdict.status != "ambiguous" or verdict.alpha is None:
        return 1.0
    return float(np.clip(verdict.alpha / threshold, 0.0, 1.0))


def curate(source: AuditResult | Iterable[Comparison], config: CurateConfig | None = None,
           audit_config: AuditConfig | None = None) -> CurationResult:
    """Turn an audit (or comparisons, audited first) into preference pairs with weights and flags."""
    config = config or CurateConfig()
    result = source if isinstance(source, AuditResult) else run_audit(source, audit_config)
    table = result.table
    counts = table.counts()
    n_judg = counts.sum(axis=1)
    rel_sum = np.bincount(table.item, weights=result.judgment_reliability, minlength=table.n_items)
    mean_rel = np.divide(rel_sum, n_judg, out=np.zeros(table.n_items), where=n_judg > 0)
    n_raters = np.bincount(np.unique(table.item * table.n_raters + table.rater) // table.n_raters,
                           minlength=table.n_items)
    use_bt = config.soft_labels == "bradley_terry" and result.item_bt_proba is not None
    proba = result.item_bt_proba if use_bt else result.item_posteriors
    label_model = "bradley_terry" if use_bt else "dawid_skene"
    swaps = result.swaps
    blocked = set(result.blocked_task_types)
    tally = {"items": table.n_items, "pairs": 0, "ties": 0, "excluded_blocked": 0, "discarded_reversal": 0,
             "downweighted_reversal": 0, "dropped_zero_weight": 0}
    pairs: list[PreferencePair] = []
    for i, e in enumerate(table.examples):
        is_blocked = e.task_type in blocked
        if is_blocked and not config.include_blocked:
            tally["excluded_blocked"] += 1
            continue
        n_rev = int(swaps.item_reversals[i]) + int(swaps.item_across_reversal[i])
        if n_rev and config.policy == "discard":
            tally["discarded_reversal"] += 1
            continue
        weight = mean_rel[i] * _task_factor(result, e.task_type)
        if n_rev and config.policy == "downweight":
            weight /= 1 + n_rev
            tally["downweighted_reversal"] += 1
        if weight <= 0:
            tally["dropped_zero_weight"] += 1
            continue
        p = proba[i]
        # Ties come from Dawid–Skene: Davidson's single tie rate rarely makes a tie the likeliest outcome.
        tie = bool(result.item_posteriors[i].argmax() == TIE)
        if tie:
            chosen, p_chosen = A, 0.5
        else:
            chosen = A if p[A] >= p[B] else B
            p_chosen = float(np.clip(p[chosen] / max(p[A] + p[B], 1e-12), 0.5, 1.0))
        ds = result.item_posteriors[i]
        disagree = use_bt and not tie and (ds[A] >= ds[B]) != (chosen == A)
        majority_share = float(counts[i].max() / n_judg[i])
        flags = [name for name, on in (
            ("reversal", n_rev > 0),
            ("low_agreement", n_judg[i] >= 2 and majority_share < config.low_agreement_share),
            ("single_judgment", n_judg[i] < 2),
            ("blocked_task_type", is_blocked),
            ("label_models_disagree", disagree),
        ) if on]
        provenance: dict[str, Any] = {
            "pair_id": e.pair_id,
            "task_type": e.task_type,
            "n_judgments": int(n_judg[i]),
            "n_raters": int(n_raters[i]),
            "votes": {name: int(counts[i, k]) for k, name in enumerate(LABEL_NAMES)},
            "label_model": label_model,
            "p_dawid_skene": [round(float(x), 6) for x in result.item_posteriors[i]],
            "mean_reliability": round(float(mean_rel[i]), 6),
            "judged_both_orders": bool(swaps.item_swapped[i]),
            "reversal": n_rev > 0,
            "n_reversals": n_rev,
            "low_agreement": "low_agreement" in flags,
            "blocked_task_type": is_blocked,
            "flags": flags,
            "policy": config.policy,
        }
        if use_bt:
            provenance["p_bradley_terry"] = [round(float(x), 6) for x in p]
        a_chosen = chosen == A
        pairs.append(PreferencePair(
            prompt=e.prompt,
            chosen=e.response_a if a_chosen else e.response_b,
            rejected=e.response_b if a_chosen else e.response_a,
            weight=float(weight),
            p_chosen=p_chosen,
            tie=tie,
            objective=e.objective,
            provenance=provenance,
        ))
        tally["pairs"] += 1
        tally["ties"] += int(tie)
    return CurationResult(pairs, tally)
