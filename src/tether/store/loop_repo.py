"""The loop's state in the store: the champion history of each role (every decision that changed which model serves
it, or refused to), the ticks of `tether loop tick`, and the lock that keeps two ticks of one role apart."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from tether.records import Promotion
from tether.store.models import LoopLockRow, LoopTickRow, PromotionRow

_PROMOTIONS = PromotionRow.__table__
_TICKS = LoopTickRow.__table__
_LOCKS = LoopLockRow.__table__
_TICK_COLUMNS = ("id", "role", "state", "campaign", "triggers", "actions", "result", "started_at", "finished_at")
_COLUMNS = ("id", "role", "action", "kind", "path", "model", "version", "checks", "reason", "share", "created_at")
SERVING_ACTIONS = ("promote", "rollback")


class LoopState:
    """Mixed into `Store`: append-only promotions, refusals and rollbacks per role; loop ticks and their lock."""

    def add_promotion(self, promotion: Promotion) -> Promotion:
        values = promotion.model_dump(mode="json", include=set(_COLUMNS) - {"id"})
        values["created_at"] = promotion.created_at
        with self.transaction() as conn:
            new_id = conn.execute(insert(_PROMOTIONS).values(**values).returning(_PROMOTIONS.c.id)).scalar_one()
        return promotion.model_copy(update={"id": new_id})

    def promotions(self, role: str | None = None) -> list[Promotion]:
        """Every decision, oldest first (of one role, if given)."""
        query = select(*(_PROMOTIONS.c[c] for c in _COLUMNS)).order_by(_PROMOTIONS.c.id)
        if role is not None:
            query = query.where(_PROMOTIONS.c.role == role)
        with self.transaction() as conn:
            rows = conn.execute(query).all()
        return [Promotion(**{k: v for k, v in r._asdict().items() if v is not None}) for r in rows]

    def champions(self, role: str) -> list[Promotion]:
        """The role's serving history, oldest first: each promotion or rollback; the last one serves now."""
        return [p for p in self.promotions(role) if p.action in SERVING_ACTIONS]

    def champion(self, role: str) -> Promotion | None:
        """The decision that put the role's current model in place, or None before the first promotion."""
        serving = self.champions(role)
        return serving[-1] if serving else None

    def add_tick(self, role: str, state: str, **values: Any) -> int:
        """Record a tick (its id returned); `values`: campaign, triggers, actions, result, finished_at."""
        with self.transaction() as conn:
            return conn.execute(insert(_TICKS).values(role=role, state=state, started_at=datetime.now(UTC), **values)
                                .returning(_TICKS.c.id)).scalar_one()

    def finish_tick(self, tick_id: int, state: str, **values: Any) -> None:
        with self.transaction() as conn:
            conn.execute(update(_TICKS).where(_TICKS.c.id == tick_id)
                         .values(state=state, finished_at=datetime.now(UTC), **values))

    def ticks(self, role: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The role's ticks, newest first."""
        query = select(*(_TICKS.c[c] for c in _TICK_COLUMNS)).where(_TICKS.c.role == role).order_by(
            _TICKS.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.transaction() as conn:
            return [r._asdict() for r in conn.execute(query).all()]

    def acquire_loop_lock(self, role: str, holder: str, *, stale_after: timedelta) -> bool:
        """Take the role's lock (a row insert both databases serialize); a lock older than `stale_after` (a tick that
        died) is taken over. False when another live tick holds it."""
        now = datetime.now(UTC)
        with self.transaction() as conn:
            conn.execute(delete(_LOCKS).where(_LOCKS.c.role == role, _LOCKS.c.acquired_at < now - stale_after))
        try:
            with self.transaction() as conn:
                conn.execute(insert(_LOCKS).values(role=role, holder=holder, acquired_at=now))
        except IntegrityError:
            return False
        return True

    def release_loop_lock(self, role: str, holder: str) -> None:
        with self.transaction() as conn:
            conn.execute(delete(_LOCKS).where(_LOCKS.c.role == role, _LOCKS.c.holder == holder))


def forget_batch_traces(conn: Any, project: str, traces: Collection[str]) -> int:
    """Delete what loop batches derived from these traces of `project`: the campaign items made from their prompts,
    the judgments and assignments of those items, and prompt / response texts nothing else uses; the batch's record
    forgets the items too. Returns the judgments and items deleted."""
    from tether.store.collect_models import AssignmentRow, CampaignItemRow, CampaignRow
    from tether.store.models import ComparisonRow, PreferencePairRow, PromptRow, ResponseRow

    deleted = 0
    for tick_id, campaign, result in conn.execute(
            select(_TICKS.c.id, _TICKS.c.campaign, _TICKS.c.result).where(_TICKS.c.state == "labelling")):
        if not isinstance(result, dict) or result.get("project") != project:
            continue
        doomed = [pair for pair, trace in result.get("items", {}).items() if trace in traces]
        if not doomed:
            continue
        campaign_id = conn.execute(select(CampaignRow.id).where(CampaignRow.name == campaign)).scalar()
        texts: set[tuple[str, str]] = set()
        items = conn.execute(select(CampaignItemRow.id, CampaignItemRow.prompt_id, CampaignItemRow.response_a_id,
                                    CampaignItemRow.response_b_id).where(CampaignItemRow.campaign_id == campaign_id,
                                                                         CampaignItemRow.pair_id.in_(doomed))).all()
        for _, prompt, a, b in items:
            texts |= {("p", prompt), ("r", a), ("r", b)}
        item_ids = [i for i, *_ in items]
        conn.execute(delete(AssignmentRow).where(AssignmentRow.item_id.in_(item_ids)))
        deleted += conn.execute(delete(CampaignItemRow).where(CampaignItemRow.id.in_(item_ids))).rowcount or 0
        deleted += conn.execute(delete(ComparisonRow).where(ComparisonRow.campaign == campaign,
                                                            ComparisonRow.pair_id.in_(doomed))).rowcount or 0
        kept = {k: v for k, v in result["items"].items() if k not in doomed}
        conn.execute(update(_TICKS).where(_TICKS.c.id == tick_id).values(result={**result, "items": kept}))
        for kind, text_id in texts:  # texts are shared by content: delete only those nothing references any more
            table, cols = ((PromptRow, (ComparisonRow.prompt_id, CampaignItemRow.prompt_id,
                                        PreferencePairRow.prompt_id)) if kind == "p" else
                           (ResponseRow, (ComparisonRow.response_a_id, ComparisonRow.response_b_id,
                                          CampaignItemRow.response_a_id, CampaignItemRow.response_b_id,
                                          PreferencePairRow.chosen_id, PreferencePairRow.rejected_id)))
            if not any(conn.execute(select(col).where(col == text_id).limit(1)).first() for col in cols):
                conn.execute(delete(table).where(table.id == text_id))
    return deleted
