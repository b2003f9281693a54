"""Reward-model audit against outcomes: does the reward model score what works above what fails?

`audit_outcomes(rows)` takes scored responses with outcomes (`tether.outcomes.scored`) and measures, overall and
per slice (task type, language, model, response-length tertile), AUC, within-prompt pairwise accuracy, Spearman
and Kendall correlation, calibration and best-of-n selection against random and oracle selection, each with a
seeded bootstrap interval over prompts; it lists the cases where the reward model prefers a failing response to
a passing one for the same prompt, and states a verdict in words.

Slice against rest: for each slice, the AUC on the slice minus the AUC on every other response, with one bootstrap
interval per slice, all computed on the same resamples of prompts. A slice whose interval lies wholly below 0 is
"worse than the rest": the reward model ranks outcomes there worse than elsewhere, whatever its level overall (a
model barely above chance everywhere can still be measurably worse on one slice). Each interval has the audit's
coverage on its own; with k slices compared, about k x (1 - level) / 2 of them would fall below 0 by chance where no
slice differs, so `AuditConfig.slice_level` can set a stricter one (e.g. Bonferroni, 1 - (1 - level) / k).
Disagreement cases on such slices are listed first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tether.outcomes import metrics as m
from tether.outcomes.scored import ScoredResponse

__all__ = ["AuditConfig", "SliceAudit", "SliceGap", "Disagreement", "OutcomeAudit", "audit_outcomes", "length_buckets",
           "n_slices"]


@dataclass
class AuditConfig:
    """Settings of one audit (plain values)."""

    n_boot: int = 1000          # bootstrap resamples of prompts for each interval
    seed: int = 0               # seed of the bootstrap and of the calibration folds
    level: float = 0.95         # interval coverage
    pass_threshold: float = 0.5  # an outcome value at or above this passes
    n_bins: int = 10            # calibration bins
    min_slice: int = 20         # slices smaller than this (or with fewer than 5 of a class) get no verdict
    max_cases: int = 200        # disagreement cases listed
    slice_level: float | None = None  # coverage of the slice-against-rest intervals (None: `level`)


@dataclass
class SliceAudit:
    """Every metric on one set of responses (all of them, or one slice)."""

    n: int
    n_passed: int
    n_prompts: int
    pass_rate: float
    auc: m.Estimate
    pairwise: m.Estimate        # within-prompt pairwise accuracy (over pass/fail pairs of the same prompt)
    n_pairs: int
    spearman: m.Estimate
    kendall: m.Estimate
    ece_sigmoid: m.Estimate     # sigmoid(score) read as P(pass)
    ece_fitted: float           # cross-fitted logistic map of the score
    best_of_n: m.Estimate       # pass rate of the top-scored response, prompts with n >= 2
    random: m.Estimate          # expected pass rate of a random pick, same prompts
    oracle: m.Estimate          # share of those prompts with any passing response
    gain_over_random: m.Estimate
    n_bon_prompts: int
    reliability: dict[str, list[float]] = field(default_factory=dict)         # sigmoid(score) bins
    reliability_fitted: dict[str, list[float]] = field(default_factory=dict)  # logistic-map bins


@dataclass
class SliceGap:
    """One slice against every other response: AUC there minus AUC on the rest, with its bootstrap interval."""

    key: str
    value: str
    n: int
    n_rest: int
    auc: float
    auc_rest: float
    gap: m.Estimate             # auc - auc_rest
    worse: bool                 # the gap's interval lies wholly below 0


@dataclass
class Disagreement:
    """A prompt where the reward model scores a failing response above a passing one."""

    group: str
    prompt: str | None
    failing: str | None
    passing: str | None
    failing_score: float
    passing_score: float
    margin: float                # failing score - passing score
    beats_all_passing: bool      # best-of-n on this prompt picks a failure
    failing_line: int
    passing_line: int
    slices: dict[str, str]
    worse_slices: list[str] = field(default_factory=list)  # `key=value` of flagged slices the failing one is in


@dataclass
class OutcomeAudit:
    """The audit's result: overall, per slice, the disagreeing cases and the verdict."""

    overall: SliceAudit
    by_slice: dict[str, dict[str, SliceAudit]]
    disagreements: list[Disagreement]
    n_disagreeing_prompts: int
    verdict: list[str]
    config: AuditConfig
    slice_gaps: list[SliceGap] = field(default_factory=list)
    scores: list[float] = field(default_factory=list, repr=False)
    passed: list[bool] = field(default_factory=list, repr=False)

    @property
    def worse_slices(self) -> list[SliceGap]:
        """Slices where the reward model ranks outcomes worse than on the rest (gap interval below 0)."""
        return [g for g in self.slice_gaps if g.worse]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("scores"), out.pop("passed")
        return out


def length_buckets(rows: Sequence[ScoredResponse]) -> list[str]:
    """short / medium / long by tertiles of the response length in words (rows without text: `unknown`)."""
    lens = np.array([len(r.response.split()) if r.response is not None else -1 for r in rows], dtype=float)
    known = lens >= 0
    if not known.any():
        return ["unknown"] * len(rows)
    lo, hi = np.quantile(lens[known], [1 / 3, 2 / 3])
    return ["unknown" if x < 0 else "short" if x <= lo else "medium" if x <= hi else "long" for x in lens]


def _est(value: float, lo: float, hi: float, n: int) -> m.Estimate:
    if np.isnan(value):
        return m.Estimate(float("nan"), float("nan"), float("nan"), n)
    return m.Estimate(float(value), float(lo), float(hi), n)


def _slice_audit(scores: np.ndarray, values: np.ndarray, groups: np.ndarray, cfg: AuditConfig) -> SliceAudit:
    passed = values >= cfg.pass_threshold
    index = m.GroupIndex(groups)
    n = scores.size
    prob = m.sigmoid(scores)

    def row_stats(i: np.ndarray) -> np.ndarray:
        return np.append(m.rank_stats(scores[i], values[i], cfg.pass_threshold), m.ece(prob[i], passed[i], cfg.n_bins))

    point = row_stats(np.arange(n))
    lo, hi = m.bootstrap_many(row_stats, index, n_boot=cfg.n_boot, seed=cfg.seed, level=cfg.level)
    lo, hi = np.broadcast_to(lo, point.shape), np.broadcast_to(hi, point.shape)
    auc, spear, kend, ece_s = (_est(point[j], lo[j], hi[j], n) for j in range(4))
    fitted = m.crossfit_logistic(scores, passed, groups, cfg.seed)
    # per-prompt statistics: the bootstrap resamples the per-prompt arrays directly
    wins, pairs = m.pairwise_within(scores, passed, groups)
    has = pairs > 0
    w, p = wins[has], pairs[has]
    bon = m.best_of_n(scores, passed, groups)
    k = bon["selected"].size
    gain = bon["selected"] - bon["random"]
    cols = [bon["selected"], bon["random"], bon["oracle"], gain]

    def ratio(i: np.ndarray) -> np.ndarray:
        return np.array([w[i].sum() / p[i].sum() if i.size else np.nan])

    def means(i: np.ndarray) -> np.ndarray:
        return np.array([c[i].mean() if i.size else np.nan for c in cols])

    pw_lo, pw_hi = m.bootstrap_many(ratio, m.GroupIndex(np.arange(w.size)), n_boot=cfg.n_boot, seed=cfg.seed + 1,
                                    level=cfg.level)
    pairwise = _est(w.sum() / p.sum() if p.size else np.nan, pw_lo[0], pw_hi[0], int(p.sum()))
    b_point = means(np.arange(k))
    b_lo, b_hi = m.bootstrap_many(means, m.GroupIndex(np.arange(k)), n_boot=cfg.n_boot, seed=cfg.seed + 2,
                                  level=cfg.level)
    b_lo, b_hi = np.broadcast_to(b_lo, b_point.shape), np.broadcast_to(b_hi, b_point.shape)
    best, rand, orac, gain_e = (_est(b_point[j], b_lo[j], b_hi[j], k) for j in range(4))
    return SliceAudit(
        n=n, n_passed=int(passed.sum()), n_prompts=index.n_groups, pass_rate=float(passed.mean()) if n else np.nan,
        auc=auc, pairwise=pairwise, n_pairs=int(p.sum()), spearman=spear, kendall=kend, ece_sigmoid=ece_s,
        ece_fitted=m.ece(fitted, passed, cfg.n_bins), best_of_n=best, random=rand, oracle=orac,
        gain_over_random=gain_e, n_bon_prompts=k, reliability=m.reliability(prob, passed, cfg.n_bins),
        reliability_fitted=m.reliability(fitted, passed, cfg.n_bins))


def _slice_gaps(scores: np.ndarray, passed: np.ndarray, groups: np.ndarray, labels: dict[str, np.ndarray],
                cfg: AuditConfig) -> list[SliceGap]:
    """AUC on each slice minus AUC on the rest, every interval from the same resamples of prompts. Slices too
    small for a verdict (`min_slice`, 5 of each class), or whose rest lacks a class, are left out."""
    cells = []
    for key, arr in labels.items():
        values = sorted(set(arr.tolist()))
        if len(values) < 2:
            continue
        for v in values:
            inside = arr == v
            n_in, p_in, p_out = int(inside.sum()), int(passed[inside].sum()), int(passed[~inside].sum())
            n_out = passed.size - n_in
            if n_in >= cfg.min_slice and min(p_in, n_in - p_in) >= 5 and min(p_out, n_out - p_out) >= 1:
                cells.append((key, v, inside))
    if not cells:
        return []

    def gaps(i: np.ndarray) -> np.ndarray:
        s, p = scores[i], passed[i]
        out = np.empty(len(cells))
        for j, (_, _, inside) in enumerate(cells):
            ins = inside[i]
            out[j] = m.auc(s[ins], p[ins]) - m.auc(s[~ins], p[~ins])
        return out

    point = gaps(np.arange(scores.size))
    level = cfg.slice_level if cfg.slice_level is not None else cfg.level
    lo, hi = m.bootstrap_many(gaps, m.GroupIndex(groups), n_boot=cfg.n_boot, seed=cfg.seed + 3, level=level)
    lo, hi = np.broadcast_to(lo, point.shape), np.broadcast_to(hi, point.shape)
    out = []
    for j, (key, v, inside) in enumerate(cells):
        gap = _est(point[j], lo[j], hi[j], int(inside.sum()))
        out.append(SliceGap(key=key, value=str(v), n=int(inside.sum()), n_rest=int((~inside).sum()),
                            auc=m.auc(scores[inside], passed[inside]), auc_rest=m.auc(scores[~inside],
                                                                                      passed[~inside]),
                            gap=gap, worse=bool(gap.hi < 0)))
    return out


def _disagreements(rows: Sequence[ScoredResponse], scores: np.ndarray, passed: np.ndarray,
                   labels: dict[str, np.ndarray], worse: list[SliceGap]) -> list[Disagreement]:
    """Per prompt with both outcomes: its highest-scored failing response against the highest-scored passing
    response it outscores, if any; those on slices worse than the rest first, then most confident mistakes
    (largest margin) first."""
    by_group: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_group.setdefault(r.group, []).append(i)
    out = []
    for group, idx in by_group.items():
        fails = [i for i in idx if not passed[i]]
        passes = [i for i in idx if passed[i]]
        if not fails or not passes:
            continue
        f = max(fails, key=lambda i: scores[i])
        below = [i for i in passes if scores[i] < scores[f]]
        if not below:
            continue
        p = max(below, key=lambda i: scores[i])
        rf, rp = rows[f], rows[p]
        out.append(Disagreement(
            group=group, prompt=rf.prompt if rf.prompt is not None else rp.prompt, failing=rf.response,
            passing=rp.response, failing_score=float(scores[f]), passing_score=float(scores[p]),
            margin=float(scores[f] - scores[p]), beats_all_passing=len(below) == len(passes),
            failing_line=rf.line, passing_line=rp.line, slices=dict(rf.slices),
            worse_slices=[f"{g.key}={g.value}" for g in worse if labels[g.key][f] == g.value]))
    out.sort(key=lambda d: (not d.worse_slices, -d.margin, d.group))
    return out


def _strength(a: float) -> str:
    dist = abs(a - 0.5)
    return "strongly" if dist >= 0.3 else "moderately" if dist >= 0.2 else "weakly"


def _rank_words(e: m.Estimate) -> str:
    if e.lo > 0.5:
        return f"{_strength(e.value)} above chance"
    if e.hi < 0.5:
        return "below chance: it prefers what fails"
    return "only at chance"


def _verdict(overall: SliceAudit, by_slice: dict[str, dict[str, SliceAudit]], n_dis: int, cfg: AuditConfig,
             gaps: Sequence[SliceGap] = ()) -> list[str]:
    pct = f"{round(100 * cfg.level)}%"
    lines = []
    if not np.isnan(overall.auc.value):
        lines.append(f"Overall the reward model ranks passing above failing responses {_rank_words(overall.auc)} "
                     f"(AUC {overall.auc.describe()}, {pct} interval, {overall.n} responses).")
    else:
        lines.append("AUC is undefined overall: every response has the same outcome.")
    if overall.n_pairs:
        lines.append(f"Between responses to the same prompt it ranks the passing one higher in "
                     f"{100 * overall.pairwise.value:.1f}% of {overall.n_pairs} pass/fail pairs "
                     f"({100 * overall.pairwise.lo:.1f}-{100 * overall.pairwise.hi:.1f}%): "
                     f"{_rank_words(overall.pairwise)}.")
    if overall.n_bon_prompts:
        b, r, o, g = overall.best_of_n, overall.random, overall.oracle, overall.gain_over_random
        gap = o.value - r.value
        share = f"; it recovers {100 * g.value / gap:.0f}% of the gap to the oracle" if gap > 0 and g.lo > 0 else ""
        beat = ("beats random choice" if g.lo > 0 else "does worse than random choice" if g.hi < 0
                else "is not distinguishable from random choice")
        lines.append(f"Best-of-n selection picks a passing response on {100 * b.value:.1f}% of "
                     f"{overall.n_bon_prompts} prompts ({100 * b.lo:.1f}-{100 * b.hi:.1f}%), against "
                     f"{100 * r.value:.1f}% for random choice and {100 * o.value:.1f}% for an oracle: it {beat} "
                     f"({100 * g.value:+.1f} points, {100 * g.lo:+.1f} to {100 * g.hi:+.1f}){share}.")
    for key, vals in by_slice.items():
        for value, s in vals.items():
            if (s.n < cfg.min_slice or min(s.n_passed, s.n - s.n_passed) < 5 or np.isnan(s.auc.value)
                    or len(vals) < 2):
                continue
            words = _rank_words(s.auc)
            if words == "only at chance" and overall.auc.lo > 0.5:
                lines.append(f"On {key} {value!r} the reward model ranks passing above failing responses only at "
                             f"chance (AUC {s.auc.describe()}, {s.n} responses).")
            elif words.startswith("below"):
                lines.append(f"On {key} {value!r} the reward model ranks failing responses above passing ones "
                             f"(AUC {s.auc.describe()}, {s.n} responses).")
    worse = [g for g in gaps if g.worse]
    lvl = f"{round(100 * (cfg.slice_level if cfg.slice_level is not None else cfg.level), 2):g}%"
    for g in worse:
        lines.append(f"On {g.key} {g.value!r} the reward model ranks passing above failing responses worse than on the "
                     f"rest: AUC {g.auc:.3f} there against {g.auc_rest:.3f} elsewhere, a gap of {g.gap.describe()} "
                     f"({lvl} interval over prompts, {g.n} responses against {g.n_rest}).")
    if gaps and not worse:
        lines.append(f"No slice ranks outcomes worse than the rest: every one of the {len(gaps)} slice-against-rest "
                     f"AUC gaps has a {lvl} interval reaching 0 or above.")
    if not np.isnan(overall.ece_sigmoid.value):
        lines.append(f"Read as a pass probability, sigmoid(score) is off by ECE {overall.ece_sigmoid.value:.3f}; a "
                     f"logistic map fitted on other prompts brings it to {overall.ece_fitted:.3f}.")
    if n_dis:
        first = (f" (those on {', '.join(f'{g.key} {g.value!r}' for g in worse)} first)" if worse else "")
        lines.append(f"On {n_dis} prompts it scores a failing response above a passing one: listed for "
                     f"annotation{first}.")
    return lines


def n_slices(rows: Sequence[ScoredResponse]) -> int:
    """How many sets `audit_outcomes` measures (overall + every slice value): the length of its progress."""
    n = 1 + len(set(length_buckets(rows)))
    for key in ("task_type", "language", "model"):
        col = {r.slices.get(key) for r in rows}
        if col != {None}:
            n += len(col)
    return n


def audit_outcomes(rows: Sequence[ScoredResponse], config: AuditConfig | None = None, *,
                   on_progress: Callable[[int], None] | None = None) -> OutcomeAudit:
    """Audit scores against outcomes; every row needs a score and an outcome value (a ValueError names the first
    line without). `on_progress(1)` is called after each measured set (overall, then each slice value)."""
    tick = on_progress or (lambda _n: None)
    cfg = config or AuditConfig()
    rows = list(rows)
    if not rows:
        raise ValueError("no scored responses to audit")
    for r in rows:
        if r.score is None:
            raise ValueError(f"line {r.line}: no score")
        if r.value is None:
            raise ValueError(f"line {r.line}: no outcome")
    scores = np.array([r.score for r in rows], dtype=float)
    values = np.array([r.value for r in rows], dtype=float)
    groups = np.array([r.group for r in rows], dtype=object)
    passed = values >= cfg.pass_threshold
    overall = _slice_audit(scores, values, groups, cfg)
    tick(1)
    labels: dict[str, list[str | None]] = {}
    for key in ("task_type", "language", "model"):
        col = [r.slices.get(key) for r in rows]
        if any(v is not None for v in col):
            labels[key] = col
    labels["length"] = list(length_buckets(rows))
    by_slice: dict[str, dict[str, SliceAudit]] = {}
    for key, col in labels.items():
        arr = np.array(["(none)" if v is None else v for v in col], dtype=object)
        by_slice[key] = {}
        for v in sorted(set(arr.tolist())):
            by_slice[key][str(v)] = _slice_audit(scores[arr == v], values[arr == v], groups[arr == v], cfg)
            tick(1)
    arrays = {key: np.array(["(none)" if v is None else v for v in col], dtype=object) for key, col in labels.items()}
    gaps = _slice_gaps(scores, passed, groups, arrays, cfg)
    dis = _disagreements(rows, scores, passed, arrays, [g for g in gaps if g.worse])
    return OutcomeAudit(overall=overall, by_slice=by_slice, disagreements=dis[:cfg.max_cases],
                        n_disagreeing_prompts=len(dis), verdict=_verdict(overall, by_slice, len(dis), cfg, gaps),
                        config=cfg, slice_gaps=gaps, scores=scores.tolist(), passed=passed.tolist())
