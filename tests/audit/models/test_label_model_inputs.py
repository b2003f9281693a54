"""Bad input to the label models fails with a ValueError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from tether.audit.models import MACE, DawidSkene, OneCoinDawidSkene

GOOD = {"items": [0, 0, 1, 1], "raters": [0, 1, 0, 1], "labels": [0, 1, 1, 1]}


MODELS = [DawidSkene(), OneCoinDawidSkene(), MACE(n_restarts=1)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"raters": [0, 1, 0]}, "raters: length 3 does not match items"),
        ({"labels": [0, 1]}, "labels: length 2 does not match items"),
        ({"items": [0, -1, 1, 1]}, "items: codes must be >= 0, got -1 at index 1"),
        ({"labels": [0, 1, 1, -2]}, "labels: codes must be >= 0"),
        ({"labels": [0.0, 1.0, 1.0, 1.0]}, "labels: expected integer codes"),
        ({"labels": [[0, 1], [1, 1]]}, "labels: expected a 1-D array"),
        ({"labels": [0, 1, 2, 1], "n_classes": 2}, "labels: value 2 at index 2 is >= n_classes=2"),
        ({"raters": [0, 1, 0, 3], "n_raters": 2}, "raters: value 3 at index 3 is >= n_raters=2"),
        ({"items": [0, 0, 1, 5], "n_items": 2}, "items: value 5 at index 3 is >= n_items=2"),
        ({"gold": {0: 4}}, "gold: label 4 of item 0 is >= n_classes=2"),
        ({"gold": {-1: 0}}, "gold \\(items\\): codes must be >= 0"),
        ({"gold": {7: 0}, "n_items": 2}, "gold: item 7 is >= n_items=2"),
        ({"sample_weight": [1.0, 1.0]}, "sample_weight: expected shape \\(4,\\)"),
        ({"sample_weight": [1.0, np.nan, 1.0, 1.0]}, "sample_weight: weights must be finite and >= 0"),
        ({"sample_weight": [0.0, 0.0, 0.0, 0.0]}, "labels: no label with positive weight"),
        ({"labels": [0, 0, 0, 0]}, "n_classes: need at least 2 classes, got 1"),
    ],
)
def test_bad_input_raises_naming_the_argument(model, change: dict[str, object], match: str) -> None:
    args = {**GOOD, **change}
    items, raters, labels = args.pop("items"), args.pop("raters"), args.pop("labels")
    with pytest.raises(ValueError, match=match):
        model.fit(items, raters, labels, **args)


def test_good_input_fits_with_an_unused_class() -> None:
    model = DawidSkene().fit(GOOD["items"], GOOD["raters"], GOOD["labels"], n_classes=3)
    assert model.posteriors_.shape == (2, 3)
    assert model.posteriors_[:, 2].max() < 1e-6  # nobody used class 2


def test_bad_hyper_parameters() -> None:
    with pytest.raises(ValueError, match="init"):
        DawidSkene(init="random").fit(GOOD["items"], GOOD["raters"], GOOD["labels"])
    with pytest.raises(ValueError, match="n_iter"):
        DawidSkene(n_iter=-1).fit(GOOD["items"], GOOD["raters"], GOOD["labels"])
