"""0007 adds the ratings table and rating-scale campaign items, from 0006, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text
from tests.store.migration_steps import downgrade, schema_diffs

from tether.records import Rating
from tether.store import Store
from tether.store.engine import current_revision, upgrade

T = datetime(2026, 5, 1, 12, tzinfo=UTC)
TABLES = ("ratings", "campaign_items")


def test_upgrade_from_0006_keeps_items_pairwise_and_stores_ratings(store_url: str) -> None:
    store = Store(store_url, migrate=False)
    store.drop_all()
    upgrade(store.engine, "0006")
    with store.engine.begin() as conn:  # a campaign with one pairwise item, stored before 0007
        conn.execute(text("INSERT INTO prompts (id, text) VALUES ('p', 'prompt')"))
        conn.execute(text("INSERT INTO responses (id, text) VALUES ('a', 'A'), ('b', 'B')"))
        conn.execute(text(
            "INSERT INTO campaigns (name, description, objectives, overlap, pilot_items, agreement_threshold, "
            "gold_rate, attention_rate, qualification_gold, pass_threshold, queue_size, interface, lock_counter, "
            "created_at, assignment_expiry_hours) VALUES ('c', '', '[\"overall\"]', 2, 0, 0.4, 0, 0, 0, 0.8, 5, "
            "'tether-web', 0, :t, 24)"), {"t": T})
        campaign_id = conn.execute(text("SELECT id FROM campaigns")).scalar_one()
        conn.execute(text(
            "INSERT INTO campaign_items (campaign_id, pair_id, prompt_id, response_a_id, response_b_id, task_type, "
            "kind, position) VALUES (:c, 'pair1', 'p', 'a', 'b', 'default', 'regular', 0)"), {"c": campaign_id})
    upgrade(store.engine, "0007")
    assert current_revision(store.engine) == "0007"
    with store.engine.connect() as conn:
        task, spec = conn.execute(text("SELECT task, task_spec FROM campaign_items")).one()
    assert schema_diffs(store, TABLES) == []
    assert (task, spec) == ("pairwise", None)
    rating = Rating(prompt=[{"role": "user", "content": "hi"}], response="hello", score=4, scale_max=5, rater="ana",
                    rationale="friendly", created_at=T)
    assert store.add_ratings([rating, rating]).stored == 1
    assert list(store.iter_ratings()) == [rating]
    store.close()


def test_downgrade_to_0006_drops_ratings_and_the_item_columns(store_url: str) -> None:
    store = Store(store_url)
    downgrade(store, "0006")
    with store.engine.connect() as conn:
        insp = inspect(conn)
        assert "ratings" not in insp.get_table_names()
        assert {"task", "task_spec"}.isdisjoint(c["name"] for c in insp.get_columns("campaign_items"))
    assert current_revision(store.engine) == "0006"
    store.close()
