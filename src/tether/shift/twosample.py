"""Two-sample tests between an annotation set and a production window, on embeddings.

- `MMDTest`: maximum mean discrepancy with a Gaussian kernel approximated by random Fourier features
  (Rahimi & Recht 2007), so the statistic is ||mean phi(X) - mean phi(Y)||^2 in O((n+m) D); the
  permutation null reuses the pooled features, all permutations as one matrix product.
- `ClassifierTest`: a classifier two-sample test (Lopez-Paz & Oquab 2017): logistic regression
  trained on half the data, AUC of its scores on the other half, p-value from the Mann-Whitney U
  test (exact under H0: held-out scores are exchangeable between the samples).
Both p-values are valid at any sample size (permutation / rank tests), hence calibrated.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import mannwhitneyu


def _check(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=np.float32), np.asarray(Y, dtype=np.float32)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"need two 2-d arrays with the same number of columns, got {X.shape} and {Y.shape}")
    if len(X) < 2 or len(Y) < 2:
        raise ValueError(f"each sample needs at least 2 rows, got {len(X)} and {len(Y)}")
    return X, Y


def median_bandwidth(Z: np.ndarray, rng: np.random.Generator, max_points: int = 1000) -> float:
    """Median pairwise Euclidean distance on a subsample (the usual kernel width heuristic)."""
    idx = rng.choice(len(Z), size=min(len(Z), max_points), replace=False)
    S = Z[idx].astype(np.float64)
    sq = (S * S).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * S @ S.T, 0)
    d = np.sqrt(d2[np.triu_indices(len(S), 1)])
    med = float(np.median(d))
    return med if med > 0 else 1.0


class MMDTest:
    """MMD permutation test with random Fourier features; `fit(X, Y)` sets `statistic_`, `pvalue_`."""

    def __init__(self, n_features: int = 256, bandwidth: float | None = None, n_permutations: int = 200,
                 seed: int = 0) -> None:
        self.n_features = n_features
        self.bandwidth = bandwidth
        self.n_permutations = n_permutations
        self.seed = seed

    def fit(self, X: np.ndarray, Y: np.ndarray) -> MMDTest:
        """Compute the statistic and its permutation p-value."""
        X, Y = _check(X, Y)
        rng = np.random.default_rng(self.seed)
        Z = np.concatenate([X, Y])
        self.bandwidth_ = self.bandwidth or median_bandwidth(Z, rng)
        W = rng.standard_normal((Z.shape[1], self.n_features)).astype(np.float32) / np.float32(self.bandwidth_)
        b = rng.uniform(0, 2 * np.pi, self.n_features).astype(np.float32)
        phi = np.cos(Z @ W + b) * np.float32(np.sqrt(2.0 / self.n_features))  # k(x,y) ~ phi(x).phi(y)
        n, m = len(X), len(Y)
        # sample mean difference as a signed weight vector: +1/n on X rows, -1/m on Y rows
        w = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)]).astype(np.float32)
        diff = w @ phi
        self.statistic_ = float(diff @ diff)
        null: list[np.ndarray] = []
        chunk = max(1, min(self.n_permutations, 2_000_000 // (n + m)))  # bounded memory per block
        done = 0
        while done < self.n_permutations:
            k = min(chunk, self.n_permutations - done)
            perms = rng.permuted(np.broadcast_to(w, (k, n + m)), axis=1)
            d = perms @ phi
            null.append((d * d).sum(1))
            done += k
        self.null_ = np.concatenate(null)
        exceed = int((self.null_ >= self.statistic_).sum())
        self.pvalue_ = (1 + exceed) / (1 + self.n_permutations)
        return self


def _fit_logistic(X: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, max_iter=200)
    clf.fit(X, y)
    return clf.coef_[0], float(clf.intercept_[0])


class ClassifierTest:
    """Classifier two-sample test: held-out AUC of a logistic regression; `fit` sets `auc_`, `pvalue_`."""

    def __init__(self, C: float = 1.0, test_fraction: float = 0.5, seed: int = 0) -> None:
        self.C = C
        self.test_fraction = test_fraction
        self.seed = seed

    def fit(self, X: np.ndarray, Y: np.ndarray) -> ClassifierTest:
        """Train on one part, score the held-out part; one-sided Mann-Whitney U test on its scores."""
        X, Y = _check(X, Y)
        rng = np.random.default_rng(self.seed)
        Z = np.concatenate([X, Y])
        lab = np.concatenate([np.zeros(len(X)), np.ones(len(Y))])
        test = np.zeros(len(Z), dtype=bool)
        for cls in (0, 1):  # stratified split: both samples on both sides
            idx = np.flatnonzero(lab == cls)
            test[rng.choice(idx, size=max(1, int(round(len(idx) * self.test_fraction))), replace=False)] = True
        coef, intercept = _fit_logistic(Z[~test], lab[~test], self.C)
        scores = Z[test] @ coef + intercept
        ty = lab[test]
        u = mannwhitneyu(scores[ty == 1], scores[ty == 0], alternative="greater")
        self.auc_ = float(u.statistic) / float((ty == 1).sum() * (ty == 0).sum())
        self.pvalue_ = float(u.pvalue)
        self.statistic_ = self.auc_
        return self
