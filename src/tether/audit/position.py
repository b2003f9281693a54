"""Position bias: first-position rates with exact tests, and swap consistency in both display orders.

The first-position rate is the share of non-tie judgments that picked the response shown first;
ties are excluded because a tie favours neither position. Under no bias it is 0.5, tested with an
exact two-sided binomial test; intervals are Wilson score and Clopper-Pearson (exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tether.audit.labels import NONE, TIE, LabelTable


@dataclass(frozen=True)
class FirstPositionRate:
    n: int  # non-tie judgments
    picked_first: int
    ties: int
    rate: float
    p_value: float
    wilson: tuple[float, float]
    clopper_pearson: tuple[float, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "picked_first": self.picked_first,
            "ties": self.ties,
            "rate": None if self.n == 0 else self.rate,
            "p_value": None if self.n == 0 else self.p_value,
            "wilson_low": None if self.n == 0 else self.wilson[0],
            "wilson_high": None if self.n == 0 else self.wilson[1],
            "cp_low": None if self.n == 0 else self.clopper_pearson[0],
            "cp_high": None if self.n == 0 else self.clopper_pearson[1],
        }


def first_position_rate(labels: np.ndarray, shown_first: np.ndarray, level: float = 0.95) -> FirstPositionRate:
    """First-position rate of judgments (label 0 a / 1 b / 2 tie; shown_first 0 a / 1 b)."""
    labels = np.asarray(labels)
    shown_first = np.asarray(shown_first)
    decided = labels != TIE
    n = int(decided.sum())
    k = int((labels[decided] == shown_first[decided]).sum())
    ties = int(labels.size - n)
    if n == 0:
        nan = float("nan")
        return FirstPositionRate(0, 0, ties, nan, nan, (nan, nan), (nan, nan))
    from scipy.stats import binomtest  # scipy.stats costs 0.5 s to import: not on every CLI start

    test = binomtest(k, n, 0.5)
    w = test.proportion_ci(level, method="wilson")
    cp = test.proportion_ci(level, method="exact")
    return FirstPositionRate(n, k, ties, k / n, float(test.pvalue), (float(w.low), float(w.high)),
                             (float(cp.low), float(cp.high)))


def rates_by(table: LabelTable, codes: np.ndarray, names: list[str], level: float = 0.95,
             min_n: int = 1) -> dict[str, FirstPositionRate]:
    """First-position rate per group code (judgments without a code are skipped)."""
    out: dict[str, FirstPositionRate] = {}
    for code in np.unique(codes):
        if code == NONE:
            continue
        sel = codes == code
        r = first_position_rate(table.label[sel], table.shown_first[sel], level)
        if r.n + r.ties >= min_n:
            out[names[code]] = r
    return out


# -- both display orders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SwapConsistency:
    """Pairs judged in both display orders: how often the verdict survived the swap.

    `favoured_first` / `favoured_second`: share of swapped pairs whose verdict followed the
    position (picked whichever was shown first, resp. second, both times); `other`: a tie in one
    order and a preference in the other.
    """

    n_swapped: int
    consistent: int
    favoured_first: int
    favoured_second: int
    other: int

    def as_dict(self) -> dict[str, object]:
        n = self.n_swapped
        return {
            "n_swapped": n,
            "swap_consistency": self.consistent / n if n else None,
            "favoured_first": self.favoured_first / n if n else None,
            "favoured_second": self.favoured_second / n if n else None,
            "other_inconsistent": self.other / n if n else None,
            "n_consistent": self.consistent,
            "n_favoured_first": self.favoured_first,
            "n_favoured_second": self.favoured_second,
        }


def _classify(label_first_a: np.ndarray, label_first_b: np.ndarray) -> np.ndarray:
    """Per swapped pair: 0 consistent, 1 favoured first, 2 favoured second, 3 other (tie vs preference)."""
    out = np.full(label_first_a.shape, 3, dtype=np.int8)
    out[label_first_a == label_first_b] = 0
    out[(label_first_a == 0) & (label_first_b == 1)] = 1  # a when a first, b when b first
    out[(label_first_a == 1) & (label_first_b == 0)] = 2
    return out


def _summarise(kinds: np.ndarray) -> SwapConsistency:
    c = np.bincount(kinds.astype(np.int64), minlength=4)
    return SwapConsistency(int(kinds.size), int(c[0]), int(c[1]), int(c[2]), int(c[3]))


@dataclass
class SwapAnalysis:
    by_rater: dict[str, SwapConsistency]
    within_rater: SwapConsistency  # all (rater, pair) swaps pooled
    across_raters: SwapConsistency  # per pair, majority verdict of each display order
    item_reversals: np.ndarray  # per item: within-rater swaps that followed the position
    item_changed: np.ndarray  # per item: within-rater swaps whose verdict changed (followed the position, or tie)
    item_across_reversal: np.ndarray  # per item: the order-group majorities flip with the position
    item_swapped: np.ndarray  # per item: judged in both orders (by anyone)


def _first_per_key(key: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Index of the earliest (by input order) judgment of each distinct key."""
    idx = np.lexsort((order, key))
    keep = np.ones(idx.size, dtype=bool)
    keep[1:] = key[idx][1:] != key[idx][:-1]
    return idx[keep]


def _plurality(counts: np.ndarray) -> np.ndarray:
    """Plurality label per row; -1 where the top count is shared or the row is empty."""
    top = counts.max(axis=1)
    winners = (counts == top[:, None]).sum(axis=1)
    lab = counts.argmax(axis=1)
    lab[(winners > 1) | (top == 0)] = -1
    return lab


def swap_analysis(table: LabelTable) -> SwapAnalysis:
    """Swap consistency per rater (first judgment of each order) and across raters (per order majority)."""
    n_items = table.n_items
    # within rater: one judgment per (rater, item, order)
    key = (table.rater * max(n_items, 1) + table.item) * 2 + table.shown_first
    first = _first_per_key(key, table.order)
    k = key[first]
    pair_key = k // 2
    in_a = first[(k % 2) == 0]
    in_b = first[(k % 2) == 1]
    _, ia, ib = np.intersect1d(pair_key[(k % 2) == 0], pair_key[(k % 2) == 1], return_indices=True)
    la, lb = table.label[in_a[ia]], table.label[in_b[ib]]
    kinds = _classify(la, lb)
    raters = table.rater[in_a[ia]]
    items = table.item[in_a[ia]]
    by_rater = {table.rater_names[r]: _summarise(kinds[raters == r]) for r in np.unique(raters)}
    item_reversals = np.bincount(items[(kinds == 1) | (kinds == 2)], minlength=n_items)
    item_changed = np.bincount(items[kinds != 0], minlength=n_items)
    # across raters: per item, the plurality verdict among judgments shown a-first vs b-first
    counts = np.zeros((n_items, 2, 3), dtype=np.int64)
    np.add.at(counts, (table.item, table.shown_first.astype(np.int64), table.label.astype(np.int64)), 1)
    swapped = (counts[:, 0].sum(axis=1) > 0) & (counts[:, 1].sum(axis=1) > 0)
    pa, pb = _plurality(counts[:, 0]), _plurality(counts[:, 1])
    decided = swapped & (pa >= 0) & (pb >= 0)
    across_kinds = _classify(pa[decided], pb[decided])
    item_across = np.zeros(n_items, dtype=bool)
    item_across[np.flatnonzero(decided)[(across_kinds == 1) | (across_kinds == 2)]] = True
    return SwapAnalysis(by_rater, _summarise(kinds), _summarise(across_kinds), item_reversals, item_changed,
                        item_across, swapped)
