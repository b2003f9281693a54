"""Agreement on data with missing ratings against published references (tests/data/irrcac/, see SOURCE.md).

Fleiss' kappa and AC1 follow Gwet's generalization as irrCAC implements it; Krippendorff's alpha
(nominal, ordinal, interval, ratio) his 2011 worked example and NLTK's interval distance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import interval_distance

from tether.audit.agreement import (
    cohens_kappa,
    cohens_kappa_estimate,
    cohens_kappa_table,
    contingency,
    count_metrics,
    fleiss_kappa,
    gwet_ac1,
    krippendorff_alpha,
    ratings_to_counts,
)

DATA = Path(__file__).parents[1] / "data" / "irrcac"
DESCRIPTIVE = ("units", "group")

# (dataset, statistic) -> reference value, compared at 1e-6 (7 decimals) or at the 3 decimals published
REFERENCES = {
    ("raw_5observers", "fleiss"): 0.4576217,
    ("raw_g1g2", "fleiss"): 0.6572453,
    ("raw_g1g2", "ac1"): 0.6846038,
    ("raw_ben_gerry", "ac1"): 0.6614420,
    ("raw_4raters", "fleiss"): 0.7611693,
    ("raw_4raters", "ac1"): 0.7754441,
}
PUBLISHED_3 = {  # irrCAC's own unit tests (digits=3)
    ("raw_5observers", "ac1"): 0.497,
    ("raw_ben_gerry", "fleiss"): 0.649,
}
STATISTICS = {"fleiss": fleiss_kappa, "ac1": gwet_ac1}


def ratings(name: str) -> np.ndarray:
    frame = pd.read_csv(DATA / f"{name}.csv", dtype=str, keep_default_na=False)
    values = frame.drop(columns=[c for c in DESCRIPTIVE if c in frame.columns]).to_numpy(dtype=object)
    return np.where(values == "", None, values)


@pytest.mark.parametrize(("dataset", "statistic"), sorted(REFERENCES))
def test_fleiss_and_ac1_equal_irrcac_with_missing_ratings(dataset: str, statistic: str) -> None:
    counts, _ = ratings_to_counts(ratings(dataset))
    assert STATISTICS[statistic](counts) == pytest.approx(REFERENCES[dataset, statistic], abs=1e-6)


@pytest.mark.parametrize(("dataset", "statistic"), sorted(PUBLISHED_3))
def test_published_three_decimal_values(dataset: str, statistic: str) -> None:
    counts, _ = ratings_to_counts(ratings(dataset))
    assert round(STATISTICS[statistic](counts), 3) == PUBLISHED_3[dataset, statistic]


def test_single_rated_items_count_in_the_category_shares_only() -> None:
    """raw_4raters' unit 12 has one rating (a 3): it moves the shares, not the observed agreement."""
    counts, _ = ratings_to_counts(ratings("raw_4raters"))
    assert counts.sum(axis=1)[11] == 1
    without = counts[:11]
    assert fleiss_kappa(without) != pytest.approx(fleiss_kappa(counts), abs=1e-4)
    # the shared bootstrap computes the same numbers, and counts only items with two ratings
    est = count_metrics(counts, n_boot=50, seed=0)
    assert est["fleiss_kappa"].value == pytest.approx(REFERENCES["raw_4raters", "fleiss"], abs=1e-6)
    assert est["gwet_ac1"].value == pytest.approx(REFERENCES["raw_4raters", "ac1"], abs=1e-6)
    assert est["fleiss_kappa"].n_items == 11
    assert est["krippendorff_alpha_nominal"].value == pytest.approx(krippendorff_alpha(counts), abs=1e-12)


def test_krippendorff_alpha_on_his_worked_example_at_every_level() -> None:
    """Krippendorff (2011): nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797."""
    counts, cats = ratings_to_counts(ratings("raw_4raters"), categories=["1", "2", "3", "4", "5"])
    values = [float(c) for c in cats]
    assert round(krippendorff_alpha(counts, "nominal"), 3) == 0.743
    assert round(krippendorff_alpha(counts, "ordinal", order=(0, 1, 2, 3, 4)), 3) == 0.815
    assert round(krippendorff_alpha(counts, "interval", values=values), 3) == 0.849
    assert round(krippendorff_alpha(counts, "ratio", values=values), 3) == 0.797
    # interval distances only depend on differences: the default scale 0..k-1 gives the same number
    assert krippendorff_alpha(counts, "interval") == pytest.approx(
        krippendorff_alpha(counts, "interval", values=values), abs=1e-12)


def _nltk_interval_alpha(table: np.ndarray) -> float:
    triples = [(f"r{r}", f"u{u}", float(table[u, r])) for u in range(table.shape[0]) for r in range(table.shape[1])
               if table[u, r] is not None]
    return AnnotationTask(triples, distance=interval_distance).alpha()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interval_alpha_equals_nltk_with_missing_ratings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 8, size=60)
    table = np.empty((60, 5), dtype=object)
    for u in range(60):
        for r in range(5):
            if rng.random() < 0.35:
                continue  # missing
            table[u, r] = int(np.clip(truth[u] + rng.integers(-2, 3), 1, 7))
    counts, cats = ratings_to_counts(table, categories=range(1, 8))
    ours = krippendorff_alpha(counts, "interval", values=[float(c) for c in cats])
    assert ours == pytest.approx(_nltk_interval_alpha(table), abs=1e-9)
    assert _nltk_interval_alpha(ratings("raw_4raters").astype(object)) == pytest.approx(
        krippendorff_alpha(ratings_to_counts(ratings("raw_4raters"))[0], "interval"), abs=1e-9)


# -- bad input: clear errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("statistic", [fleiss_kappa, gwet_ac1, krippendorff_alpha, count_metrics])
def test_one_category_column_is_a_clear_error(statistic) -> None:
    with pytest.raises(ValueError, match="at least two categories"):
        statistic(np.array([[2], [3], [1]]))


@pytest.mark.parametrize("statistic", [fleiss_kappa, gwet_ac1, krippendorff_alpha, count_metrics])
def test_one_dimensional_input_is_a_clear_error(statistic) -> None:
    with pytest.raises(ValueError, match=r"2-D \(items x categories\).*ratings_to_counts"):
        statistic(np.array([1, 2, 3, 3, 2]))


def test_negative_or_fractional_counts_are_errors() -> None:
    with pytest.raises(ValueError, match=r"entry \(1, 0\) is -1.0"):
        krippendorff_alpha(np.array([[1, 1], [-1, 2]]))
    with pytest.raises(ValueError, match="whole numbers"):
        fleiss_kappa(np.array([[1.5, 1], [1, 2]]))


def test_ratio_alpha_needs_the_values_and_scale_checks() -> None:
    counts = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 2]])
    with pytest.raises(ValueError, match="ratio distances depend on where zero is"):
        krippendorff_alpha(counts, "ratio")
    with pytest.raises(ValueError, match="expected 3 finite numbers"):
        krippendorff_alpha(counts, "interval", values=[1, 2])
    with pytest.raises(ValueError, match="metric must be one of"):
        krippendorff_alpha(counts, "cardinal")
    with pytest.raises(ValueError, match="value 'x'"):
        ratings_to_counts([["a", "x"]], categories=["a", "b"])


def test_cohens_kappa_rejects_labels_outside_n_classes() -> None:
    x, y = np.array([0, 1, 2, 1]), np.array([0, 1, 3, 1])
    with pytest.raises(ValueError, match=r"y: label 3 at index 2 is outside 0..2 \(n_classes=3\)"):
        cohens_kappa(x, y)
    with pytest.raises(ValueError, match="label -1 at index 0"):
        contingency(np.array([-1, 0]), np.array([0, 0]))
    with pytest.raises(ValueError, match="label 3"):
        cohens_kappa_estimate(x, y, n_boot=10)
    with pytest.raises(ValueError, match="differ in length"):
        cohens_kappa(np.array([0, 1]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="integer class codes"):
        cohens_kappa(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="at least two classes"):
        cohens_kappa(np.array([0, 0]), np.array([0, 0]), n_classes=1)
    with pytest.raises(ValueError, match="square contingency table"):
        cohens_kappa_table(np.array([[3.0]]))
    # in range, a wider n_classes is fine: the unused class only adds an empty row and column
    assert cohens_kappa(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), n_classes=4) == pytest.approx(
        cohens_kappa(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), n_classes=2), abs=1e-12)
