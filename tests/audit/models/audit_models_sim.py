"""Seeded simulators for the label-model tests: data drawn from the models themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_labels(
    seed: int, n_items: int, n_raters: int, k: int, per_item: int, acc_low: float = 0.4, acc_high: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Items labelled by `per_item` distinct raters, each right with their own accuracy, else uniform error.

    Returns (items, raters, labels, truth, accuracy).
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    acc = rng.uniform(acc_low, acc_high, n_raters)
    items = np.repeat(np.arange(n_items), per_item)
    raters = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :per_item].ravel()
    right = rng.random(len(items)) < acc[raters]
    labels = np.where(right, truth[items], (truth[items] + rng.integers(1, k, len(items))) % k)
    return items, raters, labels, truth, acc


def simulate_mace(
    seed: int, n_items: int, competence: np.ndarray, k: int, per_item: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MACE generative model: a rater copies the truth with prob. competence, else draws a uniform label.

    Rows are sorted by rater and labels renumbered by first appearance, so crowd-kit's MACE (which
    assumes factorized order == sorted order for raters and labels) reads the same data.
    """
    rng = np.random.default_rng(seed)
    n_raters = len(competence)
    truth = rng.integers(0, k, n_items)
    items = np.repeat(np.arange(n_items), per_item)
    raters = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :per_item].ravel()
    knows = rng.random(len(items)) < competence[raters]
    labels = np.where(knows, truth[items], rng.integers(0, k, len(items)))
    order = np.lexsort((items, raters))
    items, raters, labels = items[order], raters[order], labels[order]
    _, first = np.unique(labels, return_index=True)
    remap = np.empty(k, dtype=np.int64)
    remap[np.argsort(first)] = np.arange(k)
    return items, raters, remap[labels], remap[truth]


def crowdkit_frame(items: np.ndarray, raters: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """crowd-kit's long format for the same labels."""
    return pd.DataFrame({"task": items, "worker": raters, "label": labels})


def crowdkit_matrix(frame: pd.DataFrame, n_rows: int, k: int) -> np.ndarray:
    """A crowd-kit (task x label) frame as an (n_rows, k) array in code order."""
    return frame.reindex(index=range(n_rows), columns=range(k)).to_numpy(dtype=float)


def simulate_comparisons(
    rng: np.random.Generator,
    n: int,
    scores: np.ndarray,
    position: float,
    nu: float,
    rater_dev: np.ndarray,
    ties: bool = True,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Bradley–Terry–Davidson comparisons with a first-position bonus (global + per rater), random order.

    Players are drawn at random unless `pairs` (a, b) fixes who meets whom.
    """
    p = len(scores)
    if pairs is None:
        a = rng.integers(0, p, n)
        b = (a + rng.integers(1, p, n)) % p
    else:
        a, b = pairs
    first = rng.integers(0, 2, n)
    raters = rng.integers(0, len(rater_dev), n)
    sign = 1.0 - 2.0 * first
    d = scores[a] - scores[b] + sign * (position + rater_dev[raters])
    if ties:
        pa, pb, pt = np.exp(d / 2), np.exp(-d / 2), np.full(n, nu)
    else:
        pa, pb, pt = 1.0 / (1.0 + np.exp(-d)), 1.0 / (1.0 + np.exp(d)), np.zeros(n)
    z = pa + pb + pt
    u = rng.random(n)
    outcome = np.where(u < pa / z, 0, np.where(u < (pa + pb) / z, 1, 2))
    return {"a": a, "b": b, "shown_first": first, "outcome": outcome, "raters": raters, "d": d}
