"""Score-against-outcome metrics, each a small function on arrays, and a seeded group bootstrap for intervals.

- **AUC**: probability that a passing response outscores a failing one (ties count one half): the Mann–Whitney
  U over the number of (pass, fail) pairs.
- **Within-prompt pairwise accuracy**: the same, only over pairs of responses to the same prompt, the comparison
  best-of-n selection and preference training actually make.
- **Spearman / Kendall tau-b** of score with the outcome value. With a pass/fail outcome Kendall's numerator is
  ``P * N * (2 * AUC - 1)``, so it comes from the same ranks (no O(n^2) pair count); a graded outcome goes to scipy.
- **Calibration**: ``sigmoid(score)`` read as a pass probability (a reward logit is not one, which is the point
  of measuring it), in equal-width bins, and a logistic map ``sigmoid(a * score + b)`` fitted on one half of the
  prompts and measured on the other (cross-fitted, so the fit does not grade itself).
- **Best-of-n**: per prompt with n >= 2 responses, does the top-scored response pass (tied tops averaged)?
  Beside it random choice (the prompt's pass rate) and an oracle (does any response pass?).

Intervals resample prompts (groups), not responses: responses to one prompt share its difficulty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import kendalltau

__all__ = ["Estimate", "auc", "spearman", "kendall_tau_b", "pairwise_within", "best_of_n", "reliability", "ece",
           "fit_logistic", "crossfit_logistic", "sigmoid", "GroupIndex", "bootstrap",
           "bootstrap_many", "rank_stats"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval (NaN where undefined) and the count it rests on."""

    value: float
    lo: float
    hi: float
    n: int

    def describe(self, digits: int = 3) -> str:
        if np.isnan(self.value):
            return "n/a"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based; ties share their mean rank), as scipy's `rankdata` without its per-call overhead
    (the bootstrap ranks thousands of times)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    first = np.concatenate([[True], xs[1:] != xs[:-1]])
    starts = np.append(np.flatnonzero(first), x.size)
    mean_rank = (starts[:-1] + 1 + starts[1:]) / 2
    ranks = np.empty(x.size)
    ranks[order] = mean_rank[np.cumsum(first) - 1]
    return ranks


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))  # stable for large |x|


def auc(scores: np.ndarray, passed: np.ndarray) -> float:
    """P(score of a passing response > score of a failing one), ties one half; NaN without both classes."""
    passed = np.asarray(passed, dtype=bool)
    n_pos = int(passed.sum())
    n_neg = passed.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = rankdata(scores)
    return float((r[passed].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson correlation of the average ranks; NaN when either side is constant."""
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if den > 0 else float("nan")


def _tie_pairs(x: np.ndarray) -> float:
    _, counts = np.unique(x, return_counts=True)
    return float((counts * (counts - 1) / 2).sum())


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-b of x with y; for a two-valued y from the Mann–Whitney relation, else scipy's."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    values = np.unique(y)
    if values.size < 2 or np.unique(x).size < 2:
        return float("nan")
    if values.size > 2:
        return float(kendalltau(x, y).statistic)
    hi = y == values[1]
    n_pos, n_neg = int(hi.sum()), int((~hi).sum())
    s = n_pos * n_neg * (2 * auc(x, hi) - 1)  # concordant minus discordant pairs
    n0 = y.size * (y.size - 1) / 2
    return float(s / np.sqrt((n0 - _tie_pairs(x)) * (n0 - _tie_pairs(y))))


def pairwise_within(scores: np.ndarray, passed: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group: (wins, pairs) over its (pass, fail) response pairs; a win is the passing one scored higher,
    a tie half a win. Groups without both outcomes have 0 pairs."""
    passed = np.asarray(passed, dtype=bool)
    _, inv = np.unique(groups, return_inverse=True)
    wins = np.zeros(inv.max() + 1 if inv.size else 0)
    pairs = np.zeros_like(wins)
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    for g, idx in enumerate(np.split(order, bounds)):
        p = passed[idx]
        n_pos = int(p.sum())
        n_neg = idx.size - n_pos
        if n_pos and n_neg:
            r = rankdata(scores[idx])
            wins[g] = r[p].sum() - n_pos * (n_pos + 1) / 2
            pairs[g] = n_pos * n_neg
    return wins, pairs


def best_of_n(scores: np.ndarray, passed: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
    """Per group of n >= 2 responses: `selected` (pass rate of the top-scored, ties averaged), `random` (the
    group's pass rate), `oracle` (1 if any passes), `n`; groups of one response are left out."""
    passed = np.asarray(passed, dtype=float)
    _, inv = np.unique(groups, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    out: dict[str, list[float]] = {"selected": [], "random": [], "oracle": [], "n": []}
    for idx in np.split(order, bounds) if inv.size else []:
        if idx.size < 2:
            continue
        s, p = scores[idx], passed[idx]
        top = s == s.max()
        out["selected"].append(float(p[top].mean()))
        out["random"].append(float(p.mean()))
        out["oracle"].append(float(p.max()))
        out["n"].append(float(idx.size))
    return {k: np.array(v) for k, v in out.items()}


def reliability(prob: np.ndarray, passed: np.ndarray, n_bins: int = 10) -> dict[str, list[float]]:
    """Equal-width bins over [0, 1]: mean predicted probability, observed pass rate and count per bin (as
    sklearn's `calibration_curve(strategy="uniform")`, with empty bins kept as NaN)."""
    prob, passed = np.asarray(prob, dtype=float), np.asarray(passed, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges[1:-1], prob, side="right"), 0, n_bins - 1)
    out: dict[str, list[float]] = {"predicted": [], "observed": [], "count": [], "lo": [], "hi": []}
    for b in range(n_bins):
        sel = idx == b
        out["lo"].append(float(edges[b]))
        out["hi"].append(float(edges[b + 1]))
        out["count"].append(float(sel.sum()))
        out["predicted"].append(float(prob[sel].mean()) if sel.any() else float("nan"))
        out["observed"].append(float(passed[sel].mean()) if sel.any() else float("nan"))
    return out


def ece(prob: np.ndarray, passed: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error: bin-size-weighted mean |observed - predicted| over `reliability`'s bins."""
    prob, passed = np.asarray(prob, dtype=float), np.asarray(passed, dtype=float)
    if prob.size == 0:
        return float("nan")
    idx = np.clip(np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1)[1:-1], prob, side="right"), 0, n_bins - 1)
    gap = np.bincount(idx, weights=passed, minlength=n_bins) - np.bincount(idx, weights=prob, minlength=n_bins)
    return float(np.abs(gap).sum() / prob.size)  # sum over bins of count * |mean gap| = |summed gap|


def fit_logistic(scores: np.ndarray, passed: np.ndarray, l2: float = 1e-4) -> tuple[float, float]:
    """(a, b) of P(pass) = sigmoid(a * score + b) by maximum likelihood (Platt scaling); a small L2 penalty keeps
    it finite when the scores separate the outcomes."""
    x, y = np.asarray(scores, dtype=float), np.asarray(passed, dtype=float)
    mu, sd = x.mean(), x.std() or 1.0
    z = (x - mu) / sd

    def nll(w: np.ndarray) -> tuple[float, np.ndarray]:
        t = w[0] * z + w[1]
        p = sigmoid(t)
        loss = float(np.logaddexp(0, t).sum() - (y * t).sum()) / y.size + l2 * w[0] ** 2
        g = p - y
        return loss, np.array([(g * z).sum() / y.size + 2 * l2 * w[0], g.sum() / y.size])

    w = minimize(nll, np.zeros(2), jac=True, method="L-BFGS-B").x
    return float(w[0] / sd), float(w[1] - w[0] * mu / sd)


def crossfit_logistic(scores: np.ndarray, passed: np.ndarray, groups: np.ndarray, seed: int = 0) -> np.ndarray:
    """Pass probabilities from a logistic map fitted on the other half of the prompts (two folds, seeded)."""
    _, inv = np.unique(groups, return_inverse=True)
    fold = np.random.default_rng(seed).permutation(inv.max() + 1)[inv] % 2
    out = np.full(len(scores), np.nan)
    passed = np.asarray(passed, dtype=float)
    for k in (0, 1):
        train, test = fold != k, fold == k
        if not test.any():
            continue
        if not train.any() or np.unique(passed[train]).size < 2:  # nothing to fit on: the base rate
            out[test] = passed[train].mean() if train.any() else passed.mean()
            continue
        a, b = fit_logistic(scores[train], passed[train])
        out[test] = sigmoid(a * scores[test] + b)
    return out


class GroupIndex:
    """Rows grouped by prompt, laid out so a resample of groups becomes row indices without a Python loop."""

    def __init__(self, groups: np.ndarray) -> None:
        _, inv = np.unique(groups, return_inverse=True)
        self.order = np.argsort(inv, kind="stable")
        self.lengths = np.bincount(inv)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.n_groups = self.lengths.size

    def rows(self, picked: np.ndarray) -> np.ndarray:
        """Row indices of the picked groups (repeats kept)."""
        lengths = self.lengths[picked]
        total = int(lengths.sum())
        offsets = np.repeat(self.starts[picked] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return self.order[offsets + np.arange(total)]


def bootstrap_many(stat: Callable[[np.ndarray], np.ndarray], index: GroupIndex, *, n_boot: int = 1000,
                   seed: int = 0, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each value of `stat(row indices)` (an array of k statistics) over `n_boot`
    resamples of the groups (seeded): (lo[k], hi[k]). Replicates where a value is undefined (NaN, e.g. one class
    only) are left out of its interval; NaN where all are, or with no resample."""
    rng = np.random.default_rng(seed)
    draws = [np.atleast_1d(np.asarray(stat(index.rows(rng.integers(0, index.n_groups, index.n_groups))), dtype=float))
             for _ in range(n_boot if index.n_groups else 0)]
    if not draws:
        return np.array([np.nan]), np.array([np.nan])
    values = np.vstack(draws)
    alpha = (1 - level) / 2
    lo, hi = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
    for j in range(values.shape[1]):
        col = values[:, j][~np.isnan(values[:, j])]
        if col.size:
            lo[j], hi[j] = np.quantile(col, [alpha, 1 - alpha])
    return lo, hi


def bootstrap(stat: Callable[[np.ndarray], float], index: GroupIndex, *, n_boot: int = 1000, seed: int = 0,
              level: float = 0.95) -> tuple[float, float]:
    """`bootstrap_many` for one statistic: its (lo, hi)."""
    lo, hi = bootstrap_many(stat, index, n_boot=n_boot, seed=seed, level=level)
    return float(lo[0]), float(hi[0])


def rank_stats(scores: np.ndarray, values: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """[AUC, Spearman, Kendall tau-b] of scores against outcome values (pass: value >= threshold), the score ranks
    computed once (the bootstrap calls this thousands of times)."""
    passed = values >= threshold
    n_pos = int(passed.sum())
    n_neg = passed.size - n_pos
    if passed.size < 2:
        return np.full(3, np.nan)
    rs = rankdata(scores)
    a = float((rs[passed].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)) if n_pos and n_neg else np.nan
    rv = rankdata(values)
    x, y = rs - rs.mean(), rv - rv.mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    rho = float((x * y).sum() / den) if den > 0 else np.nan
    distinct = np.unique(values)
    if distinct.size == 2 and n_pos and n_neg and np.unique(scores).size > 1:
        hi = values == distinct[1]
        p, q = int(hi.sum()), int((~hi).sum())
        u = (rs[hi].sum() - p * (p + 1) / 2) / (p * q)
        n0 = values.size * (values.size - 1) / 2
        tau = p * q * (2 * u - 1) / np.sqrt((n0 - _tie_pairs(scores)) * (n0 - _tie_pairs(values)))
    else:
        tau = kendall_tau_b(scores, values)
    return np.array([a, rho, float(tau)])
