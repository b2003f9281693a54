"""`RewardModel`: a trained reward model and its contracts; scores come out per objective, never summed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tether.records import PreferencePair, RewardContract

CONTRACT_FILE = "reward_contract.json"


def write_contracts(folder: Path, contracts: list[RewardContract]) -> None:
    """`reward_contract.json`: one contract per objective head, in head order."""
    data = {"version": 1, "contracts": [c.model_dump(mode="json") for c in contracts]}
    (folder / CONTRACT_FILE).write_text(json.dumps(data, indent=2))


def read_contracts(folder: Path) -> list[RewardContract]:
    """The contracts of a saved reward model; a missing or malformed file raises naming it."""
    path = Path(folder) / CONTRACT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; a reward model without a contract must not be used")
    try:
        items = json.loads(path.read_text())["contracts"]
        return [RewardContract.model_validate(c) for c in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: malformed reward contract: {exc}") from exc


class RewardModel:
    """A loaded reward model: `score(prompts, responses)` -> {objective: scores}."""

    def __init__(self, net, tokenizer, contracts: list[RewardContract], *, max_length: int = 512,  # noqa: ANN001
                 batch_size: int = 64, path: Path | None = None) -> None:
        self.net, self.tokenizer, self.contracts = net, tokenizer, contracts
        self.max_length, self.batch_size, self.path = max_length, batch_size, path
        names = [c.objective for c in contracts]
        if names != list(net.objectives):
            raise ValueError(f"contract objectives {names} do not match the model's heads {net.objectives}")

    @property
    def objectives(self) -> list[str]:
        return list(self.net.objectives)

    def contract(self, objective: str) -> RewardContract:
        for c in self.contracts:
            if c.objective == objective:
                return c
        raise KeyError(f"no head for objective {objective!r}; this model has {self.objectives}")

    @classmethod
    def load(cls, path: str | Path, **kw: int) -> RewardModel:
        """Load a folder written by `tether.reward.train`."""
        from tether.reward.backbones import load

        path = Path(path)
        net, tok = load(path)
        meta = json.loads((path / "reward_model.json").read_text())
        kw.setdefault("max_length", meta.get("max_length", 512))
        return cls(net.eval(), tok, read_contracts(path), path=path, **kw)

    def raw_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """[n, n_objectives] head outputs, in the contracts' scale (logits)."""
        return score_matrix(self.net, self.tokenizer, prompts, responses, self.max_length, self.batch_size)

    def score(self, prompts: Sequence[str], responses: Sequence[str], *, normalize: bool = False
              ) -> dict[str, np.ndarray]:
        """Per-objective scores; `normalize` maps each to z-scores with the training-data stats in the contract."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        m = self.raw_scores(prompts, responses)
        out = {}
        for k, c in enumerate(self.contracts):
            s = m[:, k]
            if normalize:
                s = (s - c.normalization["mean"]) / max(c.normalization["std"], 1e-8)
            out[c.objective] = s
        return out

    def pair_margins(self, pairs: Sequence[PreferencePair]) -> np.ndarray:
        """score(chosen) - score(rejected) of each pair on its own objective's head."""
        return pair_margins(self, pairs)


def pair_margins(model, pairs: Sequence[PreferencePair]) -> np.ndarray:  # noqa: ANN001
    """Margin of each pair on its objective's head, for any model with `score(prompts, responses)`."""
    prompts = [p.prompt for p in pairs] * 2
    responses = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    scores = model.score(prompts, responses)
    scores = getattr(scores, "scores", scores)  # an ensemble returns EnsembleScores
    n = len(pairs)
    out = np.empty(n)
    for i, p in enumerate(pairs):
        if p.objective not in scores:
            raise KeyError(f"pair {i}: objective {p.objective!r} has no head; model has {sorted(scores)}")
        out[i] = scores[p.objective][i] - scores[p.objective][n + i]
    return out


def score_matrix(net, tokenizer, prompts: Sequence[str], responses: Sequence[str], max_length: int,  # noqa: ANN001
                 batch_size: int = 64) -> np.ndarray:
    """Head outputs for many texts: length-sorted batches, no gradients, full precision."""
    import torch

    from tether.reward.data import pad, tokenize

    ids = tokenize(tokenizer, prompts, responses, max_length)
    order = np.argsort([len(s) for s in ids], kind="stable")
    out = np.empty((len(ids), len(net.objectives)), dtype=np.float64)
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            x, m = pad([ids[i] for i in idx], tokenizer.pad_token_id)
            out[idx] = net(x.to(device), m.to(device)).float().cpu().numpy()
    net.train(was_training)
    return out
