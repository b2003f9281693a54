"""Evaluators: one small protocol for everything that scores responses.

    evaluator.objectives                      # what it scores, known before any work
    evaluator(prompts, responses)             # {objective: np.ndarray of scores}, higher is better

Reward models (through their contracts), reward ensembles, the simulated world's gold (`tether.sim.evaluators`),
outcome checkers and LLM judges all implement it; a trainer and `tether policy eval` take any of them, and the
guards take one as their held-out evaluator. A plain function becomes one with `FunctionEvaluator`.

- `RewardModelEvaluator`: each head through its `RewardContract`: z-scored with the contract's normalization
  (the training scores' mean and std) and signed by its direction, so that higher is better on every objective.
- `EnsembleEvaluator`: every member through its own contracts, then aggregated per objective: `mean`,
  `min` (worst case), `mean_std` (mean - lam * std across members, uncertainty-penalized) or `mean_var`.
- Named evaluators (`register_evaluator` / `named_evaluator`): a stage above this one (`tether.sim`) registers
  its own ("gold") when the CLI loads, so nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tether.reward.ensemble import AGGREGATIONS as AGGREGATIONS  # re-exported
from tether.reward.ensemble import Aggregation, aggregate
from tether.reward.scoring import apply_contract  # defined with the contracts; importable from here as before


@runtime_checkable
class Evaluator(Protocol):
    """Scores responses to prompts, per objective; higher is better on every objective it returns."""

    objectives: Sequence[str]

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]: ...


class MissingObjective(KeyError):
    """An evaluator was asked for an objective it does not score."""

    def __str__(self) -> str:
        return str(self.args[0])


def require_objectives(evaluator: Evaluator, wanted: Iterable[str], name: str | None = None) -> None:
    """Raise `MissingObjective` naming the evaluator, what is missing and what it has, before any work."""
    missing = [o for o in wanted if o not in evaluator.objectives]
    if missing:
        who = name or getattr(evaluator, "name", None) or type(evaluator).__name__
        raise MissingObjective(f"{who}: no objective {', '.join(map(repr, missing))}; it scores "
                               f"{', '.join(evaluator.objectives) or 'nothing'}")


class FunctionEvaluator:
    """Any function `(prompts, responses) -> {objective: scores}`, with the objectives it returns."""

    def __init__(self, fn: Callable[[Sequence[str], Sequence[str]], dict[str, Any]], objectives: Sequence[str],
                 name: str = "function") -> None:
        self.fn, self.objectives, self.name = fn, list(objectives), name

    @classmethod
    def from_scorers(cls, scorers: dict[str, Callable[[list[str], list[str]], Sequence[float]]],
                     name: str = "scorers") -> FunctionEvaluator:
        """From one scorer per objective (`tether.shift.redteam`'s `Scorer` sets)."""
        def fn(prompts: Sequence[str], responses: Sequence[str]) -> dict[str, Any]:
            return {o: s(list(prompts), list(responses)) for o, s in scorers.items()}

        return cls(fn, list(scorers), name)

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        _check_lengths(prompts, responses)
        out = self.fn(prompts, responses)
        return {o: np.asarray(out[o], dtype=np.float64) for o in self.objectives}


class RewardModelEvaluator:
    """A `tether.reward.RewardModel` through its contracts (normalization, direction), one forward for all heads."""

    def __init__(self, model: Any, *, normalize: bool = True, name: str | None = None) -> None:
        self.model, self.normalize = model, normalize
        self.objectives = list(model.objectives)
        self.name = name or str(getattr(model, "path", None) or "reward model")

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        _check_lengths(prompts, responses)
        raw = self.model.score(list(prompts), list(responses))
        return {o: apply_contract(raw[o], self.model.contract(o), self.normalize) for o in self.objectives}


class EnsembleEvaluator:
    """A `tether.reward.RewardEnsemble`: each member through its own contracts, then aggregated per objective."""

    def __init__(self, ensemble: Any, aggregation: Aggregation | None = None, lam: float | None = None, *,
                 normalize: bool = True, name: str | None = None) -> None:
        self.members = [RewardModelEvaluator(m, normalize=normalize) for m in ensemble.members]
        self.aggregation = aggregation or ensemble.aggregation
        self.lam = ensemble.lam if lam is None else lam
        aggregate(np.zeros((2, 1)), self.aggregation, self.lam)  # a bad choice fails here, not mid-run
        self.objectives = list(ensemble.objectives)
        self.name = name or "reward ensemble"

    def member_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        """{objective: ``[k, n]``} member scores, each member through its contracts."""
        per = [m(prompts, responses) for m in self.members]
        return {o: np.stack([s[o] for s in per]) for o in self.objectives}

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        _check_lengths(prompts, responses)
        return {o: aggregate(v, self.aggregation, self.lam) for o, v in self.member_scores(prompts, responses).items()}


class CombinedEvaluator:
    """Several evaluators as one; an objective scored by two of them is an error (name them apart)."""

    def __init__(self, evaluators: Sequence[Evaluator]) -> None:
        seen: dict[str, str] = {}
        for e in evaluators:
            for o in e.objectives:
                if o in seen:
                    raise ValueError(f"objective {o!r} is scored by both {seen[o]} and "
                                     f"{getattr(e, 'name', type(e).__name__)}; give one of them another objective")
                seen[o] = getattr(e, "name", type(e).__name__)
        self.evaluators, self.objectives = list(evaluators), list(seen)
        self.name = " + ".join(dict.fromkeys(seen.values()))

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for e in self.evaluators:
            out.update(e(prompts, responses))
        return out


def load_evaluator(path: str | Path, *, aggregation: Aggregation | None = None, lam: float | None = None,
                   normalize: bool = True) -> RewardModelEvaluator | EnsembleEvaluator:
    """A saved reward model or ensemble folder as an evaluator (through its contracts)."""
    from tether.reward import load

    model = load(path)
    if hasattr(model, "members"):
        return EnsembleEvaluator(model, aggregation, lam, normalize=normalize, name=str(path))
    return RewardModelEvaluator(model, normalize=normalize, name=str(path))


def weighted_reward(scores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """One reward per response: the weighted sum of the objectives in `weights`."""
    missing = [o for o in weights if o not in scores]
    if missing:
        raise MissingObjective(f"no scores for objective {', '.join(map(repr, missing))}; have {sorted(scores)}")
    return sum(w * np.asarray(scores[o], dtype=np.float64) for o, w in weights.items())  # type: ignore[return-value]


def parse_weights(items: Sequence[str]) -> dict[str, float]:
    """``["quality=1", "safety=0.5", "honesty"]`` -> {objective: weight} (a bare name weighs 1)."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value) if sep else 1.0
        except ValueError:
            raise ValueError(f"objective {item!r}: expected NAME or NAME=WEIGHT, e.g. quality=1") from None
        if not name.strip():
            raise ValueError(f"objective {item!r}: empty name")
    return out


# Named evaluators (name -> factory(seed)) for the CLI: `tether.sim` registers its gold ("gold") when the root CLI
# loads `tether.sim.cli`, so that tether.policy never imports the simulated world (it sits above).
EVALUATORS: dict[str, Callable[[int], Evaluator]] = {}


def register_evaluator(name: str, factory: Callable[[int], Evaluator]) -> None:
    """Make a named evaluator (a factory of seed -> Evaluator) available to `named_evaluator`."""
    EVALUATORS[name] = factory


def named_evaluator(name: str, seed: int = 0) -> Evaluator:
    """The registered evaluator `name`, built with `seed`; a clear error naming the known ones."""
    if name not in EVALUATORS:
        raise ValueError(f"no evaluator {name!r} is registered (known: {', '.join(sorted(EVALUATORS)) or 'none'}); "
                         "`tether.sim` registers 'gold' when the tether CLI loads")
    return EVALUATORS[name](seed)


def _check_lengths(prompts: Sequence[str], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
