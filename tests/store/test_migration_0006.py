"""0006 gives sign-in links an expiry and campaigns an assignment expiry, from 0005, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, text
from tests.store.migration_steps import downgrade, schema_diffs

from tether.collect.security import hash_secret, rater_for_token
from tether.store import Store
from tether.store.engine import current_revision, upgrade

T = datetime(2026, 5, 1, 12, tzinfo=UTC)
TABLES = ("rater_tokens", "campaigns")


def test_upgrade_from_0005_keeps_links_working_for_30_days_and_campaigns_get_24_hours(store_url: str) -> None:
    store = Store(store_url, migrate=False)
    store.drop_all()
    upgrade(store.engine, "0005")
    with store.engine.begin() as conn:  # a link issued before 0006 (no expiry) and a campaign
        conn.execute(text("INSERT INTO raters (id, attributes, created_at) VALUES ('ana', '{}', :t)"), {"t": T})
        conn.execute(text("INSERT INTO rater_tokens (rater_id, token_hash, created_at) VALUES ('ana', :h, :t)"),
                     {"h": hash_secret("old-token"), "t": T})
        conn.execute(text(
            "INSERT INTO campaigns (name, description, objectives, overlap, pilot_items, agreement_threshold, "
            "gold_rate, attention_rate, qualification_gold, pass_threshold, queue_size, interface, lock_counter, "
            "created_at) VALUES ('c', '', '[\"overall\"]', 2, 0, 0.4, 0, 0, 0, 0.8, 5, 'tether-web', 0, :t)"),
            {"t": T})
    upgrade(store.engine, "0006")
    assert current_revision(store.engine) == "0006"
    with store.engine.connect() as conn:
        expires = conn.execute(text("SELECT expires_at FROM rater_tokens")).scalar_one()
        hours = conn.execute(text("SELECT assignment_expiry_hours FROM campaigns")).scalar_one()
    assert schema_diffs(store, TABLES, columns=("expires_at", "assignment_expiry_hours")) == []  # (0008 adds more)
    expires = expires if isinstance(expires, datetime) else datetime.fromisoformat(str(expires))
    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    assert hours == 24
    assert rater_for_token(store, "old-token") == "ana"
    store.close()


def test_downgrade_to_0005_drops_the_new_columns(store_url: str) -> None:
    store = Store(store_url)
    downgrade(store, "0005")
    with store.engine.connect() as conn:
        insp = inspect(conn)
        assert "expires_at" not in {c["name"] for c in insp.get_columns("rater_tokens")}
        assert "assignment_expiry_hours" not in {c["name"] for c in insp.get_columns("campaigns")}
    assert current_revision(store.engine) == "0005"
    store.close()
