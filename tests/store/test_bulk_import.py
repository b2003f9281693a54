"""The bulk comparison import: dedup, all-or-nothing, order and values kept, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select, text

import tether.store.repository as repository
from tether.io import InputError, import_file
from tether.records import Comparison, content_hash
from tether.store import Store
from tether.store.models import PromptRow, RaterRow, ResponseRow


def _cmp(i: int, **kw) -> Comparison:
    base = dict(prompt=f"prompt {i % 5}", response_a=f"answer a{i % 11}", response_b=f"answer b{i}",
                shown_first="ab"[i % 2], choice=["a", "b", "tie"][i % 3], rater=f"r{i % 4}",
                created_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=i))
    base.update(kw)
    return Comparison.model_validate(base)


def _table_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (PromptRow, ResponseRow, RaterRow)
        } | {"comparisons": store.count_comparisons()}


@pytest.fixture(autouse=True, params=["staged", "direct"])
def write_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs through both write paths: staged + merged (imports) and direct (small writes)."""
    monkeypatch.setattr(repository, "SMALL_WRITE", 0 if request.param == "staged" else 10**9)
    return request.param


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 rows and id memory of 5, so a few dozen rows cross every chunk boundary."""
    monkeypatch.setattr(repository, "COMPARISON_CHUNK", 7)
    monkeypatch.setattr(repository, "KNOWN_IDS_MAX", 5)


@pytest.mark.usefixtures("small_chunks")
def test_duplicates_inside_one_import_are_stored_once(store: Store):
    items = [_cmp(i) for i in range(40)]
    # every 3rd comparison repeated later in the same call, some in the same chunk, most in later ones
    stream = items + items[::3] + [items[5], items[5]]
    chunks: list[int] = []
    result = store.add_comparisons(stream, on_chunk=chunks.append)
    assert (result.stored, result.duplicates) == (40, len(stream) - 40)
    assert sum(chunks) == len(stream)
    assert list(store.iter_comparisons()) == items  # storage order is first-seen order
    counts = _table_counts(store)
    assert counts["prompts"] == len({c.prompt for c in items})
    assert counts["responses"] == len({t for c in items for t in (c.response_a, c.response_b)})
    assert counts["raters"] == len({c.rater for c in items})


@pytest.mark.usefixtures("small_chunks")
def test_duplicate_of_a_stored_row_keeps_the_stored_one(store: Store):
    store.add_comparisons([_cmp(i) for i in range(10)])
    first = _cmp(3)
    # same judgment identity (dedup key) but a different choice: the stored row wins
    changed = _cmp(3, choice="tie" if first.choice != "tie" else "a", confidence=0.9)
    assert changed.dedup_key() == first.dedup_key()
    result = store.add_comparisons([_cmp(100), changed, _cmp(101)])
    assert (result.stored, result.duplicates) == (2, 1)
    back = {c.dedup_key(): c for c in store.iter_comparisons()}
    assert back[first.dedup_key()] == first
    assert store.count_comparisons() == 12


@pytest.mark.usefixtures("small_chunks")
def test_failure_mid_import_leaves_every_table_unchanged(store: Store):
    store.add_comparisons([_cmp(i) for i in range(5)])
    before = _table_counts(store)

    def failing():
        for i in range(1000, 1060):  # several chunks staged and merged before the failure
            yield _cmp(i, prompt=f"new prompt {i}", rater=f"new rater {i}")
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        store.add_comparisons(failing())
    assert _table_counts(store) == before
    # the store still works afterwards: the same rows import cleanly
    assert store.add_comparisons([_cmp(i) for i in range(1000, 1010)]).stored == 10


def test_database_error_mid_write_rolls_back(store: Store, monkeypatch: pytest.MonkeyPatch):
    """An error raised by the database (in the merge thread when staged) reaches the caller; nothing is kept."""
    monkeypatch.setattr(repository, "COMPARISON_CHUNK", 4)
    store.add_comparisons([_cmp(i) for i in range(3)])
    before = _table_counts(store)
    with store.engine.begin() as conn:  # a trigger makes one specific row fail inside the database
        if store.dialect == "sqlite":
            conn.execute(text("CREATE TRIGGER reject_bad BEFORE INSERT ON comparisons "
                              "WHEN NEW.rater_id = 'bad' BEGIN SELECT RAISE(ABORT, 'rejected by trigger'); END"))
        else:
            conn.execute(text("CREATE OR REPLACE FUNCTION reject_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                              "IF NEW.rater_id = 'bad' THEN RAISE EXCEPTION 'rejected by trigger'; END IF; "
                              "RETURN NEW; END $$"))
            conn.execute(text("CREATE TRIGGER reject_bad BEFORE INSERT ON comparisons "
                              "FOR EACH ROW EXECUTE FUNCTION reject_bad()"))
    items = [_cmp(i) for i in range(10, 20)] + [_cmp(20, rater="bad")] + [_cmp(i) for i in range(21, 30)]
    with pytest.raises(Exception, match="rejected by trigger"):
        store.add_comparisons(items)
    assert _table_counts(store) == before


def _write_lines(path: Path, rows: list[dict | str]) -> Path:
    path.write_bytes(b"".join((r.encode() if isinstance(r, str) else orjson.dumps(r)) + b"\n" for r in rows))
    return path


def _v1(i: int) -> dict:
    return {"prompt": f"p{i % 9}", "response_a": f"a{i}", "response_b": f"b{i}", "shown_first": "a",
            "choice": "b", "rater": f"r{i % 3}", "created_at": f"2024-05-01T00:00:{i % 60:02d}Z", "batch": i}


@pytest.mark.usefixtures("small_chunks")
def test_bad_line_mid_file_imports_nothing(store: Store, tmp_path: Path):
    good = _write_lines(tmp_path / "good.jsonl", [_v1(i) for i in range(30)])
    assert import_file(store, "comparisons", good).stored == 30
    before = _table_counts(store)
    rows: list[dict | str] = [_v1(i) for i in range(100, 150)]
    rows[37] = {**_v1(137), "choice": "maybe"}
    bad = _write_lines(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError) as info:
        import_file(store, "comparisons", bad)
    assert (info.value.line, info.value.key) == (38, "choice")
    assert _table_counts(store) == before


@pytest.mark.usefixtures("small_chunks")
def test_same_file_twice_stores_each_comparison_once(store: Store, tmp_path: Path):
    rows = [_v1(i) for i in range(50)] + [_v1(7), _v1(8)]
    path = _write_lines(tmp_path / "c.jsonl", rows)
    first = import_file(store, "comparisons", path)
    assert (first.stored, first.duplicates) == (50, 2)
    again = import_file(store, "comparisons", path)
    assert (again.stored, again.duplicates) == (0, 52)
    assert _table_counts(store)["comparisons"] == 50
    assert [c.extras["batch"] for c in store.iter_comparisons()] == list(range(50))


@pytest.mark.usefixtures("small_chunks")
def test_a_text_used_as_prompt_and_response_and_hash_like_rater(store: Store):
    """Ids are remembered per table: one text as prompt and as response is stored in both."""
    shared = "the very same text"
    hash_like = content_hash(shared)  # a rater id equal to a text id must not be confused with it
    items = [_cmp(i, prompt=shared if i % 2 else f"q{i}", response_a=shared, response_b=f"r{i}",
                  rater=hash_like if i % 3 else "plain") for i in range(30)]
    assert store.add_comparisons(items).stored == 30
    assert list(store.iter_comparisons()) == items


def test_values_round_trip_exactly(store: Store):
    rng = random.Random(7)
    plus5 = timezone(timedelta(hours=5))
    items = [
        _cmp(i, confidence=rng.random(), campaign=f"c{i % 3}", interface=None if i % 2 else "web",
             rubric_version="v2", objective="helpfulness", task_type="qa",
             prompt=f"préface ✓ {i % 4} \t\n\"quoted\" \\ back",
             created_at=datetime(2023, 3, 4, 5, 6, 7, rng.randrange(10**6), tzinfo=plus5) + timedelta(days=i),
             note={"nested": [i, 1.5, None, True, "é"]})
        for i in range(300)
    ]
    items.append(_cmp(999, created_at=None, confidence=None))
    assert store.add_comparisons(items).stored == len(items)
    back = list(store.iter_comparisons())
    assert back == items
    assert back[0].created_at.tzinfo is not None and back[0].created_at.utcoffset() == timedelta(0)
    assert back[10].extras == {"note": {"nested": [10, 1.5, None, True, "é"]}}


def test_sqlite_bulk_settings_are_restored(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    with store.engine.connect() as conn:
        cache_before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    store.add_comparisons([_cmp(i) for i in range(20)])
    with store.engine.connect() as conn:  # the pool hands back the connection the import used
        temp = conn.exec_driver_sql("SELECT name FROM sqlite_temp_master WHERE type = 'table'").scalars().all()
        assert temp == []

    def failing():
        yield from (_cmp(i) for i in range(20, 40))
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError):
        store.add_comparisons(failing())
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == cache_before
        # the bulk path checks no foreign key row by row; they hold, and are enforced again afterwards
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert store.count_comparisons() == 20
    store.close()


def _schema_of_comparisons(store: Store) -> list[tuple]:
    """Every index and constraint of the comparisons table, as the database itself describes them."""
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            return sorted(conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = "
                                               "'comparisons'").all()) + sorted(
                conn.exec_driver_sql("PRAGMA foreign_key_list(comparisons)").all())
        return sorted(conn.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
                                           "'comparisons'").all()) + sorted(
            conn.exec_driver_sql("SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                                 "WHERE conrelid = 'comparisons'::regclass").all())


@pytest.mark.usefixtures("small_chunks")
def test_load_into_an_empty_table_rebuilds_every_index_and_constraint(store: Store):
    """The first import drops the secondary indexes (and PostgreSQL's foreign keys) and builds them at the end."""
    schema = _schema_of_comparisons(store)
    items = [_cmp(i) for i in range(30)]
    assert store.add_comparisons(items).stored == 30
    assert _schema_of_comparisons(store) == schema
    assert list(store.iter_comparisons(rater="r1")) == [c for c in items if c.rater == "r1"]  # index in use again
    assert store.add_comparisons(items).stored == 0  # the unique key held all along


@pytest.mark.usefixtures("small_chunks")
def test_failed_first_import_keeps_every_index_and_constraint(store: Store):
    schema = _schema_of_comparisons(store)

    def failing():
        yield from (_cmp(i) for i in range(40))
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        store.add_comparisons(failing())
    assert _schema_of_comparisons(store) == schema
    assert _table_counts(store)["comparisons"] == 0
