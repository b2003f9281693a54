"""The champion history: which model version serves each role, and every decision that changed it (or refused to)."""

from __future__ import annotations

from sqlalchemy import insert, select

from tether.records import Promotion
from tether.store.models import PromotionRow

_PROMOTIONS = PromotionRow.__table__
_COLUMNS = ("id", "role", "action", "kind", "path", "model", "version", "checks", "reason", "created_at")
SERVING_ACTIONS = ("promote", "rollback")


class Promotions:
    """Mixed into `Store`: append-only promotions, refusals and rollbacks per role."""

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
