"""Two-sample tests: RFF-MMD against the exact kernel MMD, calibration under H0, power, coverage."""

from __future__ import annotations

import numpy as np
import pytest

from tether.shift.coverage import ClusterCoverage
from tether.shift.language import base_language, language_coverage
from tether.shift.twosample import ClassifierTest, MMDTest, median_bandwidth


def exact_mmd2(X: np.ndarray, Y: np.ndarray, sigma: float) -> float:
    """Biased MMD^2 with k(x, y) = exp(-|x - y|^2 / (2 sigma^2)), computed from the full kernel matrices."""
    def k(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
        return np.exp(-np.maximum(d2, 0) / (2 * sigma**2))

    X, Y = X.astype(np.float64), Y.astype(np.float64)
    return float(k(X, X).mean() + k(Y, Y).mean() - 2 * k(X, Y).mean())


def test_random_features_approximate_the_exact_kernel_mmd() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 8))
    Y = rng.standard_normal((300, 8)) + np.array([0.7] + [0.0] * 7)
    test = MMDTest(n_features=8192, bandwidth=3.0, n_permutations=10, seed=0).fit(X, Y)
    assert test.statistic_ == pytest.approx(exact_mmd2(X, Y, 3.0), rel=0.1)


def test_median_bandwidth_matches_scipy_pdist() -> None:
    from scipy.spatial.distance import pdist

    Z = np.random.default_rng(0).standard_normal((200, 5))
    assert median_bandwidth(Z, np.random.default_rng(0)) == pytest.approx(float(np.median(pdist(Z))), rel=1e-5)


def test_both_tests_hold_their_level_under_h0() -> None:
    rng = np.random.default_rng(7)
    reps, alpha = 200, 0.05
    rej_mmd = rej_c2st = 0
    for r in range(reps):
        X, Y = rng.standard_normal((40, 6)), rng.standard_normal((40, 6))
        rej_mmd += MMDTest(n_features=64, n_permutations=99, seed=r).fit(X, Y).pvalue_ <= alpha
        rej_c2st += ClassifierTest(seed=r).fit(X, Y).pvalue_ <= alpha
    # 99.9% binomial interval around 0.05 for 200 draws is about [0.010, 0.105]
    assert 0.01 <= rej_mmd / reps <= 0.105, rej_mmd
    assert 0.005 <= rej_c2st / reps <= 0.105, rej_c2st


def test_both_tests_detect_a_mean_shift() -> None:
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((300, 16)), rng.standard_normal((300, 16)) + 0.3
    assert MMDTest(seed=0).fit(X, Y).pvalue_ < 0.01
    c = ClassifierTest(seed=0).fit(X, Y)
    assert c.pvalue_ < 0.01 and c.auc_ > 0.7


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="same number of columns"):
        MMDTest().fit(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        ClassifierTest().fit(np.zeros((1, 3)), np.zeros((5, 3)))


def test_cluster_coverage_finds_the_region_annotation_misses() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    A = np.concatenate([centres[0] + rng.standard_normal((100, 3)), centres[1] + rng.standard_normal((100, 3))])
    P_parts = [centres[i] + rng.standard_normal((60, 3)) for i in range(3)]
    P = np.concatenate(P_parts)
    texts = [f"region{i}-{j}" for i in range(3) for j in range(60)]
    cov = ClusterCoverage(n_clusters=3, n_examples=4).fit(A, P, texts)
    (gap,) = cov.under_covered_
    assert gap.annotation == 0 and gap.production == 60 and gap.production_share == pytest.approx(1 / 3)
    assert len(gap.examples) == 4 and all(e.startswith("region2-") for e in gap.examples)
    assert sum(r.production for r in cov.rows_) == 180 and sum(r.annotation for r in cov.rows_) == 200


def test_language_coverage_counts_and_shares() -> None:
    assert base_language("pt-BR") == "pt" and base_language("uk_UA") == "uk"
    rows = {r["language"]: r for r in language_coverage(["en"] * 9 + ["es"], ["es"] * 3 + ["en"])}
    assert rows["es"]["production_share"] == 0.75 and rows["es"]["annotation_share"] == 0.1
    assert rows["en"]["annotation"] == 9 and rows["en"]["production"] == 1
