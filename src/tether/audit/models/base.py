"""The one contract of the audit's models, after scikit-learn's estimators and crowd-kit's aggregators.

Hyper-parameters are stored by `__init__` and nothing else; `fit` checks them and the data, learns,
and returns self; everything learned is an attribute ending in `_`, absent before `fit`. Besides
integer codes, the models take crowd-kit's DataFrames, so switching from crowd-kit is one import:
label models a frame with `task`, `worker`, `label` columns (`fit_predict(df)`, `fit_predict_proba(df)`),
Bradley–Terry one with `worker`, `left`, `right`, `label`. pandas is imported only when a frame is passed.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Self

import numpy as np

from ._inputs import LabelData, as_codes, resolve_count, single_thread_blas


class NotFittedError(ValueError, AttributeError):
    """A model used before `fit` (scikit-learn's exception of the same name)."""


class Estimator:
    """Hyper-parameters in `__init__`, `fit` returns self, learned state in attributes ending in `_`."""

    def _check_params(self) -> None:
        """Raise ValueError naming a bad hyper-parameter (checked by `fit`, as scikit-learn does)."""

    def _check_fitted(self) -> None:
        if not any(name.endswith("_") for name in vars(self)):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit first")


class LabelModel(Estimator, ABC):
    """A model of noisy class labels (Dawid–Skene, one-coin, MACE): subclasses implement `_fit(data)`.

    Learned here: `n_items_`, `n_raters_`, `n_classes_` and the values the codes stand for, `tasks_`,
    `workers_`, `classes_` (sorted, as crowd-kit's outputs; `arange` when fitted on codes).
    """

    def fit(
        self,
        items: Any,
        raters: Any = None,
        labels: Any = None,
        *,
        n_items: int | None = None,
        n_raters: int | None = None,
        n_classes: int | None = None,
        gold: Mapping[Any, Any] | None = None,
        sample_weight: Any = None,
    ) -> Self:
        """Fit on integer codes (items, raters, labels; gold: item -> class), or on crowd-kit's DataFrame
        (task, worker, label columns; gold: task -> label, which may come second, as crowd-kit's `true_labels`)."""
        self._check_params()
        names = None
        if is_frame(items):
            if labels is not None or any(n is not None for n in (n_items, n_raters, n_classes)):
                raise ValueError("labels, n_items, n_raters, n_classes: give them only with integer codes "
                                 "(a DataFrame's task, worker and label columns define them)")
            if raters is not None and gold is not None:
                raise ValueError("gold: given twice (second argument and gold=)")
            items, raters, labels, gold, names = _label_codes(items, raters if gold is None else gold)
        data = LabelData.build(
            items, raters, labels, n_items=n_items, n_raters=n_raters, n_classes=n_classes,
            gold=gold, sample_weight=sample_weight,
        )
        with single_thread_blas():
            self._fit(data)
        self.n_items_, self.n_raters_, self.n_classes_ = data.n_items, data.n_raters, data.n_classes
        counts = (data.n_items, data.n_raters, data.n_classes)
        self.tasks_, self.workers_, self.classes_ = names or tuple(np.arange(n) for n in counts)
        return self

    @abstractmethod
    def _fit(self, data: LabelData) -> None:
        """Learn the model's state from integer-coded labels (each model its own)."""

    def predict_proba(self, data: Any) -> Any:
        """Posteriors of the tasks in `data`, which the model was fitted on (these models are transductive).

        A DataFrame with a `task` column gives crowd-kit's `probas_`: a DataFrame, one row per task (sorted),
        one column per class; an array of item codes gives those rows of `posteriors_`.
        """
        self._check_fitted()
        if not is_frame(data):
            rows = as_codes("items", data)
            resolve_count("n_items", self.n_items_, rows, "items")
            return self.posteriors_[rows]
        import pandas as pd

        check_frame(data, ("task",))
        rows = np.sort(lookup("data: task", self.tasks_, pd.unique(data["task"])))
        return pd.DataFrame(self.posteriors_[rows], index=pd.Index(self.tasks_[rows], name="task"),
                             columns=pd.Index(self.classes_, name="label"))

    def predict(self, data: Any) -> Any:
        """The likeliest class of each task in `data`: crowd-kit's `labels_` (a Series by task) for a
        DataFrame, the class codes for an array of item codes."""
        proba = self.predict_proba(data)
        return proba.idxmax(axis="columns").rename("agg_label") if is_frame(proba) else proba.argmax(axis=1)

    def fit_predict(self, data: Any, true_labels: Mapping[Any, Any] | None = None) -> Any:
        """crowd-kit's `fit_predict`: fit on a DataFrame, return each task's label."""
        return self.fit(data, gold=true_labels).predict(data)

    def fit_predict_proba(self, data: Any, true_labels: Mapping[Any, Any] | None = None) -> Any:
        """crowd-kit's `fit_predict_proba`: fit on a DataFrame, return each task's class probabilities."""
        return self.fit(data, gold=true_labels).predict_proba(data)


def is_frame(obj: object) -> bool:
    """True for a pandas DataFrame; never imports pandas (no DataFrame exists unless it was imported)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(obj, pandas.DataFrame)


def check_frame(data: Any, columns: tuple[str, ...]) -> None:
    """Raise ValueError unless `data` has `columns`, at least one row and no missing value in them."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"data: missing column(s) {missing}: expected {list(columns)} (crowd-kit's shape), "
                         f"got {list(data.columns)}")
    if len(data) == 0:
        raise ValueError("data: no rows")
    for c in columns:
        bad = data[c].isna().to_numpy()
        if bad.any():
            raise ValueError(f"data: column {c!r} is missing a value in row {data.index[int(np.argmax(bad))]!r}")


def lookup(what: str, known: np.ndarray, values: Any, where: str = "in the data the model was fitted on") -> np.ndarray:
    """Codes of `values` among the `known` values; ValueError naming the first unknown one."""
    import pandas as pd

    codes = pd.Index(known).get_indexer(values)
    if (codes < 0).any():
        raise ValueError(f"{what} {list(values)[int(np.argmax(codes < 0))]!r} is not {where}")
    return codes


def factorize(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """(int64 codes, sorted distinct values) of a column, so results do not depend on row order."""
    import pandas as pd

    codes, values = pd.factorize(column, sort=True)
    return codes.astype(np.int64), np.asarray(values)


def _label_codes(data: Any, gold: Mapping[Any, Any] | None) -> tuple[Any, ...]:
    """A crowd-kit (task, worker, label) frame and gold task -> label as codes, plus the decoding values."""
    check_frame(data, ("task", "worker", "label"))
    (items, tasks), (raters, workers), (labels, classes) = (factorize(data[c]) for c in ("task", "worker", "label"))
    if gold is not None and len(gold):
        gold = dict(gold)
        gold = dict(zip(lookup("gold: task", tasks, list(gold), "in data (it has no labels)").tolist(),
                        lookup("gold: label", classes, list(gold.values()), f"one of data's labels {classes.tolist()}"
                               ).tolist(), strict=True))
    return items, raters, labels, gold, (tasks, workers, classes)
