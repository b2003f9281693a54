"""Inter-rater agreement: Cohen's kappa per rater pair, Fleiss' kappa, Krippendorff's alpha, Gwet's AC1.

Every multi-rater metric is computed from an (items x categories) count matrix (`agreement_counts`),
so raters per item may differ and a bootstrap over items is a row resample. Items with fewer than two
ratings carry no agreement of their own; they still count in the category shares of Fleiss' kappa and
AC1 (Gwet's generalization), and not at all in Krippendorff's alpha (not pairable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tether.audit.agreement_counts import (
    ORDINAL_ORDER,
    Metric,
    alpha_from_coincidence,
    check_counts,
    coincidence_matrix,
    distance_matrix,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    ratings_to_counts,
)
from tether.audit.labels import TIE, A, B, LabelTable

__all__ = [
    "METRICS", "ORDINAL_ORDER", "PRIMARY_METRIC", "Agreement", "Estimate", "Metric", "PairKappa",
    "alpha_from_coincidence", "between_rater_alpha", "between_rater_features", "bootstrap", "check_counts",
    "cohens_kappa", "cohens_kappa_estimate", "cohens_kappa_table", "coincidence_matrix", "contingency",
    "count_metrics", "disputed_items", "distance_matrix", "first_label_per_rater_item", "fleiss_kappa", "gwet_ac1",
    "krippendorff_alpha", "measure_agreement", "pairwise_cohens_kappa", "ratings_to_counts",
]


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


# -- two raters --------------------------------------------------------------------------------------


def _label_codes(what: str, labels: object, n_classes: int) -> np.ndarray:
    """A 1-D vector of integer class codes in [0, n_classes); ValueError naming the first bad entry."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D vector of labels, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.bool_)):
        as_float = np.asarray(arr, dtype=np.float64) if np.issubdtype(arr.dtype, np.number) else None
        if as_float is None or not (np.isfinite(as_float).all() and (as_float == np.round(as_float)).all()):
            raise ValueError(f"{what}: labels must be integer class codes 0..{n_classes - 1}, got dtype {arr.dtype}")
    codes = arr.astype(np.int64)
    bad = (codes < 0) | (codes >= n_classes)
    if bad.any():
        at = int(np.argmax(bad))
        raise ValueError(f"{what}: label {codes[at]} at index {at} is outside 0..{n_classes - 1} "
                         f"(n_classes={n_classes})")
    return codes


def _pair_codes(x: object, y: object, n_classes: int) -> np.ndarray:
    """Cell index x * n_classes + y of each item, after checking both label vectors."""
    if n_classes < 2:
        raise ValueError(f"n_classes: Cohen's kappa needs at least two classes, got {n_classes}")
    cx, cy = _label_codes("x", x, n_classes), _label_codes("y", y, n_classes)
    if cx.shape != cy.shape:
        raise ValueError(f"x, y: the two raters' label vectors differ in length ({cx.size} and {cy.size}); "
                         "give both raters' labels for the same items")
    return cx * n_classes + cy


def contingency(x: np.ndarray, y: np.ndarray, n_classes: int = 3) -> np.ndarray:
    """(n_classes, n_classes) table of rater x's label (rows) against rater y's (columns)."""
    return np.bincount(_pair_codes(x, y, n_classes), minlength=n_classes * n_classes).reshape(
        n_classes, n_classes).astype(np.float64)


def cohens_kappa_table(table: np.ndarray) -> float:
    """Cohen's kappa from a square contingency table (as statsmodels' cohens_kappa)."""
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] != table.shape[1] or table.shape[0] < 2:
        raise ValueError(f"table: expected a square contingency table of at least 2 x 2, got shape {table.shape}")
    n = table.sum()
    if n == 0:
        return float("nan")
    po = np.trace(table) / n
    pe = float(table.sum(axis=1) @ table.sum(axis=0)) / (n * n)
    return float((po - pe) / (1 - pe)) if pe < 1 else float("nan")


def cohens_kappa(x: np.ndarray, y: np.ndarray, n_classes: int = 3) -> float:
    """Cohen's kappa of two label vectors over the same items."""
    return cohens_kappa_table(contingency(x, y, n_classes))


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
    n_rated, n_multi, p_sum = sums[0], sums[1], sums[2]
    f_sum = sums[3:3 + k * k].reshape(k, k)
    g_sum = sums[3 + k * k:3 + k * k + k]
    share_sum = sums[3 + k * k + k:]
    nan = float("nan")
    o = f_sum - np.diag(g_sum)
    out = {"krippendorff_alpha_nominal": alpha_from_coincidence(o, "nominal"),
           "krippendorff_alpha_ordinal": alpha_from_coincidence(o, "ordinal", order),
           "fleiss_kappa": nan, "gwet_ac1": nan}
    if n_multi <= 0:
        return out
    pa = p_sum / n_multi
    pi = share_sum / n_rated  # Gwet: shares over every rated item, single-rated ones included
    pe_fleiss = float(pi @ pi)
    pe_ac1 = float((pi * (1 - pi)).sum()) / (k - 1)
    out["fleiss_kappa"] = (pa - pe_fleiss) / (1 - pe_fleiss) if pe_fleiss < 1 else nan
    out["gwet_ac1"] = (pa - pe_ac1) / (1 - pe_ac1) if pe_ac1 < 1 else nan
    return out


def count_metrics(counts: np.ndarray, *, n_boot: int = 200, seed: int = 0, level: float = 0.95,
                  order: tuple[int, ...] | None = None) -> dict[str, Estimate]:
    """Alpha (nominal, ordinal), Fleiss' kappa and AC1 with one shared item bootstrap.

    Every metric is a function of sums over items of a few per-item quantities, so a resample is a
    weight vector and all four metrics of all resamples cost a handful of matrix products. Resamples
    are drawn from the rated items (single-rated ones count in Fleiss' and AC1's category shares);
    `n_items` is the number of items with two or more ratings.
    """
    c = check_counts(counts)
    c = c[c.sum(axis=1) >= 1]
    n, k = c.shape
    order = order if order is not None else (ORDINAL_ORDER if k == 3 else tuple(range(k)))
    m = c.sum(axis=1)
    multi = m >= 2
    n_multi = int(multi.sum())
    if n_multi == 0:
        nan = float("nan")
        return {name: Estimate(nan, nan, nan, 0) for name in METRICS}
    inv = np.divide(1.0, m - 1, out=np.zeros(n), where=multi)  # a single rating is not pairable
    p_item = np.divide((c * c).sum(axis=1) - m, m * (m - 1), out=np.zeros(n), where=multi)
    feats = np.column_stack([np.ones(n), multi.astype(np.float64), p_item,
                             (c[:, :, None] * c[:, None, :]).reshape(n, k * k) * inv[:, None],
                             c * inv[:, None], c / m[:, None]])
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
        out[name] = Estimate(float(value), lo, hi, n_multi)
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
    codes = _pair_codes(x, y, n_classes)
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


# -- between raters only ----------------------------------------------------------------------------


def between_rater_features(table: LabelTable) -> tuple[np.ndarray, np.ndarray]:
    """Per item, its contribution to a coincidence matrix of value pairs from *different* raters.

    Returns (features, pairable): features (n_pairable, k*k) and the boolean item mask. An item adds
    w_u * (ordered pairs of values from two different raters), w_u = m_u / (number of such pairs), so
    each pairable item carries its m_u values as in Krippendorff's alpha; without repeated judgments
    (one value per rater and item) it is exactly his coincidence matrix. A rater's second judgment of
    an item (e.g. in the other display order) is compared with the other raters', never with their own
    first: self-consistency is not agreement, and an item judged by one rater only is not pairable.
    """
    k = 3
    label = table.label.astype(np.int64)
    key = table.item * max(table.n_raters, 1) + table.rater
    groups, inverse = np.unique(key, return_inverse=True)
    per = np.zeros((groups.size, k))
    np.add.at(per, (inverse, label), 1.0)
    same = np.zeros((table.n_items, k, k))
    np.add.at(same, groups // max(table.n_raters, 1), per[:, :, None] * per[:, None, :])
    c = table.counts().astype(np.float64)
    pairs = c[:, :, None] * c[:, None, :] - same
    total = pairs.sum(axis=(1, 2))
    pairable = total > 0
    weight = np.divide(c.sum(axis=1), total, out=np.zeros(table.n_items), where=pairable)
    return (pairs * weight[:, None, None]).reshape(table.n_items, k * k)[pairable], pairable


def between_rater_alpha(table: LabelTable, *, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> Estimate:
    """Krippendorff's alpha (nominal) over value pairs from different raters, with an item bootstrap.

    `n_items` counts the items judged by at least two different raters (see `between_rater_features`).
    """
    feats, pairable = between_rater_features(table)
    n = feats.shape[0]
    if n == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, 0)
    value = alpha_from_coincidence(feats.sum(axis=0).reshape(3, 3))
    draws: list[float] = []
    if n >= 2 and n_boot > 0:
        for weights in _resample_weights(n, n_boot, np.random.default_rng(seed)):
            draws.extend(alpha_from_coincidence(o.reshape(3, 3)) for o in weights @ feats)
    lo, hi = _percentiles(np.array(draws), level)
    return Estimate(float(value), lo, hi, int(n))
