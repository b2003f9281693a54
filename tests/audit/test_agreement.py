"""Agreement metrics against statsmodels, NLTK, Krippendorff's worked example and hand computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from nltk.metrics.agreement import AnnotationTask
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from tether.audit.agreement import (
    alpha_from_coincidence,
    bootstrap,
    cohens_kappa,
    cohens_kappa_estimate,
    coincidence_matrix,
    contingency,
    count_metrics,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    measure_agreement,
    pairwise_cohens_kappa,
)
from tether.audit.labels import build_table
from tether.records import Comparison


def _noisy_labels(rng: np.random.Generator, n_items: int, raters_per_item, accuracy: float = 0.7):
    """(item, rater, label) triples: a true label per item, each rater right with `accuracy`."""
    out = []
    truth = rng.choice(3, size=n_items, p=[0.45, 0.4, 0.15])
    for i in range(n_items):
        m = raters_per_item(i)
        for r in rng.choice(8, size=m, replace=False):
            label = truth[i] if rng.random() < accuracy else rng.integers(0, 3)
            out.append((i, int(r), int(label)))
    return out


def _counts(triples, n_items: int, k: int = 3) -> np.ndarray:
    c = np.zeros((n_items, k))
    for i, _, label in triples:
        c[i, label] += 1
    return c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cohens_kappa_equals_statsmodels(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, 400)
    y = np.where(rng.random(400) < 0.6, x, rng.integers(0, 3, 400))
    table = contingency(x, y)
    assert cohens_kappa(x, y) == pytest.approx(sm_cohens_kappa(table).kappa, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fleiss_kappa_equals_statsmodels_with_equal_raters(seed: int):
    rng = np.random.default_rng(seed)
    triples = _noisy_labels(rng, 150, lambda i: 4)
    counts = _counts(triples, 150)
    assert fleiss_kappa(counts) == pytest.approx(sm_fleiss_kappa(counts, method="fleiss"), abs=1e-12)


def test_fleiss_kappa_with_unequal_raters_matches_pair_enumeration():
    """Gwet's generalization: per item, the share of agreeing rater pairs among its own pairs (items rated
    twice or more); chance from the mean of each rated item's own label shares (single-rated items too)."""
    rng = np.random.default_rng(5)
    triples = _noisy_labels(rng, 120, lambda i: 1 + i % 5)
    counts = _counts(triples, 120)
    by_item: dict[int, list[int]] = {}
    for i, _, label in triples:
        by_item.setdefault(i, []).append(label)
    p_items, item_shares = [], []
    for labels in by_item.values():
        item_shares.append(np.bincount(labels, minlength=3) / len(labels))
        if len(labels) < 2:
            continue  # an item rated once has no agreement of its own
        pairs = list(itertools.permutations(labels, 2))
        p_items.append(sum(a == b for a, b in pairs) / len(pairs))
    shares = np.mean(item_shares, axis=0)
    pe = float((shares**2).sum())
    expected = (np.mean(p_items) - pe) / (1 - pe)
    assert fleiss_kappa(counts) == pytest.approx(expected, abs=1e-12)
    pe_ac1 = float((shares * (1 - shares)).sum()) / 2
    assert gwet_ac1(counts) == pytest.approx((np.mean(p_items) - pe_ac1) / (1 - pe_ac1), abs=1e-12)
    # with equal raters it is statsmodels' number again
    equal = counts[counts.sum(axis=1) == 3]
    assert fleiss_kappa(equal) == pytest.approx(sm_fleiss_kappa(equal), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_krippendorff_alpha_nominal_equals_nltk(seed: int):
    rng = np.random.default_rng(seed)
    triples = _noisy_labels(rng, 200, lambda i: int(rng.integers(1, 6)), accuracy=0.55)
    counts = _counts(triples, 200)
    nltk_alpha = AnnotationTask([(f"r{r}", f"i{i}", str(label)) for i, r, label in triples]).alpha()
    assert krippendorff_alpha(counts, "nominal") == pytest.approx(nltk_alpha, abs=1e-12)


def _textbook_ordinal_alpha(units: list[list[int]], order: list[int]) -> float:
    """Krippendorff (2011) by enumeration: pairable values within units vs. all pairable values."""
    rank = {v: r for r, v in enumerate(order)}
    values = [v for u in units if len(u) >= 2 for v in u]
    n = len(values)
    freq = {v: values.count(v) for v in order}

    def delta2(c: int, k: int) -> float:
        lo, hi = sorted((rank[c], rank[k]))
        between = sum(freq[order[g]] for g in range(lo, hi + 1))
        return (between - (freq[c] + freq[k]) / 2) ** 2

    d_o = sum(delta2(a, b) / (len(u) - 1) for u in units if len(u) >= 2
              for a, b in itertools.permutations(u, 2)) / n
    d_e = sum(delta2(a, b) for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return 1 - d_o / d_e


def test_krippendorff_alpha_ordinal_equals_textbook_enumeration():
    rng = np.random.default_rng(11)
    triples = _noisy_labels(rng, 60, lambda i: int(rng.integers(1, 5)), accuracy=0.6)
    units: dict[int, list[int]] = {}
    for i, _, label in triples:
        units.setdefault(i, []).append(label)
    counts = _counts(triples, 60)
    # pairwise labels: 0 = a, 1 = b, 2 = tie, ordered a < tie < b
    expected = _textbook_ordinal_alpha(list(units.values()), order=[0, 2, 1])
    assert krippendorff_alpha(counts, "ordinal") == pytest.approx(expected, abs=1e-12)


def test_krippendorff_worked_example():
    """Krippendorff (2011), 'Computing Krippendorff's alpha-reliability': 4 coders, 12 units, values 1-5."""
    n = None
    coders = [[1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
              [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n]]
    counts = np.zeros((12, 5))
    units: list[list[int]] = [[] for _ in range(12)]
    for row in coders:
        for u, v in enumerate(row):
            if v is not None:
                counts[u, v - 1] += 1
                units[u].append(v - 1)
    assert round(krippendorff_alpha(counts, "nominal"), 3) == 0.743  # published
    assert round(krippendorff_alpha(counts, "ordinal", order=(0, 1, 2, 3, 4)), 3) == 0.815  # published
    assert krippendorff_alpha(counts, "ordinal", order=(0, 1, 2, 3, 4)) == pytest.approx(
        _textbook_ordinal_alpha(units, order=[0, 1, 2, 3, 4]), abs=1e-12)


def test_alpha_from_coincidence_matrix_is_the_same_number():
    rng = np.random.default_rng(3)
    counts = _counts(_noisy_labels(rng, 300, lambda i: 2 + i % 3), 300)
    o = coincidence_matrix(counts)
    assert o.sum() == pytest.approx(counts.sum())  # every pairable value counted once
    assert np.allclose(o, o.T)
    for metric in ("nominal", "ordinal"):
        order = (0, 2, 1) if metric == "ordinal" else None
        assert alpha_from_coincidence(o, metric, order) == krippendorff_alpha(counts, metric)


def test_gwet_ac1_hand_computed():
    # items: [a, a], [a, b], [a, a, b]; q = 3 categories
    # Pa = (1 + 0 + 2/6) / 3 = 4/9; pi = (13/18, 5/18, 0); Pe = (2 * 13/18 * 5/18) / 2 = 65/324
    # AC1 = (4/9 - 65/324) / (1 - 65/324) = 79/259
    counts = np.array([[2, 0, 0], [1, 1, 0], [2, 1, 0]])
    assert gwet_ac1(counts) == pytest.approx(79 / 259, abs=1e-12)


def test_bootstrap_interval_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(0)
    counts = _counts(_noisy_labels(rng, 200, lambda i: 3), 200)
    rows = counts[counts.sum(axis=1) >= 2]
    one = bootstrap(fleiss_kappa, rows, n_boot=100, seed=7)
    two = bootstrap(fleiss_kappa, rows, n_boot=100, seed=7)
    other = bootstrap(fleiss_kappa, rows, n_boot=100, seed=8)
    assert one == two and one != other
    value, lo, hi = one
    assert lo < value < hi and hi - lo < 0.3


def _comparisons(triples, task_type: str = "default") -> list[Comparison]:
    return [Comparison(prompt=f"p{i}", response_a=f"a{i}", response_b=f"b{i}", shown_first="a",
                       choice=("a", "b", "tie")[label], rater=f"r{r}", task_type=task_type)
            for i, r, label in triples]


def test_pairwise_cohens_kappa_respects_min_shared_and_matches_statsmodels():
    rng = np.random.default_rng(4)
    triples = _noisy_labels(rng, 100, lambda i: 3)
    table = build_table(_comparisons(triples))
    pairs = pairwise_cohens_kappa(table, min_shared=5, n_boot=20)
    assert pairs
    labels: dict[tuple[str, int], int] = {(f"r{r}", i): lab for i, r, lab in triples}
    for p in pairs:
        shared = sorted(i for (r, i) in labels if r == p.rater_a and (p.rater_b, i) in labels)
        assert p.kappa.n_items == len(shared) >= 5
        x = np.array([labels[(p.rater_a, i)] for i in shared])
        y = np.array([labels[(p.rater_b, i)] for i in shared])
        assert p.kappa.value == pytest.approx(sm_cohens_kappa(contingency(x, y)).kappa, abs=1e-12)
    strict = pairwise_cohens_kappa(table, min_shared=1000, n_boot=0)
    assert strict == []


def test_measure_agreement_reports_every_metric_with_intervals():
    rng = np.random.default_rng(9)
    table = build_table(_comparisons(_noisy_labels(rng, 120, lambda i: 3)))
    agreement = measure_agreement(table, min_shared=10, n_boot=30, seed=1)
    for name in ("krippendorff_alpha_nominal", "krippendorff_alpha_ordinal", "fleiss_kappa", "gwet_ac1"):
        est = agreement.metrics[name]
        assert est.ci_low <= est.value <= est.ci_high
        assert est.n_items == 120
    assert agreement.primary.value == pytest.approx(krippendorff_alpha(table.counts()), abs=1e-12)


def test_shared_bootstrap_matches_the_direct_metrics():
    rng = np.random.default_rng(12)
    counts = _counts(_noisy_labels(rng, 150, lambda i: 1 + i % 4), 150)
    est = count_metrics(counts, n_boot=100, seed=3)
    direct = {"krippendorff_alpha_nominal": krippendorff_alpha(counts, "nominal"),
              "krippendorff_alpha_ordinal": krippendorff_alpha(counts, "ordinal"),
              "fleiss_kappa": fleiss_kappa(counts), "gwet_ac1": gwet_ac1(counts)}
    for name, value in direct.items():
        assert est[name].value == pytest.approx(value, abs=1e-12)
        assert est[name].ci_low < value < est[name].ci_high
        assert est[name].n_items == int((counts.sum(axis=1) >= 2).sum())
    # a resample is a weight vector: its metrics equal the metrics of the resampled rows
    multi = counts[counts.sum(axis=1) >= 2]
    idx = np.random.default_rng(0).integers(0, multi.shape[0], multi.shape[0])
    weighted = count_metrics(multi[idx], n_boot=0)
    assert weighted["fleiss_kappa"].value == pytest.approx(fleiss_kappa(multi[idx]), abs=1e-12)
    assert count_metrics(counts, n_boot=100, seed=3) == est  # seeded


def test_cohens_kappa_bootstrap_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, 300)
    y = np.where(rng.random(300) < 0.6, x, rng.integers(0, 3, 300))
    est = cohens_kappa_estimate(x, y, n_boot=200, seed=1)
    assert est.value == pytest.approx(sm_cohens_kappa(contingency(x, y)).kappa, abs=1e-12)
    assert est.ci_low < est.value < est.ci_high and est.n_items == 300
    assert cohens_kappa_estimate(x, y, n_boot=200, seed=1) == est
