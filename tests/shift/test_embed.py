"""The packaged MiniLM encoder batches prompts by token count: an embedding must not depend on its batch."""

from __future__ import annotations

import numpy as np

from tether.shift.embed import Encoder


def test_an_embedding_does_not_depend_on_the_prompts_batched_with_it() -> None:
    texts = ["Hi", "What is the capital of Portugal, and how many people live there today?", "",
             "¿Dónde está la estación de tren más cercana?", "word " * 400, "Hi"]  # the long one is truncated
    enc = Encoder(batch_size=2)
    together = enc.encode(texts)
    alone = np.stack([enc.encode([t])[0] for t in texts])
    assert together.shape == (len(texts), 384)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert float(together[0] @ together[1]) < 0.9  # different prompts stay apart, in input order
    np.testing.assert_allclose(together[0], together[5], atol=1e-6)


def test_no_prompts_give_an_empty_matrix_without_loading_the_model() -> None:
    enc = Encoder(path="/nonexistent")  # loading this would fail
    assert enc.encode([]).shape == (0, 384)


def test_a_cached_encoder_computes_only_the_texts_it_has_not_seen(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from tether.store.embedding_cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "emb")
    texts = ["Hi", "Where is the station?", "Hi"]
    plain = Encoder().encode(texts)
    first = Encoder(cache=cache).encode(texts)
    np.testing.assert_array_equal(first, plain)
    computed: list[list[str]] = []
    real = Encoder._compute

    def spy(self: Encoder, batch: list[str]) -> np.ndarray:
        computed.append(list(batch))
        return real(self, batch)

    monkeypatch.setattr(Encoder, "_compute", spy)
    again = Encoder(cache=cache).encode(["Where is the station?", "A new one", "Hi"])
    assert computed == [["A new one"]]  # the two seen texts came from the cache, unchanged
    np.testing.assert_array_equal(again[[0, 2]], plain[[1, 0]])
    np.testing.assert_allclose(again[1], Encoder().encode(["A new one"])[0], atol=1e-6)
    assert computed[-1] == ["A new one"]  # (the plain encoder above is uncached: it computes again)
    Encoder(cache=cache, max_length=64).encode(["Hi"])
    assert computed[-1] == ["Hi"]  # another max length is another key
