"""Text embeddings kept in the project (`.tether/embeddings/`), so that a second `shift drift` or `shift sample` on
the same prompts skips the encoder (its forward pass is most of those commands' time on a CPU).

One file per (model id, max length) namespace: `<hash of model id and max length>.npz` holding the namespace's model
id and max length, `keys` (n x 32 bytes: sha256 of model id, max length and text) and `vectors` (n x d float32).
The texts themselves are not stored. `purge(texts)` removes the entries of the given texts in every namespace (what
`tether deploy forget` calls for the texts of forgotten traces). Writers take an exclusive lock on the folder's
lock file, so a purge and a concurrent write cannot resurrect a purged entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

try:  # POSIX; elsewhere writes are still atomic (os.replace), only not serialized
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def text_key(model_id: str, max_length: int, text: str) -> bytes:
    """The 32-byte key of one text's embedding."""
    return hashlib.sha256(f"{model_id}\0{max_length}\0{text}".encode()).digest()


class EmbeddingCache:
    """Embeddings by (model id, max length, text) under `folder` (created on first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _file(self, model_id: str, max_length: int) -> Path:
        name = hashlib.sha256(f"{model_id}\0{max_length}".encode()).hexdigest()[:24]
        return self.folder / f"{name}.npz"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as fh:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    @staticmethod
    def _read(path: Path) -> tuple[dict[bytes, int], np.ndarray, str, int] | None:
        """(key -> row, vectors, model id, max length) of one namespace file, or None when missing or unreadable."""
        try:
            with np.load(path, allow_pickle=False) as z:
                keys, vectors = z["keys"], z["vectors"]
                model_id, max_length = str(z["model_id"]), int(z["max_length"])
        except (OSError, ValueError, KeyError):  # a missing or damaged cache file is an empty cache
            return None
        return {bytes(k): i for i, k in enumerate(keys)}, vectors, model_id, max_length

    @staticmethod
    def _write(path: Path, keys: list[bytes], vectors: np.ndarray, model_id: str, max_length: int) -> None:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32),
                     vectors=vectors.astype(np.float32), model_id=np.array(model_id), max_length=np.array(max_length))
        os.replace(tmp, path)

    def get(self, model_id: str, max_length: int, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Index in `texts` -> cached vector, for the texts that are cached."""
        found = self._read(self._file(model_id, max_length))
        if found is None:
            return {}
        rows, vectors, *_ = found
        hits = {}
        for i, t in enumerate(texts):
            row = rows.get(text_key(model_id, max_length, t))
            if row is not None:
                hits[i] = vectors[row]
        return hits

    def put(self, model_id: str, max_length: int, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Add (or replace) the vectors of `texts`."""
        if not len(texts):
            return
        path = self._file(model_id, max_length)
        with self._locked():
            found = self._read(path)
            keys: list[bytes] = []
            merged: list[np.ndarray] = []
            if found is not None and found[1].ndim == 2 and found[1].shape[1] == vectors.shape[1]:
                keys, merged = list(found[0]), list(found[1])
            index = {k: i for i, k in enumerate(keys)}
            for t, v in zip(texts, vectors, strict=True):
                k = text_key(model_id, max_length, t)
                if k in index:
                    merged[index[k]] = v
                else:
                    index[k] = len(keys)
                    keys.append(k)
                    merged.append(v)
            self._write(path, keys, np.asarray(merged, dtype=np.float32), model_id, max_length)

    def purge(self, texts: Iterable[str]) -> int:
        """Remove the entries of `texts` from every namespace; returns how many entries were removed."""
        wanted = [t for t in dict.fromkeys(texts) if t]
        if not wanted or not self.folder.is_dir():
            return 0
        removed = 0
        with self._locked():
            for path in sorted(self.folder.glob("*.npz")):
                found = self._read(path)
                if found is None:
                    continue
                rows, vectors, model_id, max_length = found
                doomed = {rows[k] for k in (text_key(model_id, max_length, t) for t in wanted) if k in rows}
                if doomed:
                    keep = [i for i in range(len(vectors)) if i not in doomed]
                    keys = list(rows)
                    self._write(path, [keys[i] for i in keep], vectors[keep], model_id, max_length)
                    removed += len(doomed)
        return removed
