"""tether.reward: reward models trained from curated preference pairs.

One head per objective on a shared backbone, weights and soft labels from the audit, ensembles with
disagreement, calibration and length audits, and a gate every policy run must pass. Importing this
package does not import torch; the submodules that need it load it on use.

    from tether.reward import train, TrainConfig, load
    train(pairs, "models/rm", TrainConfig(backbone="minilm"))
    rm = load("models/rm")                     # RewardModel, or RewardEnsemble for an ensemble folder
    rm.score(prompts, responses)               # {objective: scores}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_LAZY = {
    "TrainConfig": "tether.reward.config", "TrainResult": "tether.reward.train", "train": "tether.reward.train",
    "RewardModel": "tether.reward.model", "RewardEnsemble": "tether.reward.ensemble",
    "EnsembleScores": "tether.reward.ensemble", "train_ensemble": "tether.reward.ensemble",
    "evaluate": "tether.reward.evaluate", "EvalResult": "tether.reward.evaluate",
    "write_report": "tether.reward.evaluate", "fit_temperature": "tether.reward.evaluate",
    "GateConfig": "tether.reward.config", "GateResult": "tether.reward.gate", "GateFailed": "tether.reward.gate",
    "check_gate": "tether.reward.gate", "save_gate": "tether.reward.gate", "require_gate": "tether.reward.gate",
}

__all__ = ["load", *_LAZY]


def load(path: str | Path) -> Any:
    """A saved reward model (`RewardModel`) or ensemble (`RewardEnsemble`), by what the folder holds."""
    from tether.reward.ensemble import ENSEMBLE_FILE, RewardEnsemble
    from tether.reward.model import RewardModel

    path = Path(path)
    if (path / ENSEMBLE_FILE).is_file():
        return RewardEnsemble.load(path)
    return RewardModel.load(path)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tether.reward' has no attribute {name!r}")
