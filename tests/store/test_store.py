from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect

from tether.records import Comparison, Event, PreferencePair
from tether.store import Store
from tether.store.engine import current_revision, head_revision


def _cmp(i: int, **kw) -> Comparison:
    base = dict(prompt=f"p{i % 7}", response_a=f"a{i}", response_b=f"b{i}", shown_first="ab"[i % 2],
                choice=["a", "b", "tie"][i % 3], rater=f"r{i % 3}", task_type=f"t{i % 2}")
    base.update(kw)
    return Comparison.model_validate(base)


def test_migrations_reach_head(store: Store):
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {"comparisons", "prompts", "responses", "raters", "rater_profiles", "preference_sets",
            "preference_pairs", "events", "outcomes", "model_versions"} <= tables


def test_comparisons_round_trip_and_dedup(store: Store):
    items = [_cmp(i, created_at=datetime(2024, 1, 1, i % 24, tzinfo=UTC), confidence=0.5, extra_key=i)
             for i in range(50)]
    first = store.add_comparisons(items)
    assert (first.stored, first.duplicates) == (50, 0)
    again = store.add_comparisons(items)
    assert (again.stored, again.duplicates) == (0, 50)
    back = list(store.iter_comparisons())
    assert back == items
    assert back[3].extras == {"extra_key": 3}


def test_comparisons_filters_and_stats(store: Store):
    store.add_comparisons([_cmp(i) for i in range(30)])
    assert len(list(store.iter_comparisons(task_type="t0"))) == 15
    assert len(list(store.iter_comparisons(rater="r1"))) == 10
    s = store.stats()
    assert s["comparisons"] == 30
    assert s["by_rater"]["r0"]["comparisons"] == 10
    assert s["by_task_type"]["t1"]["pairs"] == 15


def test_failed_write_leaves_store_unchanged(store: Store):
    store.add_comparisons([_cmp(i) for i in range(5)])

    def boom():
        yield from (_cmp(i) for i in range(100, 10100))
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        store.add_comparisons(boom())
    assert store.count_comparisons() == 5


def test_pairs_and_events(store: Store):
    pairs = [PreferencePair(prompt="p", chosen=f"c{i}", rejected=f"r{i}", weight=0.5, p_chosen=0.8,
                            provenance={"n": i}) for i in range(10)]
    assert store.add_pairs(pairs, set_name="s1").stored == 10
    assert store.add_pairs(pairs, set_name="s1").duplicates == 10
    assert list(store.iter_pairs(set_name="s1")) == pairs
    ev = [Event(event_id=f"e{i}", type="feedback", trace_id="t", timestamp=datetime(2024, 1, 1, tzinfo=UTC),
                name="thumbs", value=1) for i in range(3)]
    assert store.add_events(ev).stored == 3
    assert store.add_events(ev).stored == 0
    assert list(store.iter_events()) == ev


def test_durable_sqlite_fsyncs_every_commit(tmp_path) -> None:
    """`[store] durable = true`: synchronous=FULL, so "durable before 2xx" holds across power loss too."""
    from sqlalchemy import text

    from tether.config import find_project, init_project

    init_project(tmp_path / "p")
    toml = tmp_path / "p" / "tether.toml"
    for line, level in (("", 1), ("durable = true\n", 2)):  # 1 = NORMAL, 2 = FULL
        toml.write_text(toml.read_text().replace("[store]\n", "[store]\n" + line))
        with find_project(tmp_path / "p").store() as store, store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == level
