"""Champion / challenger: promoted only when better beyond noise, no slice drop, calibrated, not worse on outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from tether.loop.challenge import ChallengeConfig, challenge
from tether.loop.promotion import PromotionError, promote, record_challenge, rollback, serving_stack
from tether.outcomes.scored import ScoredResponse
from tether.records import PreferencePair, RewardContract
from tether.store import Store


class KeywordModel:
    """Scores +margin for the word 'good', -margin for 'bad'; `wrong_on` task types it scores backwards."""

    objectives = ("overall",)

    def __init__(self, margin: float = 4.0, wrong_on: tuple[str, ...] = (), noise: float = 0.0, seed: int = 0):
        self.margin, self.wrong_on = margin, wrong_on
        self.rng = np.random.default_rng(seed)
        self.noise = noise

    def contract(self, objective: str) -> RewardContract:
        return RewardContract(name="kw", objective=objective)

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        out = []
        for p, r in zip(prompts, responses, strict=True):
            sign = -1.0 if any(f"[{t}]" in p for t in self.wrong_on) else 1.0
            base = self.margin if "good" in r else -self.margin
            out.append(sign * base + self.noise * self.rng.standard_normal())
        return {"overall": np.array(out)}


def pairs(n: int = 240) -> list[PreferencePair]:
    types = ("math", "code", "chat")
    return [PreferencePair(prompt=f"[{types[i % 3]}] question {i}", chosen=f"a good answer {i}",
                           rejected=f"a bad answer {i}", objective="overall", provenance={"task_type": types[i % 3]})
            for i in range(n)]


CFG = ChallengeConfig(n_boot=300, max_ece=0.1)


def test_a_clearly_better_challenger_passes_with_an_interval_above_zero() -> None:
    champion = KeywordModel(wrong_on=("math",))  # wrong on a third of the pairs
    result = challenge(champion, KeywordModel(), pairs(), CFG)
    assert result.passed, result.summary()
    assert result.difference["accuracy"] == pytest.approx(1 / 3)
    assert result.difference["accuracy_lo"] > 0
    assert result.champion["accuracy"] == pytest.approx(2 / 3) and result.challenger["accuracy"] == 1.0


def test_a_challenger_that_drops_one_slice_is_refused_and_the_refusal_names_the_slice() -> None:
    champion = KeywordModel(wrong_on=("math", "code"))
    challenger = KeywordModel(wrong_on=("chat",))  # better overall (2/3 vs 1/3), but chat falls from 1.0 to 0.0
    result = challenge(champion, challenger, pairs(), ChallengeConfig(n_boot=300, max_ece=1.0))  # (confidently wrong)
    assert result.difference["accuracy_lo"] > 0
    assert not result.passed
    assert [c.name for c in result.failed] == ["slice task_type=chat accuracy drop"]
    assert "task_type=chat" in result.summary()


def test_no_better_than_noise_is_refused() -> None:
    result = challenge(KeywordModel(), KeywordModel(margin=5.0), pairs(), CFG)
    assert result.difference["accuracy"] == 0
    assert [c.name for c in result.failed] == ["accuracy gain over the champion (95% interval low end)"]


def test_a_miscalibrated_challenger_is_refused() -> None:
    champion = KeywordModel(wrong_on=("math",))
    result = challenge(champion, KeywordModel(margin=0.2), pairs(), CFG)  # right, but p_chosen = 0.55
    assert [c.name for c in result.failed] == ["challenger ece"]
    assert result.challenger["ece"] == pytest.approx(1 - 1 / (1 + np.exp(-0.4)), abs=1e-9)


def _outcomes(n: int = 60) -> list[ScoredResponse]:
    rows = []
    for i in range(n):  # on [code] prompts the response saying 'good' fails: preference and outcome disagree
        for text, ok in ((f"good {i}", i % 2 == 0), (f"bad {i}", i % 2 == 1)):
            rows.append(ScoredResponse(line=len(rows) + 1, prompt=f"[{'code' if i % 2 else 'math'}] {i}",
                                       response=text, score=None, value=float(ok), group=str(i), keys=()))
    return rows


def test_a_challenger_that_agrees_worse_with_outcomes_is_refused() -> None:
    champion = KeywordModel(wrong_on=("code",))  # follows the outcomes everywhere (AUC 1)
    challenger = KeywordModel()  # better on the preference pairs, but prefers what fails on [code]
    result = challenge(champion, challenger, pairs(), CFG, outcome_rows=_outcomes())
    assert result.champion["outcome_auc"] == 1.0 and result.challenger["outcome_auc"] == 0.5
    assert result.difference["outcome_auc_hi"] < 0
    assert "outcome AUC change (95% interval high end)" in [c.name for c in result.failed]


def test_first_promotion_has_only_the_challengers_own_checks() -> None:
    result = challenge(None, KeywordModel(), pairs(), CFG, outcome_rows=_outcomes())
    assert result.passed and result.champion is None
    assert [c.name for c in result.checks] == ["challenger ece"]
    assert result.challenger["outcome_auc"] == 0.5


def test_promotions_refusals_and_rollbacks_are_recorded_and_replayed(store_url: str, tmp_path) -> None:  # noqa: ANN001
    store = Store(store_url)
    a, b, c = (tmp_path / x for x in "abc")
    for folder in (a, b, c):
        folder.mkdir()
    with pytest.raises(PromotionError, match="nothing to roll back"):
        rollback(store, "reward")
    promote(store, "reward", a, reason="first model")
    good = challenge(KeywordModel(wrong_on=("math",)), KeywordModel(), pairs(), CFG)
    bad = challenge(KeywordModel(), KeywordModel(), pairs(), CFG)
    assert record_challenge(store, "reward", b, good).action == "promote"
    refused = record_challenge(store, "reward", c, bad)
    assert refused.action == "refuse" and not refused.checks[0]["passed"]
    assert store.champion("reward").path == str(b.resolve())
    back = rollback(store, "reward", reason="regression seen in production")
    assert back.path == str(a.resolve()) and store.champion("reward").action == "rollback"
    assert serving_stack(store.promotions("reward")) == [str(a.resolve())]
    assert [p.action for p in store.promotions("reward")] == ["promote", "promote", "refuse", "rollback"]
    assert store.champion("policy") is None
    with pytest.raises(PromotionError, match="needs a reason"):
        promote(store, "reward", c, reason=" ")
    store.close()
