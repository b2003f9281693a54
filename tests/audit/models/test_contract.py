"""One contract, every estimator (in the manner of scikit-learn's `estimator_checks`).

Hyper-parameters only in `__init__`; `fit` returns self; learned state ends in `_` and is absent
before `fit`; bad input is refused with an error naming what is wrong; the same seed gives the same
result; crowd-kit's DataFrame and Tether's integer codes are two spellings of the same fit.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tether.audit.models import MACE, BradleyTerry, DawidSkene, OneCoinDawidSkene
from tether.audit.models.base import LabelModel, NotFittedError

# crowd-kit's pairwise frames have no ties: Bradley–Terry's warning that nu is not identified is expected here
pytestmark = pytest.mark.filterwarnings("ignore::tether.audit.models.IdentificationWarning")

ESTIMATORS = [DawidSkene(), OneCoinDawidSkene(), MACE(n_restarts=2, n_iter=10, random_state=3), BradleyTerry()]
ids = pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)


def label_frame(seed: int = 0) -> pd.DataFrame:
    """crowd-kit's (task, worker, label) shape: 40 tasks, 6 workers of mixed accuracy, string names."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, 40)
    rows = []
    for t in range(40):
        for w in rng.choice(6, 3, replace=False):
            right = rng.random() < 0.5 + 0.08 * w
            rows.append((f"t{t}", f"w{w}", ["cat", "dog", "fox"][truth[t] if right else rng.integers(0, 3)]))
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def pair_frame(seed: int = 0) -> pd.DataFrame:
    """crowd-kit's pairwise (worker, left, right, label) shape, plus the display order."""
    rng = np.random.default_rng(seed)
    strength = np.linspace(-1, 1, 8)
    left = rng.integers(0, 8, 300)
    right = (left + rng.integers(1, 8, 300)) % 8
    first = rng.integers(0, 2, 300)
    d = strength[left] - strength[right] + 0.4 * (1 - 2 * first)
    label = np.where(rng.random(300) < 1 / (1 + np.exp(-d)), left, right)
    name = np.array([f"r{i}" for i in range(8)])
    return pd.DataFrame({"worker": rng.choice(["u", "v", "w"], 300), "left": name[left], "right": name[right],
                         "label": name[label], "shown_first": first})


def frame(estimator) -> pd.DataFrame:
    return label_frame() if isinstance(estimator, LabelModel) else pair_frame()


def codes(estimator) -> tuple[np.ndarray, ...]:
    """The same data as `frame` in the integer-code spelling."""
    df = frame(estimator)
    if isinstance(estimator, LabelModel):
        return tuple(pd.factorize(df[c], sort=True)[0] for c in ("task", "worker", "label"))
    players = np.unique(np.r_[df["left"], df["right"]])
    a, b = np.searchsorted(players, df["left"]), np.searchsorted(players, df["right"])
    outcome = (df["label"] == df["right"]).to_numpy().astype(int)
    return a, b, df["shown_first"].to_numpy(), outcome, pd.factorize(df["worker"], sort=True)[0]


def fresh(estimator):
    return type(estimator)(**{p: getattr(estimator, p) for p in hyper_parameters(estimator)})


def hyper_parameters(estimator) -> list[str]:
    return list(inspect.signature(type(estimator)).parameters)


def learned(estimator) -> dict[str, object]:
    return {k: v for k, v in vars(estimator).items() if k not in hyper_parameters(estimator)}


def assert_close(actual: object, expected: object, name: str, tol: float) -> None:
    if np.asarray(expected).dtype.kind in "OUTb":  # names (tasks_, classes_, players_) and flags
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    else:
        np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=name)


@ids
def test_init_stores_its_hyper_parameters_and_nothing_else(estimator) -> None:
    est = fresh(estimator)
    assert set(vars(est)) == set(hyper_parameters(est))
    assert learned(est) == {}


@ids
@pytest.mark.parametrize("spelling", ["codes", "frame"])
def test_fit_returns_self_and_learns_only_underscore_attributes(estimator, spelling: str) -> None:
    est = fresh(estimator)
    params = {p: getattr(est, p) for p in hyper_parameters(est)}
    data = codes(est) if spelling == "codes" else (frame(est),)
    assert est.fit(*data) is est
    state = learned(est)
    assert state and all(k.endswith("_") for k in state), sorted(state)
    assert {p: getattr(est, p) for p in hyper_parameters(est)} == params  # fit leaves hyper-parameters alone


@ids
def test_using_an_unfitted_estimator_says_so(estimator) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet: call fit first"):
        fresh(estimator).predict_proba(frame(estimator))


@ids
def test_frame_and_codes_are_the_same_fit(estimator) -> None:
    by_frame, by_codes = fresh(estimator).fit(frame(estimator)), fresh(estimator).fit(*codes(estimator))
    for name, value in learned(by_codes).items():
        if name not in ("tasks_", "workers_", "classes_", "players_"):  # names in one, codes in the other
            assert_close(getattr(by_frame, name), value, name, 1e-12)


@ids
def test_same_seed_same_result_whatever_the_row_order(estimator) -> None:
    df = frame(estimator)
    first, second = fresh(estimator).fit(df), fresh(estimator).fit(df)
    shuffled = fresh(estimator).fit(df.sample(frac=1.0, random_state=1))
    for name, value in learned(first).items():
        np.testing.assert_array_equal(getattr(second, name), value, err_msg=name)
        if not name.endswith("history_"):  # summation order may move the last bits
            assert_close(getattr(shuffled, name), value, name, 1e-9)


def _nan_label(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(label=df["label"].where(df.index != 2))


def _foreign_label(df: pd.DataFrame) -> pd.DataFrame:
    if "left" in df:  # a pairwise label names the winner: it must be the left or the right player
        return df.assign(label=df["label"].where(df.index != 2, "nobody"))
    return df


BAD_FRAMES = {
    "empty": (lambda df: df.iloc[:0], "data: no rows"),
    "wrong columns": (lambda df: df.rename(columns={"worker": "annotator"}), r"data: missing column\(s\) \['worker'\]"),
    "NaN label": (_nan_label, "data: column 'label' is missing a value in row 2"),
}


@ids
@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_frames_are_refused(estimator, case: str) -> None:
    change, match = BAD_FRAMES[case]
    with pytest.raises(ValueError, match=match):
        fresh(estimator).fit(change(frame(estimator)))


@ids
def test_label_outside_the_classes_is_refused(estimator) -> None:
    est = fresh(estimator)
    if isinstance(est, LabelModel):
        items, raters, labels = codes(est)
        with pytest.raises(ValueError, match="labels: value 3 at index 0 is >= n_classes=3"):
            est.fit(items, raters, np.r_[3, labels[1:]], n_classes=3)
        with pytest.raises(ValueError, match=r"gold: label 'wolf' is not one of data's labels \['cat', 'dog', 'fox'\]"):
            est.fit(frame(est), {"t0": "wolf"})
    else:
        a, b, first, outcome, raters = codes(est)
        with pytest.raises(ValueError, match="outcome: value 3 at index 0 is not one of"):
            est.fit(a, b, first, np.r_[3, outcome[1:]], raters)
        with pytest.raises(ValueError, match="data: label 'nobody' in row 2 is neither its left nor its right"):
            est.fit(_foreign_label(frame(est)))


@ids
def test_empty_codes_are_refused(estimator) -> None:
    n = 3 if isinstance(estimator, LabelModel) else 4
    with pytest.raises(ValueError, match="labels: no labels to fit on|a: no comparisons to fit on"):
        fresh(estimator).fit(*([np.zeros(0, dtype=int)] * n))


@ids
def test_predicting_an_unknown_task_or_player_is_refused(estimator) -> None:
    df = frame(estimator)
    est = fresh(estimator).fit(df)
    column = "task" if isinstance(est, LabelModel) else "left"
    with pytest.raises(ValueError, match="is not in the data the model was fitted on"):
        est.predict_proba(df.assign(**{column: "never-seen"}))


def test_label_models_speak_crowdkit() -> None:
    df = label_frame()
    model = DawidSkene().fit(df)
    proba = model.predict_proba(df)
    assert list(proba.columns) == ["cat", "dog", "fox"] and proba.index.name == "task"
    assert proba.index.is_monotonic_increasing and len(proba) == df["task"].nunique()
    labels = DawidSkene().fit_predict(df)
    assert labels.name == "agg_label" and (labels == proba.idxmax(axis=1)).all()
    pd.testing.assert_series_equal(model.predict(df[df["task"] == "t3"]), labels.loc[["t3"]])
    np.testing.assert_array_equal(model.predict(np.arange(5)), model.labels_[:5])  # codes in, codes out


def test_pandas_is_imported_only_when_a_frame_is_passed() -> None:
    script = (
        "import sys\n"
        "import tether.audit, tether.audit.models as m\n"
        "for M in (m.DawidSkene, m.OneCoinDawidSkene, m.MACE): M().fit([0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 1])\n"
        "m.BradleyTerry().fit([0, 1, 2], [1, 2, 0], [0, 1, 0], [0, 1, 2]).predict_proba([0], [1])\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
