"""`run_audit`: agreement, rater reliability and position bias of a set of comparisons, in one result.

The primary agreement metric is Krippendorff's alpha (nominal): unlike Fleiss' kappa and Cohen's
kappa it is defined for any number of raters per item and missing judgments, corrects for small
samples, and treats a tie as its own answer rather than a half-way point, which is the conservative
reading of a rubric (the ordinal variant, a < tie < b, is reported beside it). A task type whose
alpha is below `block_threshold` (0.4) is an ambiguous rubric and is blocked for scaling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tether.audit.agreement import PRIMARY_METRIC, Agreement, Estimate, measure_agreement
from tether.audit.config import AuditConfig
from tether.audit.labels import LabelTable, build_table
from tether.audit.position import FirstPositionRate, SwapAnalysis, first_position_rate, rates_by, swap_analysis
from tether.audit.position_model import PositionModel, fit_position_model
from tether.audit.rater_kind import (
    AI,
    HUMAN,
    agreement_by_kind,
    ai_judgments,
    ai_rater_names,
    human_majority_agreement,
    position_flags,
)
from tether.audit.reliability import Reliability, rate_raters
from tether.audit.rubric import RuleInputs, TaskVerdict, crossfit_reliability, judge_task_type
from tether.records import Comparison


@dataclass
class AuditResult:
    """Everything the audit found; `to_dict()` is the stable JSON of `tether audit --json`."""

    config: AuditConfig
    table: LabelTable
    agreement_overall: Agreement
    agreement_by_task_type: dict[str, Agreement]
    agreement_by_group: dict[tuple[str, str], Agreement]
    verdicts: dict[str, TaskVerdict]
    reliability: dict[str, Reliability]  # per objective
    rater_summary: dict[str, dict[str, Any]]
    position_overall: FirstPositionRate
    position_by: dict[str, dict[str, FirstPositionRate]]  # rater / interface / campaign / batch
    swaps: SwapAnalysis
    position_models: dict[str, PositionModel]  # per objective
    item_posteriors: np.ndarray  # (n_items, 3) Dawid–Skene, full-table item codes
    item_bt_proba: np.ndarray | None  # (n_items, 3) position-free, reliability-weighted Bradley–Terry, or None
    judgment_reliability: np.ndarray  # per judgment: its rater's reliability on that objective
    ai_raters: set[str] = field(default_factory=set)  # raters that are models (tether.audit.rater_kind)
    agreement_by_kind: dict[str, Estimate] = field(default_factory=dict)  # human / ai / all: between-rater alpha

    @property
    def blocked_task_types(self) -> list[str]:
        return sorted(t for t, v in self.verdicts.items() if v.blocked)

    def to_dict(self) -> dict[str, Any]:
        """The audit's numbers under stable keys (see the module docs of tether.audit)."""
        by_rater: dict[str, dict[str, Any]] = {}
        for name, rate in self.position_by["rater"].items():
            by_rater[name] = rate.as_dict()
        for name, swap in self.swaps.by_rater.items():
            by_rater.setdefault(name, {}).update(swap.as_dict())
        for objective, model in self.position_models.items():
            for name, shift in model.rater_position.items():
                by_rater.setdefault(name, {}).setdefault("bt_position", {})[objective] = shift
        for name in self.table.rater_names:
            entry = by_rater.setdefault(name, {})
            entry.setdefault("n_swapped", 0)
            for key in ("swap_consistency", "favoured_first", "favoured_second"):
                entry.setdefault(key, None)
        by_objective: dict[str, dict[str, Any]] = {}
        for (task_type, objective), agreement in self.agreement_by_group.items():
            by_objective.setdefault(objective, {})[task_type] = agreement.as_dict()
        return _clean({
            "n_judgments": self.table.n_judgments,
            "n_items": self.table.n_items,
            "n_raters": self.table.n_raters,
            "primary_metric": PRIMARY_METRIC,
            "label_frame": self.config.label_frame,
            "block_threshold": self.config.block_threshold,
            "rule_raters": self.config.rule_raters,
            "ai_raters": sorted(self.ai_raters),
            "blocked_task_types": self.blocked_task_types,
            "task_types": {t: v.as_dict() for t, v in self.verdicts.items()},
            "agreement": {
                "overall": self.agreement_overall.as_dict(),
                "by_task_type": {t: a.as_dict() for t, a in self.agreement_by_task_type.items()},
                "by_objective": by_objective,
                "by_rater_kind": {k: e.as_dict() for k, e in self.agreement_by_kind.items()},
            },
            "raters": self.rater_summary,
            "position": {
                "overall": self.position_overall.as_dict(),
                "by_rater": by_rater,
                **{f"by_{kind}": {k: r.as_dict() for k, r in rates.items()}
                   for kind, rates in self.position_by.items() if kind != "rater"},
                "swap": {"within_rater": self.swaps.within_rater.as_dict(),
                         "across_raters": self.swaps.across_raters.as_dict()},
                "bradley_terry": {o: m.as_dict() for o, m in self.position_models.items()},
            },
        })


def _clean(obj: Any) -> Any:
    """NaN and infinities become None (JSON has no NaN); numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _parent_items(table: LabelTable, mask: np.ndarray) -> np.ndarray:
    """Full-table item codes of a subset's items, in the subset's code order (as LabelTable.subset)."""
    return np.unique(table.item[mask])


def _summarise_raters(table: LabelTable, per_objective: dict[str, Reliability],
                      n_by_objective: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """One entry per rater: judgments-weighted reliability over objectives, and details per objective."""
    out: dict[str, dict[str, Any]] = {}
    for name in table.rater_names:
        entries = {o: rel.raters[name] for o, rel in per_objective.items() if name in rel.raters}
        weights = np.array([n_by_objective[o][name] for o in entries], dtype=np.float64)
        first = next(iter(entries.values()))

        def mean(attr: str, entries=entries, weights=weights) -> float | None:
            vals = np.array([np.nan if getattr(s, attr) is None else getattr(s, attr) for s in entries.values()],
                            dtype=np.float64)
            ok = np.isfinite(vals) & (weights > 0)
            return float(np.average(vals[ok], weights=weights[ok])) if ok.any() else None

        gold_n = sum(s.gold_n for s in entries.values())
        gold_hits = sum((s.gold_accuracy or 0.0) * s.gold_n for s in entries.values())
        out[name] = {
            "reliability": mean("reliability"),
            "n_judgments": int(weights.sum()),
            "ds_accuracy": mean("ds_accuracy"),
            "one_coin_skill": mean("one_coin_skill"),
            "mace_competence": mean("mace_competence"),
            "spammer": any(s.spammer for s in entries.values()),
            "reliability_estimated": any(s.reliability_estimated for s in entries.values()),
            "consensus_agreement": mean("consensus_agreement"),
            "gold_n": gold_n,
            "gold_accuracy": gold_hits / gold_n if gold_n else None,
            "verbosity_preference": mean("verbosity_preference"),
            "by_objective": {o: s.as_dict() for o, s in entries.items()} if len(entries) > 1 else {},
            "confusion": first.confusion if len(entries) == 1 else None,
        }
    return out


def run_audit(comparisons: Iterable[Comparison] | LabelTable, config: AuditConfig | None = None) -> AuditResult:
    """Audit comparisons: agreement per task type (0.4 rule), rater reliability, position bias."""
    config = config or AuditConfig()
    table = comparisons if isinstance(comparisons, LabelTable) else build_table(comparisons)
    if table.n_judgments == 0:
        raise ValueError("no comparisons to audit")
    rated = table.in_display_frame() if config.label_frame == "display" else table
    by_task = rated.by_task_type()
    overall, agreement_by_task, agreement_by_group = _agreement(rated, by_task, config)
    fits = _fit_by_objective(table, config)
    position_by = {kind: rates_by(table, getattr(table, kind), getattr(table, f"{kind}_names"), config.confidence)
                   for kind in ("rater", "interface", "campaign", "batch")}
    rater_summary = _summarise_raters(table, fits.reliability, fits.n_by_objective)
    ai_names = ai_rater_names(table, config.ai_raters)
    ai = ai_judgments(table, ai_names)
    swaps = swap_analysis(table)
    flags = position_flags(table.rater_names, position_by["rater"], swaps.by_rater, ai_names)
    majority = human_majority_agreement(rated, ai)
    for name, entry in rater_summary.items():
        entry.update(kind=AI if name in ai_names else HUMAN, flags=flags[name], human_majority=majority[name])
    verdicts = _rule_verdicts(table, rated, by_task, position_by["rater"], rater_summary, config, ai)
    return AuditResult(
        config=config,
        table=table,
        agreement_overall=overall,
        agreement_by_task_type=agreement_by_task,
        agreement_by_group=agreement_by_group,
        verdicts=verdicts,
        reliability=fits.reliability,
        rater_summary=rater_summary,
        position_overall=first_position_rate(table.label, table.shown_first, config.confidence),
        position_by=position_by,
        swaps=swaps,
        position_models=fits.models,
        item_posteriors=fits.posteriors,
        item_bt_proba=fits.bt_proba,
        judgment_reliability=fits.judgment_reliability,
        ai_raters=ai_names,
        agreement_by_kind=agreement_by_kind(rated, ai, n_boot=config.n_bootstrap, seed=config.seed,
                                            level=config.confidence),
    )


def _agreement(rated: LabelTable, by_task: dict[str, LabelTable], config: AuditConfig
               ) -> tuple[Agreement, dict[str, Agreement], dict[tuple[str, str], Agreement]]:
    """Agreement overall, per task type and per (task type, objective), each measured once."""
    boot = {"min_shared": config.min_shared_items, "n_boot": config.n_bootstrap, "seed": config.seed,
            "level": config.confidence}
    by_task_type = {t: measure_agreement(sub, **boot) for t, sub in by_task.items()}
    overall = next(iter(by_task_type.values())) if len(by_task) == 1 else measure_agreement(rated, **boot)
    groups = rated.groups()
    by_group = (
        {k: measure_agreement(sub, **boot) for k, sub in groups.items()}
        if len({o for _, o in groups}) > 1 else {k: by_task_type[k[0]] for k in groups}
    )
    return overall, by_task_type, by_group


@dataclass
class _Fits:
    """Label and position models fitted per objective, mapped back to full-table items and judgments."""

    posteriors: np.ndarray  # (n_items, 3) Dawid–Skene
    bt_proba: np.ndarray | None  # (n_items, 3) reliability-weighted Bradley–Terry, or None
    judgment_reliability: np.ndarray  # (n_judgments,)
    reliability: dict[str, Reliability] = field(default_factory=dict)
    n_by_objective: dict[str, dict[str, int]] = field(default_factory=dict)
    models: dict[str, PositionModel] = field(default_factory=dict)


def _fit_by_objective(table: LabelTable, config: AuditConfig) -> _Fits:
    """One fit of the label models and position models per objective (rater confusions span task types)."""
    objectives = np.array([e.objective for e in table.examples], dtype=object)
    judgment_objective = objectives[table.item]
    fits = _Fits(np.zeros((table.n_items, 3)), np.zeros((table.n_items, 3)) if config.position_model else None,
                 np.zeros(table.n_judgments))
    for objective in sorted(set(objectives.tolist())):
        mask = judgment_objective == objective
        sub = table.subset(mask)
        parent = _parent_items(table, mask)
        rel = rate_raters(sub, gold=config.gold, gold_prior_strength=config.gold_prior_strength,
                          spammer_competence=config.spammer_competence, n_iter=config.label_model_iterations,
                          unknown_reliability=config.unknown_reliability)
        fits.reliability[objective] = rel
        fits.n_by_objective[objective] = {name: stats.n_judgments for name, stats in rel.raters.items()}
        fits.posteriors[parent] = rel.posteriors
        fits.judgment_reliability[np.flatnonzero(mask)] = rel.rater_reliability[sub.rater]
        if fits.bt_proba is not None:
            # Two fits: unweighted for each rater's own position effect (reported); weighted by rater
            # reliability for the soft labels, so spammers and novices do not move them.
            fits.models[objective] = fit_position_model(sub, fallback=rel.posteriors, name=f"objective {objective!r}")
            weights = rel.rater_reliability[sub.rater]
            fits.bt_proba[parent] = fit_position_model(sub, fallback=rel.posteriors, sample_weight=weights).proba
    return fits


def _rule_verdicts(table: LabelTable, rated: LabelTable, by_task: dict[str, LabelTable],
                   position_by_rater: dict[str, FirstPositionRate], rater_summary: dict[str, dict[str, Any]],
                   config: AuditConfig, ai: np.ndarray) -> dict[str, TaskVerdict]:
    """The 0.4 rule on the human raters' judgments (config.rule_raters 'human'), or on everyone's ('all').

    An AI judge agreeing or disagreeing with people says nothing about whether *people* read the rubric the
    same way, so by default it neither rescues nor blocks a rubric; a task type no human judged (an audit of
    LLM reviewers alone) is judged on its AI raters, and its verdict says so."""
    if config.rule_raters == "all" or not ai.any():
        verdicts = _verdicts(table, rated, by_task, position_by_rater, rater_summary, config)
        kind = "all" if (~ai).any() else "ai (no human judgments)"
        for v in verdicts.values():
            v.rule_raters = kind
        return verdicts
    task_types = np.array([e.task_type for e in table.examples], dtype=object)[table.item]
    with_humans = set(task_types[~ai].tolist())
    out: dict[str, TaskVerdict] = {}
    if with_humans:
        people, people_rated = table.subset(~ai), rated.subset(~ai)
        by_task_people = {t: sub for t, sub in people_rated.by_task_type().items() if t in with_humans}
        for t, v in _verdicts(people, people_rated, by_task_people, position_by_rater, rater_summary,
                              config).items():
            v.rule_raters = HUMAN
            out[t] = v
    only_ai = {t: sub for t, sub in by_task.items() if t not in with_humans}
    if only_ai:
        for t, v in _verdicts(table, rated, only_ai, position_by_rater, rater_summary, config).items():
            v.rule_raters = "ai (no human judgments)"
            out[t] = v
    return {t: out[t] for t in by_task}


def _verdicts(table: LabelTable, rated: LabelTable, by_task: dict[str, LabelTable],
              position_by_rater: dict[str, FirstPositionRate], rater_summary: dict[str, dict[str, Any]],
              config: AuditConfig) -> dict[str, TaskVerdict]:
    """The 0.4 rule per task type (see `tether.audit.rubric`).

    The rule asks whether the rubric is ambiguous, not whether some raters are bad (that is the
    reliability section's job), so a pool diluted with spammers or novices does not block a clear
    rubric; but raters are qualified on items held out from the agreement they are judged by (and on
    gold), and raters left out are named, with the evidence, or make the rubric ambiguous when nothing
    says they are careless.
    """
    qualify = config.rubric_basis == "qualified"
    held_out = crossfit_reliability(table, config) if qualify else np.full(table.n_judgments, np.nan)
    qualified = held_out >= config.qualified_reliability if qualify else None
    how = (f"reliability >= {config.qualified_reliability} fitted on held-out items "
           f"({config.qualification_folds}-fold cross-fitting{', gold included' if config.gold else ''})")
    inputs = RuleInputs(qualified, held_out, position_by_rater,
                        {n: (r["gold_n"], r["gold_accuracy"]) for n, r in rater_summary.items()},
                        how if qualify else "none (rubric_basis='all')")
    task_types = np.array([e.task_type for e in table.examples], dtype=object)[table.item]
    return {t: judge_task_type(t, table, rated, task_types == t, inputs, config) for t in by_task}
