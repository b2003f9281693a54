"""The 0.4 rule: is a task type's rubric ambiguous, are some raters unreliable, or is there only one rater?

Agreement for the rule is Krippendorff's alpha (nominal) between *different* raters
(`agreement.between_rater_alpha`): a rater's second judgment of an item is their self-consistency,
not agreement with anyone. Per task type:

- `self-consistency`: fewer than `min_items_to_judge` items have two raters, but enough were judged
  twice by one rater (e.g. one LLM judge in both display orders). That alpha measures the rater, not
  the rubric: reported, never blocked.
- `insufficient`: too little overlap to judge.
- `ok`: alpha over all raters is at or above the threshold.
- Below it, the rule looks at the *qualified* raters. Qualification never uses the items it is judged
  on: items are split into `qualification_folds` folds per task type, and a judgment counts as
  qualified when its rater's reliability, fitted on the other folds only (gold items there included),
  is at least `qualified_reliability` (cross-fitting).
  - qualified alpha below the threshold, or too little qualified overlap: `ambiguous` (blocked).
  - qualified alpha at or above it: the gap comes from the excluded raters. Each is checked for
    evidence that does not depend on agreeing with anyone: a significant first- or second-position
    preference, self-consistency across display orders below the qualified raters', gold accuracy
    below theirs (careless), or, for care, self-consistency or gold accuracy as good as theirs, or
    like-minded excluded raters (a second reading of the rubric: alpha among them at or above the
    threshold). Careful raters who disagree make the rubric `ambiguous` (blocked, naming them);
    otherwise the status is `unreliable-raters`: the rubric is fine, the named raters are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.audit.agreement import Estimate, between_rater_alpha, count_metrics, disputed_items
from tether.audit.config import AuditConfig
from tether.audit.labels import LabelTable
from tether.audit.position import FirstPositionRate, SwapConsistency, swap_analysis
from tether.audit.reliability import rate_raters

BLOCKING = ("ambiguous",)
MIN_EVIDENCE = 10  # swapped pairs or gold items a rater needs before their own numbers count as evidence


@dataclass
class TaskVerdict:
    """The 0.4 rule applied to one task type."""

    task_type: str
    status: str  # ok | unreliable-raters | ambiguous (blocked) | self-consistency | insufficient
    alpha: float | None  # the alpha the verdict rests on
    message: str
    disputed: list[dict[str, Any]] = field(default_factory=list)
    basis: str = "all raters"  # whose judgments `alpha` was computed on
    n_items: int = 0
    alpha_all: float | None = None  # between all raters
    alpha_qualified: float | None = None  # between raters qualified on held-out items or gold
    n_items_qualified: int = 0
    qualification: str = ""  # how raters were qualified
    excluded_raters: list[dict[str, Any]] = field(default_factory=list)  # left out of alpha_qualified, and why
    dissenting_raters: list[str] = field(default_factory=list)  # careful raters who read the rubric differently
    rule_raters: str = "all"  # whose judgments the rule ran on: human | all | ai (no human judged the task type)

    @property
    def blocked(self) -> bool:
        return self.status in BLOCKING

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RuleInputs:
    """What the rule reads besides the judgments: qualification and the raters' independent evidence."""

    qualified: np.ndarray | None  # per judgment (full table), or None when judged on everyone
    held_out_reliability: np.ndarray  # per judgment: its rater's reliability fitted without its fold (NaN: none)
    first_position: dict[str, FirstPositionRate]
    gold: dict[str, tuple[int, float | None]]  # rater -> (gold items judged, gold accuracy)
    qualification: str = ""


def _r(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 3)


def _wilson_high(k: int, n: int, z: float = 1.96) -> float:
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre + spread) / (1 + z * z / n))


def _repeat_only(table: LabelTable, mask: np.ndarray) -> np.ndarray:
    """Items (full codes) whose judgments in `mask` come from one rater who judged them at least twice."""
    items, raters = table.item[mask], table.rater[mask]
    n_raters = np.bincount(np.unique(items * max(table.n_raters, 1) + raters) // max(table.n_raters, 1),
                           minlength=table.n_items)
    n_judg = np.bincount(items, minlength=table.n_items)
    return (n_raters == 1) & (n_judg >= 2)


def judge_task_type(task_type: str, table: LabelTable, rated: LabelTable, mask: np.ndarray,
                    inputs: RuleInputs, config: AuditConfig) -> TaskVerdict:
    """The rule for the task type whose judgments are `mask` (canonical `table`, `rated` in the audit's frame)."""
    boot = {"n_boot": config.n_bootstrap, "seed": config.seed, "level": config.confidence}
    sub = rated.subset(mask)
    est_all = between_rater_alpha(sub, **boot)
    need = config.min_items_to_judge
    if est_all.n_items < need or not np.isfinite(est_all.value):
        return _too_little(task_type, table, rated, mask, est_all, config)
    alpha_all = est_all.value
    verdict = TaskVerdict(task_type, "ok", _r(alpha_all), "", basis="all raters", n_items=est_all.n_items,
                          alpha_all=_r(alpha_all), qualification=inputs.qualification)
    threshold = config.block_threshold
    est_q = None
    if inputs.qualified is not None:
        est_q = between_rater_alpha(rated.subset(mask & inputs.qualified), **boot)
        verdict.alpha_qualified, verdict.n_items_qualified = _r(est_q.value), est_q.n_items
    if alpha_all >= threshold:
        verdict.message = f"Krippendorff's alpha between all raters {alpha_all:.3f} is at or above {threshold}"
        return verdict
    canonical_sub = table.subset(mask)
    verdict.disputed = disputed_items(canonical_sub, config.n_disputed)
    if est_q is None or est_q.n_items < need or not np.isfinite(est_q.value):
        why = "" if est_q is None else (f"; the raters qualified on held-out items share only {est_q.n_items} items "
                                        f"(need {need}), so the rule rests on everyone")
        return _ambiguous(verdict, est_all, "all raters", threshold, why)
    if est_q.value < threshold:
        return _ambiguous(verdict, est_q, "qualified raters", threshold,
                          f" (between all raters {alpha_all:.3f}): the qualified raters disagree too")
    return _explain_gap(verdict, table, rated, mask, inputs, (est_all, est_q), config)


def _too_little(task_type: str, table: LabelTable, rated: LabelTable, mask: np.ndarray, est: Estimate,
                config: AuditConfig) -> TaskVerdict:
    """`self-consistency` (one rater judged the items twice) or `insufficient`."""
    need = config.min_items_to_judge
    repeat = _repeat_only(rated, mask)
    if int(repeat.sum()) >= need and est.n_items < need:
        counts = rated.counts()[repeat]
        own = count_metrics(counts, n_boot=config.n_bootstrap, seed=config.seed,
                            level=config.confidence)["krippendorff_alpha_nominal"]
        names = sorted({rated.rater_names[r] for r in np.unique(rated.rater[mask & repeat[rated.item]])})
        swaps = swap_analysis(table.subset(mask)).within_rater
        consistency = "" if not swaps.n_swapped else (
            f"; the same verdict in both display orders on {swaps.consistent} of {swaps.n_swapped} swapped pairs")
        return TaskVerdict(
            task_type, "self-consistency", _r(own.value),
            f"{int(repeat.sum())} items were judged more than once by a single rater ({', '.join(names)}) and only "
            f"{est.n_items} by two raters: alpha {own.value:.3f} over the repeated judgments measures those raters' "
            f"self-consistency{consistency}, not the rubric. The 0.4 rule needs two raters per item; not blocked. "
            f"Add a second rater or judge to test the rubric.", basis="one rater, repeated judgments",
            n_items=int(repeat.sum()), alpha_all=_r(est.value))
    return TaskVerdict(task_type, "insufficient", _r(est.value),
                       f"only {est.n_items} items were judged by two or more raters (need {need}): add overlap "
                       "before judging this rubric", n_items=est.n_items, alpha_all=_r(est.value))


def _ambiguous(verdict: TaskVerdict, est: Estimate, basis: str, threshold: float, why: str) -> TaskVerdict:
    ci = f" (CI {est.ci_low:.3f} to {est.ci_high:.3f})" if np.isfinite(est.ci_low) else ""
    verdict.status, verdict.alpha, verdict.basis = "ambiguous", _r(est.value), basis
    verdict.message = (f"Krippendorff's alpha between {basis} {est.value:.3f}{ci} is below {threshold}{why}: raters "
                       "do not read this rubric the same way. Its campaigns are blocked from scaling until the rubric "
                       "is revised; start with the most-disputed examples.")
    return verdict


def position_evidence(rate: FirstPositionRate | None, swap: SwapConsistency | None, pooled_swap: tuple[int, int],
                      whom: str) -> tuple[list[str], list[str]]:
    """(signs of carelessness, signs of care) from display order alone: a significant first- or second-position
    preference, or keeping verdicts through a display swap less often than `whom` (pooled_swap: their consistent,
    swapped pairs). The same test for every rater, person or model."""
    careless, careful = [], []
    if rate is not None and rate.n >= MIN_EVIDENCE and rate.p_value < 1e-3 and abs(rate.rate - 0.5) >= 0.1:
        careless.append(f"picks the {'first' if rate.rate > 0.5 else 'second'}-shown response {rate.rate:.0%} of the "
                        f"time (p = {rate.p_value:.1g})")
    if swap is not None and swap.n_swapped >= MIN_EVIDENCE and pooled_swap[1]:
        own, theirs = swap.consistent / swap.n_swapped, pooled_swap[0] / pooled_swap[1]
        if _wilson_high(swap.consistent, swap.n_swapped) < theirs:
            careless.append(f"keeps its verdict through a display swap {own:.0%} of the time, {whom} {theirs:.0%}")
        else:
            careful.append(f"as self-consistent across display orders as {whom} ({own:.0%} vs {theirs:.0%})")
    return careless, careful


def _rater_evidence(name: str, swaps: dict[str, Any], pooled_swap: tuple[int, int], pooled_gold: tuple[int, int],
                    inputs: RuleInputs) -> tuple[list[str], list[str]]:
    """(signs of carelessness, signs of care) for an excluded rater, none of which depend on other raters' labels."""
    careless, careful = position_evidence(inputs.first_position.get(name), swaps.get(name), pooled_swap,
                                          "the qualified raters")
    n_gold, acc = inputs.gold.get(name, (0, None))
    if n_gold >= MIN_EVIDENCE and acc is not None and pooled_gold[1]:
        theirs = pooled_gold[0] / pooled_gold[1]
        if _wilson_high(round(acc * n_gold), n_gold) < theirs:
            careless.append(f"gold accuracy {acc:.0%} on {n_gold} items, the qualified raters {theirs:.0%}")
        else:
            careful.append(f"gold accuracy {acc:.0%} on {n_gold} items, as good as the qualified raters' {theirs:.0%}")
    return careless, careful


def _excluded_evidence(table: LabelTable, rated: LabelTable, mask: np.ndarray, inputs: RuleInputs,
                       config: AuditConfig) -> tuple[list[dict[str, Any]], list[str]]:
    """(one entry per rater left out of the qualified alpha, the careful ones among them)."""
    names = np.array(table.rater_names, dtype=object)
    qualified = inputs.qualified if inputs.qualified is not None else np.ones(table.n_judgments, dtype=bool)
    share = np.bincount(table.rater[mask], weights=qualified[mask], minlength=table.n_raters)
    n_judg = np.bincount(table.rater[mask], minlength=table.n_raters)
    judged = np.flatnonzero(n_judg)
    excluded = [r for r in judged if share[r] / n_judg[r] < 0.5]
    kept = [r for r in judged if r not in excluded]
    swaps = swap_analysis(table.subset(mask)).by_rater
    kept_swaps = [swaps[names[r]] for r in kept if names[r] in swaps]
    pooled_swap = (sum(s.consistent for s in kept_swaps), sum(s.n_swapped for s in kept_swaps))
    kept_gold = [(n, a) for n, a in (inputs.gold.get(names[r], (0, None)) for r in kept) if a is not None]
    pooled_gold = (sum(round(a * n) for n, a in kept_gold), sum(n for n, _ in kept_gold))
    report, dissenters, candidates = [], [], []
    for r in excluded:
        held_out = inputs.held_out_reliability[mask & (table.rater == r)]
        careless, careful = _rater_evidence(names[r], swaps, pooled_swap, pooled_gold, inputs)
        report.append({"rater": names[r], "n_judgments": int(n_judg[r]),
                       "held_out_reliability": _r(np.nanmean(held_out)) if np.isfinite(held_out).any() else None,
                       "careless": careless, "careful": careful})
        if careful and not careless:
            dissenters.append(names[r])
        elif not careless:
            candidates.append(r)
    if len(candidates) >= 2:  # like-minded excluded raters: a second reading of the rubric
        camp = between_rater_alpha(rated.subset(mask & np.isin(table.rater, candidates)), n_boot=0)
        if camp.n_items >= config.min_items_to_judge and camp.value >= config.block_threshold:
            members = {names[r] for r in candidates}
            dissenters.extend(sorted(members))
            for entry in report:
                if entry["rater"] in members:
                    entry["careful"].append(f"agrees with the other excluded raters (alpha {camp.value:.3f} over "
                                            f"{camp.n_items} items): a second reading of the rubric")
    return report, sorted(dissenters)


def _explain_gap(verdict: TaskVerdict, table: LabelTable, rated: LabelTable, mask: np.ndarray, inputs: RuleInputs,
                 estimates: tuple[Estimate, Estimate], config: AuditConfig) -> TaskVerdict:
    """Qualified raters agree, everyone does not: unreliable raters, or careful raters with another reading?"""
    est_all, est_q = estimates
    threshold = config.block_threshold
    verdict.excluded_raters, verdict.dissenting_raters = _excluded_evidence(table, rated, mask, inputs, config)
    if not verdict.excluded_raters:  # no rater is mostly left out: nobody to blame but the rubric
        return _ambiguous(verdict, est_all, "all raters", threshold,
                          f" (qualified judgments {est_q.value:.3f}, but no rater was left out on most of theirs)")
    if verdict.dissenting_raters:
        who = ", ".join(verdict.dissenting_raters)
        return _ambiguous(verdict, est_all, "all raters", threshold,
                          f" and the raters qualified on held-out items reach {est_q.value:.3f} only without {who}, "
                          "who show no sign of carelessness: the rubric splits careful raters")
    verdict.status, verdict.alpha, verdict.basis = "unreliable-raters", _r(est_q.value), "qualified raters"
    verdict.disputed = []
    who = "; ".join(f"{e['rater']} ({', '.join(e['careless']) or _no_evidence(e)})" for e in verdict.excluded_raters)
    verdict.message = (f"Krippendorff's alpha between all raters {est_all.value:.3f} is below {threshold}, but "
                       f"between the raters qualified on held-out items it is {est_q.value:.3f} over "
                       f"{est_q.n_items} items: the rubric is fine, these raters are not: {who}. Not blocked; their "
                       "judgments count at their reliability.")
    return verdict


def _no_evidence(entry: dict[str, Any]) -> str:
    rel = entry["held_out_reliability"]
    shown = "n/a" if rel is None else f"{rel:.2f}"
    return (f"held-out reliability {shown}; no sign either way from position, display swaps, gold or like-minded "
            "raters")


# -- qualification without the items it is judged on ------------------------------------------------


def crossfit_reliability(table: LabelTable, config: AuditConfig) -> np.ndarray:
    """Per judgment: its rater's reliability fitted on the other folds' items of the same objective (NaN: none).

    Items are dealt into `config.qualification_folds` folds per task type (seeded). The fit is the audit's
    own (`rate_raters`, gold shrinkage included, gold items of the held-out fold left out with it); a
    rater the other folds cannot check (no overlap, no gold) gets NaN, i.e. is not qualified.
    """
    k = config.qualification_folds
    rng = np.random.default_rng(config.seed)
    task_types = np.array([e.task_type for e in table.examples], dtype=object)
    objectives = np.array([e.objective for e in table.examples], dtype=object)
    fold = np.zeros(table.n_items, dtype=np.int64)
    for t in sorted(set(task_types.tolist())):
        idx = rng.permutation(np.flatnonzero(task_types == t))
        fold[idx] = np.arange(idx.size) % k
    out = np.full(table.n_judgments, np.nan)
    judgment_fold = fold[table.item]
    for objective in sorted(set(objectives.tolist())):
        in_objective = (objectives == objective)[table.item]
        for f in range(k):
            test = in_objective & (judgment_fold == f)
            train = in_objective & (judgment_fold != f)
            if not test.any() or not train.any():
                continue
            rel = rate_raters(table.subset(train), gold=config.gold, gold_prior_strength=config.gold_prior_strength,
                              spammer_competence=config.spammer_competence, n_iter=config.label_model_iterations,
                              unknown_reliability=config.unknown_reliability)
            by_name = np.array([rel.raters[n].reliability if n in rel.raters and rel.raters[n].reliability_estimated
                                else np.nan for n in table.rater_names])
            out[test] = by_name[table.rater[test]]
    return out
