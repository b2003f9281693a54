"""Validation of the integer-coded long-format inputs shared by the label models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


def as_codes(name: str, values: object) -> np.ndarray:
    """Return `values` as a 1-D int64 array of non-negative codes, or raise ValueError naming `name`."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of integer codes, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"{name}: expected integer codes, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        at = int(np.argmax(arr < 0))
        raise ValueError(f"{name}: codes must be >= 0, got {arr[at]} at index {at}")
    return arr


def check_same_length(**arrays: np.ndarray) -> int:
    """Raise ValueError unless every array has the length of the first one; return that length."""
    names = list(arrays)
    n = len(arrays[names[0]])
    for name in names[1:]:
        if len(arrays[name]) != n:
            raise ValueError(f"{name}: length {len(arrays[name])} does not match {names[0]} (length {n})")
    return n


def resolve_count(name: str, given: int | None, codes: np.ndarray, codes_name: str) -> int:
    """Number of distinct codes: `given` (checked against the codes) or max(code) + 1."""
    top = int(codes.max()) + 1 if codes.size else 0
    if given is None:
        return top
    if int(given) != given or given < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {given!r}")
    if top > given:
        at = int(np.argmax(codes >= given))
        raise ValueError(f"{codes_name}: value {codes[at]} at index {at} is >= {name}={given}")
    return int(given)


def as_weights(sample_weight: object, n: int) -> np.ndarray:
    """Return per-row weights (ones when None) as float64, or raise ValueError naming sample_weight."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or len(w) != n:
        raise ValueError(f"sample_weight: expected shape ({n},), got {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        at = int(np.argmax(bad))
        raise ValueError(f"sample_weight: weights must be finite and >= 0, got {w[at]} at index {at}")
    return w


@dataclass(frozen=True)
class LabelData:
    """Validated labels plus the sparse design shared by the EM estimators.

    `design[i, r * K + l]` is the total weight of rater r giving label l to item i, so one sparse
    product gives every item's log-likelihood (E-step) and its transpose every rater's counts (M-step).
    """

    n_items: int
    n_raters: int
    n_classes: int
    design: sp.csr_matrix  # (n_items, n_raters * K)
    design_t: sp.csr_matrix  # (n_raters * K, n_items)
    pair_present: np.ndarray  # bool (n_raters * K,): rater r used label l at least once
    item_weight: np.ndarray  # (n_items,) total label weight per item
    rater_weight: np.ndarray  # (n_raters,) total label weight per rater
    observed: np.ndarray  # float (n_items,): 1.0 where the item has at least one label, else 0.0
    gold_items: np.ndarray
    gold_labels: np.ndarray
    total_weight: float

    @classmethod
    def build(
        cls,
        items: object,
        raters: object,
        labels: object,
        *,
        n_items: int | None,
        n_raters: int | None,
        n_classes: int | None,
        gold: Mapping[int, int] | None,
        sample_weight: object,
    ) -> LabelData:
        """Validate the long-format arrays and build the design matrix."""
        it = as_codes("items", items)
        rt = as_codes("raters", raters)
        lb = as_codes("labels", labels)
        n = check_same_length(items=it, raters=rt, labels=lb)
        if n == 0:
            raise ValueError("labels: no labels to fit on")
        w = as_weights(sample_weight, n)
        gi, gl = _gold_arrays(gold)
        given_items = n_items
        n_items = resolve_count("n_items", n_items, it, "items")
        if gi.size and gi.max() >= n_items:
            if given_items is not None:
                raise ValueError(f"gold: item {gi.max()} is >= n_items={n_items}")
            n_items = int(gi.max()) + 1  # a gold item nobody labelled still gets a row
        n_raters = resolve_count("n_raters", n_raters, rt, "raters")
        n_classes = resolve_count("n_classes", n_classes, lb, "labels")
        if gl.size and gl.max() >= n_classes:
            at = int(np.argmax(gl >= n_classes))
            raise ValueError(f"gold: label {gl[at]} of item {gi[at]} is >= n_classes={n_classes}")
        if n_classes < 2:
            raise ValueError(f"n_classes: need at least 2 classes, got {n_classes} (pass n_classes= if one is unused)")
        # Zero-weight rows carry no evidence; dropping them keeps "rater used label" well defined.
        keep = w > 0
        if not keep.all():
            it, rt, lb, w = it[keep], rt[keep], lb[keep], w[keep]
        if it.size == 0:
            raise ValueError("labels: no label with positive weight to fit on")
        cols = rt * n_classes + lb
        design = sp.csr_matrix((w, (it, cols)), shape=(n_items, n_raters * n_classes))
        design.sum_duplicates()
        pair_present = np.bincount(cols, minlength=n_raters * n_classes) > 0
        item_weight = np.bincount(it, weights=w, minlength=n_items)
        return cls(
            n_items=n_items,
            n_raters=n_raters,
            n_classes=n_classes,
            design=design,
            design_t=design.T.tocsr(),
            pair_present=pair_present,
            item_weight=item_weight,
            rater_weight=np.bincount(rt, weights=w, minlength=n_raters),
            observed=(np.bincount(it, minlength=n_items) > 0).astype(np.float64),
            gold_items=gi,
            gold_labels=gl,
            total_weight=float(w.sum()),
        )

    def vote_fractions(self) -> np.ndarray:
        """(n_items, K) weighted share of each label per item (majority-vote probabilities)."""
        k = self.n_classes
        by_label = sp.csr_matrix(
            (np.ones(self.n_raters * k), (np.arange(self.n_raters * k), np.tile(np.arange(k), self.n_raters))),
            shape=(self.n_raters * k, k),
        )
        counts = (self.design @ by_label).toarray()
        total = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)

    def clamp_gold(self, posteriors: np.ndarray) -> np.ndarray:
        """Set gold items' posteriors to their known class (in place) and return them."""
        if self.gold_items.size:
            posteriors[self.gold_items] = 0.0
            posteriors[self.gold_items, self.gold_labels] = 1.0
        return posteriors


def _gold_arrays(gold: Mapping[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    if gold is None or len(gold) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not isinstance(gold, Mapping):
        raise ValueError(f"gold: expected a dict item -> class, got {type(gold).__name__}")
    keys = as_codes("gold (items)", list(gold.keys()))
    values = as_codes("gold (labels)", list(gold.values()))
    return keys, values


def softmax_rows(log_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax and log-sum-exp of an (n, K) array of log scores (K small)."""
    # Column-by-column maxima and sums: numpy's axis=1 reductions over a short axis are ~10x slower.
    columns = range(1, log_scores.shape[1])
    top = log_scores[:, 0].copy()
    for c in columns:
        np.maximum(top, log_scores[:, c], out=top)
    scaled = np.exp(log_scores - top[:, None])
    total = scaled[:, 0].copy()
    for c in columns:
        total += scaled[:, c]
    scaled /= total[:, None]
    return scaled, np.log(total) + top


def single_thread_blas() -> threadpool_limits:
    """Context limiting BLAS to one thread.

    The fits only make vector-sized BLAS calls (L-BFGS updates, dot products): threads gain nothing
    there, and on a busy machine OpenBLAS thread hand-offs made L-BFGS-B 10-30x slower per iteration.
    """
    return threadpool_limits(limits=1, user_api="blas")
