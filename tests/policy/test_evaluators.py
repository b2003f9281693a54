"""The evaluator protocol: reward models through their contracts, ensembles, missing objectives, sim gold."""

from __future__ import annotations

import numpy as np
import pytest

from tether.policy.evaluators import (
    CombinedEvaluator,
    EnsembleEvaluator,
    Evaluator,
    FunctionEvaluator,
    MissingObjective,
    RewardModelEvaluator,
    named_evaluator,
    parse_weights,
    register_evaluator,
    require_objectives,
    weighted_reward,
)
from tether.records import Direction, RewardContract


class FakeRewardModel:
    """The face of `tether.reward.RewardModel` an evaluator uses: objectives, contract(o), score()."""

    def __init__(self, raw: dict[str, list[float]], contracts: list[RewardContract]) -> None:
        self.raw, self.contracts = raw, contracts
        self.objectives = [c.objective for c in contracts]

    def contract(self, objective: str) -> RewardContract:
        return next(c for c in self.contracts if c.objective == objective)

    def score(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        return {o: np.array(v[: len(prompts)]) for o, v in self.raw.items()}


def _model(raw_quality: list[float], raw_harm: list[float], mean: float = 1.0, std: float = 2.0) -> FakeRewardModel:
    return FakeRewardModel({"quality": raw_quality, "harm": raw_harm}, [
        RewardContract(name="rm/quality", objective="quality", normalization={"mean": mean, "std": std}),
        RewardContract(name="rm/harm", objective="harm", direction=Direction.LOWER_IS_BETTER,
                       normalization={"mean": 0.0, "std": 0.5})])


def test_reward_model_adapter_applies_normalization_and_direction() -> None:
    ev = RewardModelEvaluator(_model([3.0, -1.0], [1.0, -0.5]))
    assert isinstance(ev, Evaluator) and ev.objectives == ["quality", "harm"]
    out = ev(["p", "q"], ["a", "b"])
    np.testing.assert_allclose(out["quality"], [(3 - 1) / 2, (-1 - 1) / 2])  # z-scored by the contract
    np.testing.assert_allclose(out["harm"], [-2.0, 1.0])  # lower is better: flipped, so higher is better
    raw = RewardModelEvaluator(_model([3.0, -1.0], [1.0, -0.5]), normalize=False)(["p", "q"], ["a", "b"])
    np.testing.assert_allclose(raw["quality"], [3.0, -1.0])
    np.testing.assert_allclose(raw["harm"], [-1.0, 0.5])  # the sign is part of the contract, always applied
    with pytest.raises(ValueError, match="2 prompts but 1 responses"):
        ev(["p", "q"], ["a"])


class FakeEnsemble:
    def __init__(self, members: list[FakeRewardModel]) -> None:
        self.members, self.aggregation, self.lam = members, "mean", 1.0
        self.objectives = members[0].objectives


def test_ensemble_aggregations_on_members_through_their_contracts() -> None:
    # three members whose raw scores differ in level (each has its own training mean): the contracts line them up
    members = [_model([1.0, 3.0], [0.0, 0.0], mean=0.0, std=1.0), _model([2.0, 6.0], [0.0, 0.0], mean=1.0, std=1.0),
               _model([0.0, 2.0], [0.0, 0.0], mean=0.0, std=2.0)]
    z = np.array([[1.0, 3.0], [1.0, 5.0], [0.0, 1.0]])  # each member's normalized quality
    ens = FakeEnsemble(members)
    prompts, responses = ["p", "q"], ["a", "b"]
    np.testing.assert_allclose(EnsembleEvaluator(ens)(prompts, responses)["quality"], z.mean(0))
    np.testing.assert_allclose(EnsembleEvaluator(ens, "min")(prompts, responses)["quality"], z.min(0))
    np.testing.assert_allclose(EnsembleEvaluator(ens, "mean_std", lam=0.5)(prompts, responses)["quality"],
                               z.mean(0) - 0.5 * z.std(0))
    np.testing.assert_allclose(EnsembleEvaluator(ens, "mean_var", lam=2.0)(prompts, responses)["quality"],
                               z.mean(0) - 2.0 * z.var(0))
    assert EnsembleEvaluator(ens).member_scores(prompts, responses)["quality"].shape == (3, 2)
    with pytest.raises(ValueError, match="aggregation must be one of mean, min, mean_std, mean_var"):
        EnsembleEvaluator(ens, "median")  # type: ignore[arg-type]


def test_missing_objective_is_named_with_what_the_evaluator_has() -> None:
    ev = RewardModelEvaluator(_model([0.0], [0.0]), name="models/rm")
    require_objectives(ev, ["quality"])
    with pytest.raises(MissingObjective, match="models/rm: no objective 'safety'; it scores quality, harm"):
        require_objectives(ev, ["quality", "safety"])
    with pytest.raises(MissingObjective, match="no scores for objective 'safety'"):
        weighted_reward({"quality": np.zeros(2)}, {"safety": 1.0})


def test_weights_combined_and_function_evaluators() -> None:
    assert parse_weights(["quality=2", "safety"]) == {"quality": 2.0, "safety": 1.0}
    with pytest.raises(ValueError, match="expected NAME or NAME=WEIGHT"):
        parse_weights(["quality=much"])
    np.testing.assert_allclose(weighted_reward({"a": np.array([1.0, 2.0]), "b": np.array([10.0, 0.0])},
                                               {"a": 2.0, "b": 0.5}), [7.0, 4.0])
    length = FunctionEvaluator(lambda ps, rs: {"length": [len(r) for r in rs]}, ["length"], name="length")
    scorers = FunctionEvaluator.from_scorers({"shout": lambda ps, rs: [r.count("!") for r in rs]})
    both = CombinedEvaluator([length, scorers])
    assert both.objectives == ["length", "shout"]
    out = both(["p", "q"], ["hi!", "hello"])
    np.testing.assert_allclose(out["length"], [3, 5])
    np.testing.assert_allclose(out["shout"], [1, 0])
    with pytest.raises(ValueError, match="objective 'length' is scored by both"):
        CombinedEvaluator([length, length])


def test_sim_gold_is_an_evaluator_registered_by_name() -> None:
    from tether.sim import World
    from tether.sim.evaluators import GoldEvaluator, gold_evaluator

    world = World(0)
    prompts = [p.text for p in world.prompts(3, stream="test-evaluators")]
    refs = [world.reference(p) for p in prompts]
    gold = GoldEvaluator(world)
    assert isinstance(gold, Evaluator)
    out = gold(prompts, refs)
    assert set(out) == {"quality", "safety", "honesty", "overall"}
    np.testing.assert_allclose(out["overall"], [world.gold_reward(p, r)["overall"] for p, r in zip(prompts, refs,
                                                                                                   strict=True)])
    register_evaluator("gold-test", gold_evaluator)
    assert named_evaluator("gold-test", 0).objectives == gold.objectives
    with pytest.raises(ValueError, match="no evaluator 'nope' is registered"):
        named_evaluator("nope")
