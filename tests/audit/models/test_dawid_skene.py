"""Dawid–Skene and one-coin Dawid–Skene against crowd-kit on the same labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from audit_models_sim import crowdkit_frame, crowdkit_matrix, simulate_labels
from crowdkit.aggregation import DawidSkene as CrowdKitDS
from crowdkit.aggregation import OneCoinDawidSkene as CrowdKitOneCoin

from tether.audit.models import DawidSkene, OneCoinDawidSkene

K = 3


@pytest.fixture(scope="module")
def labelled() -> tuple[np.ndarray, ...]:
    return simulate_labels(seed=0, n_items=1500, n_raters=30, k=K, per_item=5)


@pytest.mark.parametrize("n_iter", [1, 4, 100])
def test_posteriors_equal_crowdkit(labelled, n_iter: int) -> None:
    items, raters, labels, _, _ = labelled
    ck = CrowdKitDS(n_iter=n_iter).fit(crowdkit_frame(items, raters, labels))
    ours = DawidSkene(n_iter=n_iter).fit(items, raters, labels)

    assert ours.n_iter_ == len(ck.loss_history_)  # same stopping rule
    np.testing.assert_allclose(ours.lower_bound_history_, ck.loss_history_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.posteriors_, crowdkit_matrix(ck.probas_, len(ours.posteriors_), K), atol=1e-6)
    np.testing.assert_allclose(ours.priors_, ck.priors_.reindex(range(K)).to_numpy(), atol=1e-6)
    np.testing.assert_array_equal(ours.labels_, ck.labels_.reindex(range(len(ours.labels_))).to_numpy())
    # crowd-kit's errors_[worker, observed label][true class] is our confusions_[worker, true class, label].
    errors = ck.errors_
    for (worker, label), row in errors.iterrows():
        np.testing.assert_allclose(ours.confusions_[worker, :, label], row.reindex(range(K)).to_numpy(), atol=1e-6)


def test_default_run_converges_before_the_cap(labelled) -> None:
    items, raters, labels, truth, _ = labelled
    ours = DawidSkene().fit(items, raters, labels)
    assert ours.n_iter_ < 100
    majority = np.array([np.bincount(labels[items == i], minlength=K).argmax() for i in range(len(truth))])
    assert (ours.labels_ == truth).mean() > (majority == truth).mean()
    np.testing.assert_allclose(ours.confusions_.sum(axis=2), 1.0, atol=1e-9)


def test_gold_items_are_clamped_and_match_crowdkit_true_labels(labelled) -> None:
    items, raters, labels, truth, _ = labelled
    rng = np.random.default_rng(5)
    gold_items = rng.choice(len(truth), 150, replace=False)
    gold = {int(i): int(truth[i]) for i in gold_items}
    ck = CrowdKitDS(n_iter=30).fit(crowdkit_frame(items, raters, labels), true_labels=pd.Series(gold))
    ours = DawidSkene(n_iter=30).fit(items, raters, labels, gold=gold)

    np.testing.assert_allclose(ours.posteriors_, crowdkit_matrix(ck.probas_, len(truth), K), atol=1e-6)
    expected = np.zeros((len(gold_items), K))
    expected[np.arange(len(gold_items)), truth[gold_items]] = 1.0
    np.testing.assert_array_equal(ours.posteriors_[gold_items], expected)
    # Gold changes the fit: the non-gold posteriors differ from the fit without gold.
    free = DawidSkene(n_iter=30).fit(items, raters, labels)
    assert np.abs(free.posteriors_ - ours.posteriors_).max() > 1e-3


def test_gold_item_without_labels_keeps_its_class() -> None:
    items, raters, labels, _, _ = simulate_labels(seed=1, n_items=200, n_raters=10, k=K, per_item=3)
    ours = DawidSkene().fit(items, raters, labels, n_items=202, gold={201: 2})
    np.testing.assert_array_equal(ours.posteriors_[201], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(ours.posteriors_[200], ours.priors_, atol=1e-9)  # no labels, no gold: the prior


def test_integer_weights_equal_repeated_rows(labelled) -> None:
    items, raters, labels, _, _ = labelled
    weight = np.random.default_rng(2).integers(1, 4, len(items))
    repeat = np.repeat(np.arange(len(items)), weight)
    weighted = DawidSkene(n_iter=20, tol=-np.inf).fit(items, raters, labels, sample_weight=weight.astype(float))
    repeated = DawidSkene(n_iter=20, tol=-np.inf).fit(items[repeat], raters[repeat], labels[repeat])
    np.testing.assert_allclose(weighted.posteriors_, repeated.posteriors_, atol=1e-12)
    np.testing.assert_allclose(weighted.confusions_, repeated.confusions_, atol=1e-12)


def test_log_likelihood_and_rater_accuracy_by_direct_sums() -> None:
    items, raters, labels, _, _ = simulate_labels(seed=3, n_items=60, n_raters=6, k=K, per_item=3)
    ours = DawidSkene(n_iter=10).fit(items, raters, labels)
    total = 0.0
    for i in range(60):
        rows = items == i
        joint = ours.priors_.copy()
        for r, lab in zip(raters[rows], labels[rows], strict=True):
            joint = joint * ours.confusions_[r, :, lab]
        total += np.log(joint.sum())
    assert ours.log_likelihood_ == pytest.approx(total, rel=1e-9)
    for r in range(6):
        rows = raters == r
        assert ours.rater_accuracy_[r] == pytest.approx(ours.posteriors_[items[rows], labels[rows]].mean(), rel=1e-12)


def test_rater_without_labels_has_nan_accuracy_and_uniform_confusion() -> None:
    items, raters, labels, _, _ = simulate_labels(seed=4, n_items=100, n_raters=5, k=K, per_item=2)
    ours = DawidSkene().fit(items, raters, labels, n_raters=7)
    assert np.isnan(ours.rater_accuracy_[5:]).all()
    np.testing.assert_allclose(ours.confusions_[6], np.full((K, K), 1.0 / K))


@pytest.mark.parametrize("n_iter", [1, 6])
def test_one_coin_equals_crowdkit(labelled, n_iter: int) -> None:
    items, raters, labels, _, _ = labelled
    ck = CrowdKitOneCoin(n_iter=n_iter).fit(crowdkit_frame(items, raters, labels))
    ours = OneCoinDawidSkene(n_iter=n_iter).fit(items, raters, labels)
    assert ours.n_iter_ == len(ck.loss_history_)
    np.testing.assert_allclose(ours.posteriors_, crowdkit_matrix(ck.probas_, len(ours.posteriors_), K), atol=1e-6)
    np.testing.assert_allclose(ours.skills_, ck.skills_.reindex(range(30)).to_numpy(), atol=1e-6)


def test_one_coin_confusions_are_one_accuracy_and_uniform_errors(labelled) -> None:
    items, raters, labels, _, planted = labelled
    ours = OneCoinDawidSkene().fit(items, raters, labels)
    diag = ours.confusions_[:, np.arange(K), np.arange(K)]
    np.testing.assert_allclose(diag, np.repeat(ours.skills_[:, None], K, axis=1), atol=1e-12)
    off = ours.confusions_[:, ~np.eye(K, dtype=bool)]
    np.testing.assert_allclose(off, np.repeat(((1 - ours.skills_) / (K - 1))[:, None], K * (K - 1), axis=1), atol=1e-9)
    # The planted accuracies (0.4..0.95, errors uniform) are what the one-coin model estimates.
    assert np.abs(ours.skills_ - planted).max() < 0.1


def test_one_coin_honours_gold() -> None:
    items, raters, labels, truth, _ = simulate_labels(seed=6, n_items=300, n_raters=8, k=K, per_item=3)
    ours = OneCoinDawidSkene().fit(items, raters, labels, gold={0: int(truth[0]), 1: int(truth[1])})
    assert ours.posteriors_[0, truth[0]] == 1.0 and ours.posteriors_[1, truth[1]] == 1.0
