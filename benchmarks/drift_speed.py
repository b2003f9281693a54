"""Drift test speed: 10,000 vs 10,000 embeddings of 384 dims (goal: <= 2 s for the MMD test).

Side by side, the peer: the exact Gaussian-kernel MMD^2 statistic (full kernel matrices, computed
in blocks with numpy float32) — one statistic, no permutations; a permutation test on it would
repeat that work per permutation. Median of `--repeat` runs.

    python benchmarks/drift_speed.py --n 10000 --dim 384 --write
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from drift_results import RESULTS, write_subsection

from tether.shift.twosample import ClassifierTest, MMDTest


def exact_mmd2(X: np.ndarray, Y: np.ndarray, sigma: float, block: int = 2000) -> float:
    """Biased MMD^2 with the exact Gaussian kernel, blockwise so memory stays small."""
    def mean_k(A: np.ndarray, B: np.ndarray) -> float:
        total = 0.0
        a2, b2 = (A * A).sum(1), (B * B).sum(1)
        for i in range(0, len(A), block):
            d2 = a2[i : i + block, None] + b2[None, :] - 2 * A[i : i + block] @ B.T
            total += float(np.exp(-np.maximum(d2, 0) / (2 * sigma * sigma)).sum())
        return total / (len(A) * len(B))

    return mean_k(X, X) + mean_k(Y, Y) - 2 * mean_k(X, Y)


def timed(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help=f"write figures to {RESULTS.name}")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    # unit vectors like sentence embeddings; production shifted a little along a few directions
    X = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    Y = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    Y[:, :8] += 0.15
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y /= np.linalg.norm(Y, axis=1, keepdims=True)
    t_mmd, mmd = timed(lambda: MMDTest(seed=0).fit(X, Y), args.repeat)
    t_c2, c2 = timed(lambda: ClassifierTest(seed=0).fit(X, Y), args.repeat)
    t_exact, exact = timed(lambda: exact_mmd2(X, Y, mmd.bandwidth_), 1)
    print(f"MMD test {t_mmd:.2f}s p={mmd.pvalue_:.4f} stat={mmd.statistic_:.3g}; exact statistic {t_exact:.2f}s "
          f"= {exact:.3g}; C2ST {t_c2:.2f}s AUC={c2.auc_:.3f} p={c2.pvalue_:.3g}")
    if args.write:
        write_subsection("Drift test speed", f"""
`python benchmarks/drift_speed.py --n {args.n} --dim {args.dim} --repeat {args.repeat} --write` — {args.n:,} vs
{args.n:,} unit vectors of {args.dim} dims (production shifted slightly). Machine: {platform.machine()}, 2-core shared
dev machine, other work running. Median of {args.repeat} runs (peer: 1 run).

| | time | result |
|---|---|---|
| tether MMD test (256 random Fourier features, 200 permutations, p-value included) | {t_mmd:.2f} s |\
 MMD² {mmd.statistic_:.3g}, p = {mmd.pvalue_:.4f} |
| peer: exact-kernel MMD² statistic alone (no permutations) | {t_exact:.2f} s | MMD² {exact:.3g} |
| ratio (peer / tether) | {t_exact / t_mmd:.1f}x | |
| tether classifier two-sample test (logistic regression, held-out AUC) | {t_c2:.2f} s |\
 AUC {c2.auc_:.3f}, p = {c2.pvalue_:.3g} |

Goal <= 2 s for the MMD test: {"met" if t_mmd <= 2 else "NOT met"}.
""")


if __name__ == "__main__":
    main()
