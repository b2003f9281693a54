"""Multi-rater agreement from an (items x categories) count matrix: Fleiss' kappa, Gwet's AC1, Krippendorff's alpha.

Missing ratings are the normal case: raters per item may differ. The definitions follow the references
that handle it (tests/audit/test_references.py checks each against published values):

- Fleiss' kappa and Gwet's AC1 as generalized by Gwet (Handbook of Inter-Rater Reliability, 4th ed.,
  2014; R and Python package irrCAC): observed agreement is the mean, over items with two or more
  ratings, of the share of agreeing rating pairs within the item; the category shares pi_k behind
  chance agreement are the mean over every rated item (single-rated items included) of the item's own
  proportions n_ik / n_i. With the same number of raters on every item this is Fleiss (1971).
- Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's alpha-reliability") from the
  coincidence matrix, with nominal, ordinal, interval and ratio distances; items with one value are
  not pairable and drop out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from tether.audit.labels import TIE, A, B

Metric = Literal["nominal", "ordinal", "interval", "ratio"]
METRIC_NAMES = ("nominal", "ordinal", "interval", "ratio")
# Ordinal scale for pairwise judgments: a < tie < b (a tie sits between the two preferences).
ORDINAL_ORDER = (A, TIE, B)


def check_counts(counts: object, what: str = "counts") -> np.ndarray:
    """`counts` as a float (items x categories) matrix; ValueError for anything that is not one."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D (items x categories) matrix of rating counts, got shape "
                         f"{c.shape}; for a table of rating values (units x raters, NaN = missing) use "
                         "ratings_to_counts first")
    if c.shape[1] < 2:
        raise ValueError(f"{what}: {c.shape[1]} category column(s): chance-corrected agreement needs at least "
                         "two categories (with one, every rating agrees by construction)")
    if c.size and not (np.isfinite(c).all() and (c >= 0).all() and (c == np.round(c)).all()):
        bad = np.argwhere(~(np.isfinite(c) & (c >= 0) & (c == np.round(c))))[0]
        raise ValueError(f"{what}: entry {tuple(int(i) for i in bad)} is {float(c[tuple(bad)])}: counts must be "
                         "non-negative whole numbers")
    return c


def ratings_to_counts(ratings: object, categories: Sequence[object] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """(counts, categories) of a units x raters table of values (NaN or None = missing).

    `categories` fixes the columns' order (default: the sorted distinct values); a value outside it
    is an error.
    """
    table = np.asarray(ratings, dtype=object)
    if table.ndim != 2:
        raise ValueError(f"ratings: expected a 2-D table (units x raters), got shape {table.shape}")
    present = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in table.ravel()],
                       dtype=bool).reshape(table.shape)
    values = table[present]
    cats = np.array(sorted(set(values.tolist())) if categories is None else list(categories), dtype=object)
    index = {v: i for i, v in enumerate(cats.tolist())}
    counts = np.zeros((table.shape[0], len(cats)))
    for u, r in zip(*np.nonzero(present), strict=True):
        v = table[u, r]
        if v not in index:
            raise ValueError(f"ratings: value {v!r} (unit {u}, rater {r}) is not one of the categories "
                             f"{cats.tolist()}")
        counts[u, index[v]] += 1
    return counts, cats


def _shares(c: np.ndarray) -> tuple[float, np.ndarray, int] | None:
    """(observed agreement over items with >= 2 ratings, category shares over rated items, q), or None."""
    m = c.sum(axis=1)
    rated = m >= 1
    multi = m >= 2
    if not multi.any():
        return None
    cm, mm = c[multi], m[multi]
    pa = float((((cm * cm).sum(axis=1) - mm) / (mm * (mm - 1))).mean())
    pi = (c[rated] / m[rated, None]).mean(axis=0)
    return pa, pi, c.shape[1]


def fleiss_kappa(counts: object) -> float:
    """Fleiss' kappa, Gwet's generalization to unequal raters per item (irrCAC's `fleiss`)."""
    s = _shares(check_counts(counts))
    if s is None:
        return float("nan")
    pa, pi, _ = s
    pe = float(pi @ pi)
    return (pa - pe) / (1 - pe) if pe < 1 else float("nan")


def gwet_ac1(counts: object) -> float:
    """Gwet's AC1 for any number of raters per item (Gwet 2008; irrCAC's `gwet`)."""
    s = _shares(check_counts(counts))
    if s is None:
        return float("nan")
    pa, pi, q = s
    pe = float((pi * (1 - pi)).sum()) / (q - 1)
    return (pa - pe) / (1 - pe) if pe < 1 else float("nan")


def coincidence_matrix(counts: object) -> np.ndarray:
    """Krippendorff's coincidence matrix o_ck = sum_u n_uc (n_uk - [c=k]) / (m_u - 1)."""
    counts = check_counts(counts)  # float @ float runs in BLAS
    m = counts.sum(axis=1)
    keep = m >= 2
    if not keep.all():  # units with one value are not pairable
        counts, m = counts[keep], m[keep]
    weighted = counts * (1.0 / (m - 1))[:, None]
    o = weighted.T @ counts
    o[np.diag_indices_from(o)] -= weighted.sum(axis=0)
    return o


def _scale_values(k: int, metric: str, values: Sequence[float] | None) -> np.ndarray:
    if values is None:
        if metric == "ratio":
            raise ValueError("values: ratio distances depend on where zero is: give the numeric value of each "
                             "category (values=...)")
        return np.arange(k, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (k,) or not np.isfinite(v).all():
        raise ValueError(f"values: expected {k} finite numbers (one per category), got {list(np.ravel(values))}")
    if metric == "ratio" and (v < 0).any():
        raise ValueError(f"values: ratio data cannot be negative, got {v.tolist()}")
    return v


def distance_matrix(n_c: np.ndarray, metric: Metric = "nominal", order: Sequence[int] | None = None,
                    values: Sequence[float] | None = None) -> np.ndarray:
    """Krippendorff's squared distances delta^2 between categories (ordinal ones need the marginals n_c)."""
    k = n_c.shape[0]
    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {METRIC_NAMES}, got {metric!r}")
    if metric == "nominal":
        return 1.0 - np.eye(k)
    if metric in ("interval", "ratio"):
        v = _scale_values(k, metric, values)
        diff = v[:, None] - v[None, :]
        if metric == "interval":
            return diff**2
        total = v[:, None] + v[None, :]
        return np.divide(diff, total, out=np.zeros((k, k)), where=total != 0) ** 2
    perm = np.asarray(order if order is not None else range(k))
    if sorted(perm.tolist()) != list(range(k)):
        raise ValueError(f"order: expected a permutation of 0..{k - 1}, got {perm.tolist()}")
    ranked = n_c[perm]
    cum = np.concatenate([[0.0], np.cumsum(ranked)])
    d = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            lo, hi = min(i, j), max(i, j)
            d[perm[i], perm[j]] = (cum[hi + 1] - cum[lo] - (ranked[i] + ranked[j]) / 2) ** 2
    return d


def alpha_from_coincidence(o: object, metric: Metric = "nominal", order: Sequence[int] | None = None,
                           values: Sequence[float] | None = None) -> float:
    """Krippendorff's alpha from a coincidence matrix (O(k^2): the fast path for huge data)."""
    o = np.asarray(o, dtype=np.float64)
    if o.ndim != 2 or o.shape[0] != o.shape[1]:
        raise ValueError(f"o: expected a square coincidence matrix, got shape {o.shape}")
    n_c = o.sum(axis=0)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    d = distance_matrix(n_c, metric, order, values)
    d_o = float((o * d).sum())
    d_e = float((np.outer(n_c, n_c) * d).sum()) / (n - 1)
    if d_e == 0:
        return 1.0 if d_o == 0 else float("nan")  # one value used throughout: NLTK's convention
    return 1.0 - d_o / d_e


def krippendorff_alpha(counts: object, metric: Metric = "nominal", order: Sequence[int] | None = None,
                       values: Sequence[float] | None = None) -> float:
    """Krippendorff's alpha from per-item label counts.

    ordinal: categories ranked by `order` (default ORDINAL_ORDER for the three pairwise labels, else
    column order); interval / ratio: `values` are the categories' numbers (interval default 0..k-1,
    ratio requires them).
    """
    c = check_counts(counts)
    if metric == "ordinal" and order is None and c.shape[1] == 3:
        order = ORDINAL_ORDER
    return alpha_from_coincidence(coincidence_matrix(c), metric, order, values)
