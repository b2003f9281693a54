"""The project's embedding cache: hits and misses by (model, max length, text), and purging a text everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tether.store.embedding_cache import EmbeddingCache


def _vec(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_hits_only_for_the_same_model_max_length_and_text(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "emb")
    assert cache.get("m", 128, ["a"]) == {}  # nothing written yet, and nothing created by reading
    assert not (tmp_path / "emb").exists()
    cache.put("m", 128, ["a", "b"], np.stack([_vec(1, 0), _vec(0, 1)]))
    hits = cache.get("m", 128, ["b", "c", "a"])
    assert sorted(hits) == [0, 2]
    np.testing.assert_array_equal(hits[0], _vec(0, 1))
    np.testing.assert_array_equal(hits[2], _vec(1, 0))
    assert cache.get("m", 64, ["a"]) == {} and cache.get("other", 128, ["a"]) == {}
    cache.put("m", 128, ["c", "a"], np.stack([_vec(1, 1), _vec(3, 4)]))  # adds c, replaces a
    hits = cache.get("m", 128, ["a", "b", "c"])
    np.testing.assert_array_equal(hits[0], _vec(3, 4))
    np.testing.assert_array_equal(hits[2], _vec(1, 1))


def test_purge_removes_a_text_in_every_namespace_and_keeps_the_rest(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "emb")
    cache.put("m", 128, ["secret", "kept"], np.stack([_vec(1, 0), _vec(0, 1)]))
    cache.put("m", 64, ["secret"], np.stack([_vec(1, 2)]))
    assert cache.purge(["secret", "never cached", ""]) == 2
    assert cache.get("m", 128, ["secret"]) == {} and cache.get("m", 64, ["secret"]) == {}
    np.testing.assert_array_equal(cache.get("m", 128, ["kept"])[0], _vec(0, 1))
    assert cache.purge(["secret"]) == 0
    assert b"secret" not in b"".join(p.read_bytes() for p in (tmp_path / "emb").glob("*.npz"))  # no texts stored


def test_a_damaged_cache_file_is_an_empty_cache(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "emb")
    cache.put("m", 128, ["a"], np.stack([_vec(1, 0)]))
    for f in (tmp_path / "emb").glob("*.npz"):
        f.write_bytes(b"not a zip")
    assert cache.get("m", 128, ["a"]) == {}
    cache.put("m", 128, ["b"], np.stack([_vec(0, 1)]))
    assert sorted(cache.get("m", 128, ["a", "b"])) == [1]
