"""Scores through the reward contracts: what an RL trainer optimizes, the same number in every consumer.

Each head's raw output is z-scored with its contract's normalization (the training scores' mean and std, when
`normalize`) and signed by its direction, so that higher is better on every objective. An ensemble puts every
member through its own contracts, then aggregates per objective with its `aggregation` and `lam`.
`tether.policy`'s evaluators, `tether reward serve` and the verl reward function all use these.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tether.records import Direction, RewardContract


def apply_contract(raw: np.ndarray, contract: RewardContract, normalize: bool = True) -> np.ndarray:
    """Raw head outputs in the contract's terms: z-scored by its normalization (`normalize`), higher is better."""
    s = np.asarray(raw, dtype=np.float64)
    if normalize and contract.normalization:
        s = (s - contract.normalization.get("mean", 0.0)) / max(contract.normalization.get("std", 1.0), 1e-8)
    return -s if contract.direction == Direction.LOWER_IS_BETTER else s


def contract_scores(model: Any, prompts: Sequence[str], responses: Sequence[str], *, normalize: bool = True
                    ) -> dict[str, np.ndarray]:
    """{objective: scores} of a `RewardModel` or `RewardEnsemble` through its contracts (one forward per model)."""
    from tether.reward.ensemble import aggregate

    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if hasattr(model, "members"):
        per = [contract_scores(m, prompts, responses, normalize=normalize) for m in model.members]
        return {o: aggregate(np.stack([s[o] for s in per]), model.aggregation, model.lam) for o in model.objectives}
    raw = model.score(list(prompts), list(responses))
    return {o: apply_contract(raw[o], model.contract(o), normalize) for o in model.objectives}


def folder_objectives(folder: str | Path) -> list[str]:
    """A reward folder's objectives from its contracts (an ensemble: its first member's), without loading weights;
    a folder that is not a reward model raises `FileNotFoundError` naming it."""
    import json

    from tether.reward.ensemble import ENSEMBLE_FILE
    from tether.reward.model import read_contracts

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such reward model folder")
    meta = folder / ENSEMBLE_FILE
    if meta.is_file():
        folder = folder / json.loads(meta.read_text())["members"][0]
    return [c.objective for c in read_contracts(folder)]


def pick_objective(objectives: Sequence[str], wanted: str | None, source: str) -> str:
    """`wanted`, or the first head when None; an objective the model lacks raises `KeyError` naming what it has."""
    if wanted is None:
        return objectives[0]
    if wanted not in objectives:
        raise KeyError(f"{source}: no objective {wanted!r}; it scores {', '.join(objectives)}")
    return wanted
