"""The campaign's running numbers: agreement (checked against NLTK), position bias (against statsmodels)."""

from __future__ import annotations

import random

import pytest
from collect_helpers import answer_all, setup_campaign
from nltk.metrics.agreement import AnnotationTask
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from tether.collect.campaign_checks import agreement_by_task_type, paused_task_types, position_bias
from tether.collect.status import campaign_status
from tether.records import Comparison
from tether.store import Store


def _comparisons(seed: int, n_items: int, raters: int, noise: float, task_type: str) -> list[Comparison]:
    rng = random.Random(seed)
    out = []
    for i in range(n_items):
        truth = rng.choice("ab")
        for r in range(raters):
            choice = truth if rng.random() > noise else rng.choice(["a", "b", "tie"])
            out.append(Comparison(prompt=f"{task_type} {i}", response_a="x", response_b="y", rater=f"r{r}",
                                  shown_first=rng.choice("ab"), choice=choice, task_type=task_type))
    return out


def test_agreement_per_task_type_matches_nltk_alpha():
    data = _comparisons(1, 30, 3, 0.2, "clear") + _comparisons(2, 30, 3, 0.9, "vague")
    ours = agreement_by_task_type(data)
    for task_type in ("clear", "vague"):
        triples = [(c.rater, c.pair_id, c.choice.value) for c in data if c.task_type == task_type]
        assert ours[task_type] == pytest.approx(AnnotationTask(triples).alpha(), abs=1e-9)
    assert ours["clear"] > 0.4 > ours["vague"]
    assert paused_task_types(ours) == {"vague"}


def test_pause_rule_boundaries():
    assert paused_task_types({"a": 0.4, "b": 0.3999, "c": None, "d": float("nan")}) == {"b", "d"}
    assert paused_task_types({"a": 0.5}, threshold=0.6) == {"a"}


def test_position_bias_matches_scipy_and_statsmodels():
    rng = random.Random(3)
    data = [Comparison(prompt=f"p{i}", response_a="x", response_b="y", rater="r", shown_first=rng.choice("ab"),
                       choice=rng.choice(["a", "a", "b", "tie"])) for i in range(200)]
    bias = position_bias(data)
    picks = [c.picked_first_shown for c in data if c.picked_first_shown is not None]
    k, n = sum(picks), len(picks)
    assert (bias.first, bias.n) == (k, n)
    assert bias.p_value == pytest.approx(binomtest(k, n, 0.5).pvalue)
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (bias.low, bias.high) == pytest.approx((low, high))
    assert position_bias([]) is None


def test_campaign_status_counts_and_bias(store: Store):
    raters = setup_campaign(store, raters=3, task_types={"qa": 6}, overlap=3, pilot_items=0)

    def always_first(task):  # noqa: ANN001, ANN202 - a rater with pure position bias
        return {"overall": "first"}

    for r in raters:
        answer_all(store, r, always_first)
    s = campaign_status(store, "c1")
    assert s["issued"] == s["answered"] == 18
    assert s["task_types"]["qa"]["items"] == {"regular": 6}
    bias = s["position_bias"]
    assert (bias["first"], bias["n"], bias["rate"]) == (18, 18, 1.0)
    assert bias["p_value"] == pytest.approx(binomtest(18, 18, 0.5).pvalue)
    assert set(s["position_bias_by_rater"]) == set(raters)
    # counterbalanced orders turn pure position bias into disagreement on the canonical labels
    assert s["task_types"]["qa"]["agreement_so_far"] < 0.4
    assert s["paused_task_types"] == []
