"""Score-against-outcome metrics, each checked against a reference implementation or a brute-force count."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau, mannwhitneyu, spearmanr

from tether.outcomes import metrics as m

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def _data(seed: int, n: int = 300, ties: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    passed = rng.random(n) < 0.4
    scores = rng.normal(size=n) + 0.8 * passed
    if ties:
        scores = np.round(scores, 1)  # many tied scores
    groups = rng.integers(0, n // 4, n)
    return scores, passed, groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_sklearn_and_mann_whitney(seed: int) -> None:
    scores, passed, _ = _data(seed)
    ours = m.auc(scores, passed)
    assert ours == pytest.approx(sklearn_metrics.roc_auc_score(passed, scores), abs=1e-12)
    u = mannwhitneyu(scores[passed], scores[~passed]).statistic
    assert ours == pytest.approx(u / (passed.sum() * (~passed).sum()), abs=1e-12)


def test_auc_undefined_with_one_class() -> None:
    assert np.isnan(m.auc(np.array([1.0, 2.0]), np.array([True, True])))


@pytest.mark.parametrize("seed", [0, 1])
def test_rank_correlations_match_scipy(seed: int) -> None:
    scores, passed, _ = _data(seed)
    y = passed.astype(float)
    assert m.spearman(scores, y) == pytest.approx(spearmanr(scores, y).statistic, abs=1e-12)
    assert m.kendall_tau_b(scores, y) == pytest.approx(kendalltau(scores, y).statistic, abs=1e-12)
    graded = np.round(np.random.default_rng(seed).random(scores.size) * 4) / 4  # a graded outcome, with ties
    assert m.spearman(scores, graded) == pytest.approx(spearmanr(scores, graded).statistic, abs=1e-12)
    assert m.kendall_tau_b(scores, graded) == pytest.approx(kendalltau(scores, graded).statistic, abs=1e-12)
    assert np.isnan(m.spearman(scores, np.ones_like(scores)))
    assert np.isnan(m.kendall_tau_b(scores, np.ones_like(scores)))


def test_pairwise_within_counts_pass_fail_pairs_of_each_group() -> None:
    scores, passed, groups = _data(3, n=120)
    wins, pairs = m.pairwise_within(scores, passed, groups)
    exp_wins, exp_pairs = {}, {}
    for i, j in itertools.product(range(scores.size), repeat=2):
        if groups[i] == groups[j] and passed[i] and not passed[j]:
            exp_pairs[groups[i]] = exp_pairs.get(groups[i], 0) + 1
            exp_wins[groups[i]] = exp_wins.get(groups[i], 0) + (1.0 if scores[i] > scores[j] else
                                                               0.5 if scores[i] == scores[j] else 0.0)
    labels = np.unique(groups)
    for k, g in enumerate(labels):
        assert pairs[k] == exp_pairs.get(g, 0)
        assert wins[k] == pytest.approx(exp_wins.get(g, 0))


def test_best_of_n_against_a_direct_count() -> None:
    scores, passed, groups = _data(4, n=200)
    res = m.best_of_n(scores, passed, groups)
    sel, rnd, orc = [], [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if idx.size < 2:
            continue
        top = idx[scores[idx] == scores[idx].max()]
        sel.append(passed[top].mean())
        rnd.append(passed[idx].mean())
        orc.append(float(passed[idx].any()))
    assert res["selected"].tolist() == pytest.approx(sel)
    assert res["random"].tolist() == pytest.approx(rnd)
    assert res["oracle"].tolist() == pytest.approx(orc)
    assert (res["selected"] <= res["oracle"]).all()


def test_best_of_n_tied_top_scores_are_averaged() -> None:
    res = m.best_of_n(np.array([2.0, 2.0, 1.0]), np.array([True, False, True]), np.array(["a", "a", "a"]))
    assert res["selected"].tolist() == [0.5]
    assert res["random"].tolist() == pytest.approx([2 / 3])
    assert res["oracle"].tolist() == [1.0]


def test_reliability_matches_sklearn_calibration_curve() -> None:
    calibration = pytest.importorskip("sklearn.calibration")
    rng = np.random.default_rng(5)
    prob = rng.random(500)
    passed = rng.random(500) < prob ** 2
    rel = m.reliability(prob, passed, n_bins=10)
    true_rate, mean_pred = calibration.calibration_curve(passed, prob, n_bins=10, strategy="uniform")
    kept = [i for i, c in enumerate(rel["count"]) if c]
    assert [rel["observed"][i] for i in kept] == pytest.approx(true_rate.tolist())
    assert [rel["predicted"][i] for i in kept] == pytest.approx(mean_pred.tolist())
    expected_ece = sum(rel["count"][i] * abs(rel["observed"][i] - rel["predicted"][i]) for i in kept) / 500
    assert m.ece(prob, passed) == pytest.approx(expected_ece)
    assert m.ece(prob, passed) > 0.05  # prob ** 2 is not prob: miscalibrated


def test_fit_logistic_matches_unpenalised_sklearn() -> None:
    linear = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(6)
    scores = rng.normal(size=800) * 3 + 1
    passed = rng.random(800) < m.sigmoid(0.7 * scores - 0.5)
    a, b = m.fit_logistic(scores, passed, l2=0.0)
    ref = linear.LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(scores[:, None], passed)
    assert a == pytest.approx(ref.coef_[0, 0], rel=1e-3)
    assert b == pytest.approx(ref.intercept_[0], abs=1e-3)


def test_crossfit_logistic_calibrates_a_shifted_score() -> None:
    rng = np.random.default_rng(7)
    scores = rng.normal(size=2000) * 2
    passed = rng.random(2000) < m.sigmoid(scores - 3)  # sigmoid(score) over-predicts passing
    groups = np.arange(2000) // 2
    fitted = m.crossfit_logistic(scores, passed, groups, seed=0)
    assert m.ece(fitted, passed) < 0.5 * m.ece(m.sigmoid(scores), passed)


def test_group_index_rows_are_the_picked_groups_rows() -> None:
    groups = np.array(["b", "a", "c", "a", "b", "b"])
    idx = m.GroupIndex(groups)
    labels = np.unique(groups)
    picked = np.array([2, 0, 0, 1])
    rows = idx.rows(picked)
    expected = np.concatenate([np.flatnonzero(groups == labels[g]) for g in picked])
    assert sorted(rows.tolist()) == sorted(expected.tolist())
    assert [groups[r] for r in rows] == [labels[g] for g in picked for _ in range((groups == labels[g]).sum())]


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    scores, passed, groups = _data(8, n=400)
    idx = m.GroupIndex(groups)

    def stat(i: np.ndarray) -> float:
        return m.auc(scores[i], passed[i])

    lo, hi = m.bootstrap(stat, idx, n_boot=300, seed=1)
    assert (lo, hi) == m.bootstrap(stat, idx, n_boot=300, seed=1)
    assert (lo, hi) != m.bootstrap(stat, idx, n_boot=300, seed=2)
    assert lo < m.auc(scores, passed) < hi
    assert 0.02 < hi - lo < 0.3
    assert np.isnan(m.bootstrap(stat, idx, n_boot=0)[0])


def test_rankdata_matches_scipy_with_ties() -> None:
    from scipy.stats import rankdata

    x = np.round(np.random.default_rng(9).normal(size=500), 1)
    assert m.rankdata(x).tolist() == rankdata(x).tolist()
    assert m.rankdata(np.array([])).size == 0


def test_rank_stats_equal_the_single_metrics() -> None:
    scores, passed, _ = _data(10)
    y = passed.astype(float)
    assert m.rank_stats(scores, y).tolist() == pytest.approx([m.auc(scores, passed), m.spearman(scores, y),
                                                             kendalltau(scores, y).statistic])
    graded = np.round(np.random.default_rng(1).random(scores.size) * 4) / 4
    got = m.rank_stats(scores, graded)
    assert got[0] == pytest.approx(m.auc(scores, graded >= 0.5))
    assert got[2] == pytest.approx(kendalltau(scores, graded).statistic)
