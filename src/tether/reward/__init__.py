"""tether.reward: reward models trained from curated preference pairs.

One head per objective on a shared backbone, weights and soft labels from the audit, ensembles with
disagreement, calibration and length audits, and a gate every policy run must pass. Importing this
package does not import torch; the submodules that need it load it on use.

    from tether.reward import train, TrainConfig, load
    train(pairs, "models/rm", TrainConfig(backbone="minilm"))
    rm = load("models/rm")                     # RewardModel, or RewardEnsemble for an ensemble folder
    rm.score(prompts, responses)               # {objective: scores}

On an RL cluster: `tether reward serve` (`tether.reward.serve`) is OpenRLHF's remote reward model, and
`tether.reward.verl.compute_score` a verl custom reward function; both score through the contracts
(`tether.reward.scoring`), as `tether policy rl` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tether.lazy import lazy_exports

_LAZY = {
    "TrainConfig": "config", "TrainResult": "train", "train": "train",
    "RewardModel": "model", "RewardEnsemble": "ensemble",
    "EnsembleScores": "ensemble", "train_ensemble": "ensemble",
    "evaluate": "evaluate", "EvalResult": "evaluate",
    "write_report": "evaluate", "fit_temperature": "evaluate",
    "GateConfig": "config", "GateResult": "gate", "GateFailed": "gate",
    "check_gate": "gate", "save_gate": "gate", "require_gate": "gate",
}

_names, __getattr__ = lazy_exports(__name__, _LAZY)
__all__ = ["load", *_names]


def load(path: str | Path) -> Any:
    """A saved reward model (`RewardModel`) or ensemble (`RewardEnsemble`), by what the folder holds."""
    from tether.reward.ensemble import ENSEMBLE_FILE, RewardEnsemble
    from tether.reward.model import RewardModel

    path = Path(path)
    if (path / ENSEMBLE_FILE).is_file():
        return RewardEnsemble.load(path)
    return RewardModel.load(path)
