"""Best-of-n on sampled answers, in closed form: the expected score of the proxy's pick among n of m samples per
prompt (exact weights, no resampling), Gao et al.'s KL of best-of-n, and proxy/gold correlations over samples."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb, log

import numpy as np


def best_of_n_weights(n: int, m: int) -> np.ndarray:
    """Exact weights of the expected best-of-n over n of m samples drawn without replacement: the sample ranked i-th
    (ascending, 1-based) by the picker is the best of the draw with probability C(i-1, n-1) / C(m, n)."""
    return np.array([comb(i - 1, n - 1) for i in range(1, m + 1)], dtype=np.float64) / comb(m, n)


def bon_kl(n: int) -> float:
    """KL of best-of-n to the sampling policy (Gao et al.'s analytic form)."""
    return log(n) - (n - 1) / n


def best_of_n(proxy: np.ndarray, scores: dict[str, np.ndarray], ns: Sequence[int]) -> dict[str, list[float]]:
    """For each n: the mean over prompts of the expected score (each of `scores`, ``[prompts, m]``) of the answer
    the proxy ranks best among n of the prompt's m samples."""
    order = np.argsort(proxy, axis=1, kind="stable")
    m = proxy.shape[1]
    out: dict[str, list[float]] = {"n": list(ns), "kl": [bon_kl(n) for n in ns]}
    for name, s in scores.items():
        ranked = np.take_along_axis(s, order, axis=1)
        out[name] = [float((ranked @ best_of_n_weights(n, m)).mean()) for n in ns]
    return out


def correlations(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Pearson correlation over all samples and within prompts (each prompt's mean removed); ``[prompts, m]``."""
    def r(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a.ravel(), b.ravel()
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")

    return {"overall": r(x, y), "within_prompts": r(x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True))}
