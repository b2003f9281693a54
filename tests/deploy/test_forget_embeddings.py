"""`tether deploy forget` reaches the embedding cache that `shift drift` filled from the stored prompts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from tether.cli import app
from tether.config import find_project
from tether.deploy.ingest import Ingestor
from tether.records import Event
from tether.shift.embed import minilm_path, model_id
from tether.store.embedding_cache import EmbeddingCache

runner = CliRunner()
T = datetime(2026, 5, 1, tzinfo=UTC)
ANN = ["Is this rash on my arm serious?", "What cream helps a rash?"]
BOB = ["When does the last train leave?", "Is the station open on Sunday?"]


def _generations(user: str, prompts: list[str]) -> list[Event]:
    return [Event(event_id=f"{user}-{i}", type="generation", trace_id=f"t-{user}-{i}", timestamp=T, model="m",
                  prompt=p, response=f"answer {i}", attributes={"enduser.id": user}) for i, p in enumerate(prompts)]


def test_forget_purges_the_cached_embeddings_of_the_users_prompts(project_dir: Path) -> None:
    store = find_project().store()
    try:
        Ingestor(store).ingest(_generations("ann", ANN) + _generations("bob", BOB), find_project().name)
    finally:
        store.close()
    (project_dir / "annotation.txt").write_text("How do I bake bread?\nWhat is a prime number?\n", encoding="utf-8")
    r = runner.invoke(app, ["shift", "drift", "--annotation", "annotation.txt", "--clusters", "2",
                            "--report", "r.html"])
    assert r.exit_code in (0, 1), r.output
    cache, mid = EmbeddingCache(project_dir / ".tether" / "embeddings"), model_id(minilm_path())
    assert sorted(cache.get(mid, 128, ANN + BOB)) == [0, 1, 2, 3]  # the drift run cached the stored prompts

    r = runner.invoke(app, ["deploy", "forget", "--user", "ann"])
    assert r.exit_code == 0, r.output
    assert "and 2 cached prompt embeddings" in r.output
    assert cache.get(mid, 128, ANN) == {}
    assert sorted(cache.get(mid, 128, BOB)) == [0, 1]  # another user's vectors stay
    assert sorted(cache.get(mid, 128, ["How do I bake bread?"])) == [0]


def test_commands_on_files_outside_a_project_create_no_cache(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("How do I bake bread?\nWhat is a prime number?\n", encoding="utf-8")
    (tmp_path / "p.txt").write_text("\n".join(BOB) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["shift", "drift", "--annotation", "a.txt", "--production", "p.txt", "--clusters", "2",
                            "--report", "r.html"])
    assert r.exit_code in (0, 1), r.output
    assert not (tmp_path / ".tether").exists()
