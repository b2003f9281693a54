"""Inter-rater agreement: Cohen's kappa per rater pair, Fleiss' kappa, Krippendorff's alpha, Gwet's AC1.

Every multi-rater metric is computed from an (items x categories) count matrix, so raters per item
may differ and a bootstrap over items is a row resample. Items with fewer than two ratings carry no
agreement information and are left out of every metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tether.audit.labels import TIE, A, B, LabelTable

Metric = Literal["nominal", "ordinal"]
# Ordinal scale for pairwise judgments: a < tie < b (a tie sits between the two preferences).
ORDINAL_ORDER = (A, TIE, B)


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval (NaN where it is undefined)."""

    value: float
    ci_low: float
    ci_high: float
    n_items: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: _finite(v) for k, v in self.__dict__.items()}


def _finite(v: float | int) -> float | int | None:
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _multi(counts: np.ndarray) -> np.ndarray:
    """Rows with at least two ratings, as float."""
    counts = np.asarray(counts, dtype=np.float64)
    return counts[counts.sum(axis=1) >= 2]


# -- two raters --------------------------------------------------------------------------------------


def contingency(x: np.ndarray, y: np.ndarray, n_classes: int = 3) -> np.ndarray:
    """(n_classes, n_classes) table of rater x's label (rows) against rater y's (columns)."""
    return np.bincount(np.asarray(x) * n_classes + np.asarray(y), minlength=n_classes * n_classes).reshape(
        n_classes, n_classes).astype(np.float64)


def cohens_kappa_table(table: np.ndarray) -> float:
    """Cohen's kappa from a square contingency table (as statsmodels' cohens_kappa)."""
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    if n == 0:
        return float("nan")
    po = np.trace(table) / n
    pe = float(table.sum(axis=1) @ table.sum(axis=0)) / (n * n)
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def cohens_kappa(x: np.ndarray, y: np.ndarray, n_classes: int = 3) -> float:
    """Cohen's kappa of two label vectors over the same items."""
    return cohens_kappa_table(contingency(x, y, n_classes))


# -- many raters, from counts ---------------------------------------------------------------------


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa; unequal raters per item allowed (per-item agreement over its own pairs)."""
    c = np.asarray(counts)
    m = c.sum(axis=1)
    keep = m >= 2
    if not keep.all():  # an item rated once says nothing about agreement
        c, m = c[keep], m[keep]
    if c.shape[0] == 0:
        return float("nan")
    p_bar = float((((c * c).sum(axis=1) - m) / (m * (m - 1.0))).mean())
    p_cat = c.sum(axis=0) / m.sum()
    pe = float(p_cat @ p_cat)
    return (p_bar - pe) / (1 - pe) if pe < 1 else float("nan")


def coincidence_matrix(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix o_ck = sum_u n_uc (n_uk - [c=k]) / (m_u - 1)."""
    counts = np.asarray(counts, dtype=np.float64)  # float @ float runs in BLAS
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.all():  # units with one value are not pairable
        counts, m = counts[keep], m[keep]
    weighted = counts * (1.0 / (m - 1))[:, None]
    o = weighted.T @ counts
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return o


def _delta2(n_c: np.ndarray, metric: Metric, order: tuple[int, ...] | None) -> np.ndarray:
    k = n_c.shape[0]
    if metric == "nominal":
        return 1.0 - np.eye(k)
    if metric != "ordinal":
        raise ValueError(f"metric must be 'nominal' or 'ordinal', got {metric!r}")
    perm = np.asarray(order if order is not None else range(k))
    ranked = n_c[perm]
    cum = np.concatenate([[0.0], np.cumsum(ranked)])
    d = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            lo, hi = min(i, j), max(i, j)
            d[perm[i], perm[j]] = (cum[hi + 1] - cum[lo] - (ranked[i] + ranked[j]) / 2) ** 2
    return d


def alpha_from_coincidence(o: np.ndarray, metric: Metric = "nominal",
                           order: tuple[int, ...] | None = None) -> float:
    """Krippendorff's alpha from a coincidence matrix (O(k^2): the fast path for huge data)."""
    o = np.asarray(o, dtype=np.float64)
    n_c = o.sum(axis=0)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    d = _delta2(n_c, metric, order)
    d_o = float((o * d).sum())
    d_e = float((np.outer(n_c, n_c) * d).sum()) / (n - 1)
    if d_e == 0:
        return 1.0 if d_o == 0 else float("nan")  # one value used throughout: NLTK's convention
    return 1.0 - d_o / d_e


def krippendorff_alpha(counts: np.ndarray, metric: Metric = "nominal",
                       order: tuple[int, ...] | None = None) -> float:
    """Krippendorff's alpha from per-item label counts; ordinal uses `order` (default ORDINAL_ORDER)."""
    if metric == "ordinal" and order is None and np.shape(counts)[1] == 3:
        order = ORDINAL_ORDER
    return alpha_from_coincidence(coincidence_matrix(counts), metric, order)


def gwet_ac1(counts: np.ndarray) -> float:
    """Gwet's AC1 for any number of raters per item (Gwet 2008, eqs. for multiple raters)."""
    c = _multi(counts)
    q = c.shape[1] if c.ndim == 2 else 0
    if c.shape[0] == 0 or q < 2:
        return float("nan")
    m = c.sum(axis=1)
    pa = float((((c * (c - 1)).sum(axis=1)) / (m * (m - 1))).mean())
    pi = (c / m[:, None]).mean(axis=0)
    pe = float((pi * (1 - pi)).sum()) / (q - 1)
    return (pa - pe) / (1 - pe) if pe < 1 else float("nan")


# -- bootstrap --------------------------------------------------------------------------------------


def bootstrap(stat: Callable[[np.ndarray], float], rows: np.ndarray, *, n_boot: int = 200, seed: int = 0,
              level: float = 0.95) -> tuple[float, float, float]:
    """(value, low, high): percentile interval of `stat` over item (row) resamples, seeded."""
    value = stat(rows)
    n = rows.shape[0]
    if n < 2 or n_boot <= 0:
        return value, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = np.array([stat(rows[rng.integers(0, n, n)]) for _ in range(n_boot)])
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return value, float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return value, float(lo), float(hi)


def _resample_weights(n: int, n_boot: int, rng: np.random.Generator, chunk: int = 16):  # noqa: ANN202
    """Yield (b, n) matrices: how often each item appears in each of b bootstrap resamples."""
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def _count_metrics(sums: np.ndarray, k: int, order: tuple[int, ...]) -> dict[str, float]:
    """The four count-based metrics from weighted per-item sums (see `count_metrics`)."""
    total, m_sum = sums[0], sums[1]
    p_sum = sums[2]
    f_sum = sums[3:3 + k * k].reshape(k, k)
    g_sum = sums[3 + k * k:3 + k * k + k]
    share_sum = sums[3 + k * k + k:3 + k * k + 2 * k]
    c_sum = sums[3 + k * k + 2 * k:]
    o = f_sum - np.diag(g_sum)
    p_bar = p_sum / total
    p_cat = c_sum / m_sum
    pe_fleiss = float(p_cat @ p_cat)
    pi = share_sum / total
    pe_ac1 = float((pi * (1 - pi)).sum()) / (k - 1)
    nan = float("nan")
    return {
        "krippendorff_alpha_nominal": alpha_from_coincidence(o, "nominal"),
        "krippendorff_alpha_ordinal": alpha_from_coincidence(o, "ordinal", order),
        "fleiss_kappa": (p_bar - pe_fleiss) / (1 - pe_fleiss) if pe_fleiss < 1 else nan,
        "gwet_ac1": (p_bar - pe_ac1) / (1 - pe_ac1) if pe_ac1 < 1 else nan,
    }


def count_metrics(counts: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95,
                  order: tuple[int, ...] | None = None) -> dict[str, Estimate]:
    """Alpha (nominal, ordinal), Fleiss' kappa and AC1 with one shared item bootstrap.

    Every metric is a function of sums over items of a few per-item quantities, so a resample is a
    weight vector and all four metrics of all resamples cost a handful of matrix products.
    """
    c = _multi(counts)
    n, k = c.shape
    order = order if order is not None else (ORDINAL_ORDER if k == 3 else tuple(range(k)))
    if n == 0:
        nan = float("nan")
        return {name: Estimate(nan, nan, nan, 0) for name in METRICS}
    m = c.sum(axis=1)
    inv = 1.0 / (m - 1)
    p_item = ((c * c).sum(axis=1) - m) / (m * (m - 1))  # share of agreeing ordered pairs (Fleiss and AC1)
    feats = np.column_stack([np.ones(n), m, p_item, (c[:, :, None] * c[:, None, :]).reshape(n, k * k) * inv[:, None],
                             c * inv[:, None], c / m[:, None], c])
    point = _count_metrics(feats.sum(axis=0), k, order)
    draws: dict[str, list[float]] = {name: [] for name in point}
    if n >= 2 and n_boot > 0:
        rng = np.random.default_rng(seed)
        for weights in _resample_weights(n, n_boot, rng):
            for sums in weights @ feats:
                for name, value in _count_metrics(sums, k, order).items():
                    draws[name].append(value)
    out = {}
    for name, value in point.items():
        lo, hi = _percentiles(np.array(draws[name]), level)
        out[name] = Estimate(float(value), lo, hi, int(n))
    return out


def _percentiles(draws: np.ndarray, level: float) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return float(lo), float(hi)


def _kappa_rows(tables: np.ndarray) -> np.ndarray:
    """Cohen's kappa of a stack of (k, k) contingency tables."""
    n = tables.sum(axis=(1, 2))
    po = np.trace(tables, axis1=1, axis2=2) / n
    pe = np.einsum("bi,bi->b", tables.sum(axis=2), tables.sum(axis=1)) / (n * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pe < 1, (po - pe) / (1 - pe), np.nan)


def cohens_kappa_estimate(x: np.ndarray, y: np.ndarray, *, n_classes: int = 3, n_boot: int = 200, seed: int = 0,
                          level: float = 0.95) -> Estimate:
    """Cohen's kappa of two raters over shared items, with a vectorized item bootstrap."""
    codes = np.asarray(x) * n_classes + np.asarray(y)
    n, kk = codes.size, n_classes * n_classes
    value = cohens_kappa_table(np.bincount(codes, minlength=kk).reshape(n_classes, n_classes))
    if n < 2 or n_boot <= 0:
        return Estimate(value, float("nan"), float("nan"), int(n))
    rng = np.random.default_rng(seed)
    picks = codes[rng.integers(0, n, size=(n_boot, n))] + (np.arange(n_boot) * kk)[:, None]
    tables = np.bincount(picks.ravel(), minlength=n_boot * kk).reshape(n_boot, n_classes, n_classes)
    lo, hi = _percentiles(_kappa_rows(tables.astype(np.float64)), level)
    return Estimate(value, lo, hi, int(n))


# -- per rater pair -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairKappa:
    rater_a: str
    rater_b: str
    kappa: Estimate

    def as_dict(self) -> dict[str, object]:
        return {"rater_a": self.rater_a, "rater_b": self.rater_b, **self.kappa.as_dict()}


def first_label_per_rater_item(table: LabelTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rater, item, label) with one judgment per (rater, item): the first in input order."""
    key = table.rater * max(table.n_items, 1) + table.item
    _, first = np.unique(key, return_index=True)  # np.unique sorts by key: first index of each key
    order = first[np.argsort(table.order[first], kind="stable")]
    return table.rater[order], table.item[order], table.label[order].astype(np.int64)


def pairwise_cohens_kappa(table: LabelTable, *, min_shared: int = 20, n_boot: int = 200, seed: int = 0,
                          level: float = 0.95) -> list[PairKappa]:
    """Cohen's kappa for every rater pair sharing at least `min_shared` items (first judgment each)."""
    rater, item, label = first_label_per_rater_item(table)
    per_rater: list[tuple[np.ndarray, np.ndarray]] = []
    for r in range(table.n_raters):
        sel = rater == r
        idx = np.argsort(item[sel])
        per_rater.append((item[sel][idx], label[sel][idx]))
    out: list[PairKappa] = []
    for i in range(table.n_raters):
        items_i, labels_i = per_rater[i]
        if items_i.size < min_shared:
            continue
        for j in range(i + 1, table.n_raters):
            items_j, labels_j = per_rater[j]
            shared, ii, jj = np.intersect1d(items_i, items_j, assume_unique=True, return_indices=True)
            if shared.size < max(min_shared, 2):
                continue
            est = cohens_kappa_estimate(labels_i[ii], labels_j[jj], n_boot=n_boot, seed=seed, level=level)
            out.append(PairKappa(table.rater_names[i], table.rater_names[j], est))
    return out


# -- everything for one group -----------------------------------------------------------------------

METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "krippendorff_alpha_nominal": lambda c: krippendorff_alpha(c, "nominal"),
    "krippendorff_alpha_ordinal": lambda c: krippendorff_alpha(c, "ordinal"),
    "fleiss_kappa": fleiss_kappa,
    "gwet_ac1": gwet_ac1,
}
PRIMARY_METRIC = "krippendorff_alpha_nominal"


@dataclass
class Agreement:
    """Agreement of one group of judgments (a task type, or a task type and objective)."""

    metrics: dict[str, Estimate]
    cohens_kappa: list[PairKappa]
    n_items: int
    n_judgments: int

    @property
    def primary(self) -> Estimate:
        return self.metrics[PRIMARY_METRIC]

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {name: est.as_dict() for name, est in self.metrics.items()}
        kappas = [p.kappa.value for p in self.cohens_kappa if np.isfinite(p.kappa.value)]
        out["cohens_kappa"] = {
            "value": float(np.mean(kappas)) if kappas else None,  # mean over rater pairs; intervals are per pair
            "ci_low": None,
            "ci_high": None,
            "n_pairs": len(self.cohens_kappa),
            "pairs": [p.as_dict() for p in self.cohens_kappa],
        }
        out["n_items"] = self.n_items
        out["n_judgments"] = self.n_judgments
        out["primary_metric"] = PRIMARY_METRIC
        return out


def measure_agreement(table: LabelTable, *, min_shared: int = 20, n_boot: int = 200, seed: int = 0,
                      level: float = 0.95) -> Agreement:
    """All agreement metrics of one table, each with a seeded bootstrap interval over items."""
    counts = table.counts()
    metrics = count_metrics(counts, n_boot=n_boot, seed=seed, level=level)
    pairs = pairwise_cohens_kappa(table, min_shared=min_shared, n_boot=n_boot, seed=seed, level=level)
    return Agreement(metrics, pairs, int((counts.sum(axis=1) >= 2).sum()), table.n_judgments)


def disputed_items(table: LabelTable, k: int = 10) -> list[dict[str, object]]:
    """The `k` items with the most disagreement (lowest majority share, then most ratings)."""
    counts = table.counts()
    m = counts.sum(axis=1)
    multi = np.flatnonzero(m >= 2)
    if multi.size == 0:
        return []
    share = counts[multi].max(axis=1) / m[multi]
    order = multi[np.lexsort((-m[multi], share))][:k]
    out = []
    for i in order:
        if counts[i].max() == m[i]:
            break  # unanimous from here on: nothing disputed
        e = table.examples[i]
        out.append({
            "pair_id": e.pair_id,
            "objective": e.objective,
            "task_type": e.task_type,
            "prompt": e.prompt,
            "response_a": e.response_a,
            "response_b": e.response_b,
            "votes": {"a": int(counts[i, A]), "b": int(counts[i, B]), "tie": int(counts[i, TIE])},
            "majority_share": float(counts[i].max() / m[i]),
        })
    return out
