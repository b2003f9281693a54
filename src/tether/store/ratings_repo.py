"""Ratings in the Store (a mixin of `Store`): one judgment of one response on a scale, idempotent by dedup key."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from tether.records import Rating, content_hash
from tether.store.bulk import WriteResult, aware, chunks, insert_ignore
from tether.store.models import PromptRow, RaterRow, RatingRow, ResponseRow

CHUNK = 5000
_RATINGS = RatingRow.__table__


class RatingStore:
    """Needs the Store's `transaction()`, `engine` and `_paged()`."""

    def add_ratings(self, ratings: Iterable[Rating], *, conn: Connection | None = None) -> WriteResult:
        """Store ratings; one already stored (same dedup key) is kept once."""
        if conn is None:
            with self.transaction() as c:
                return self.add_ratings(ratings, conn=c)
        now = datetime.now(UTC)
        seen = stored = 0
        for chunk in chunks(ratings, CHUNK):
            prompts = {content_hash(r.prompt_text): r.prompt_text for r in chunk}
            responses = {content_hash(r.response): r.response for r in chunk}
            insert_ignore(conn, PromptRow.__table__, [{"id": k, "text": v} for k, v in prompts.items()])
            insert_ignore(conn, ResponseRow.__table__, [{"id": k, "text": v} for k, v in responses.items()])
            insert_ignore(conn, RaterRow.__table__, [{"id": r, "attributes": {}, "created_at": now}
                                                     for r in sorted({r.rater for r in chunk})])
            stored += insert_ignore(conn, _RATINGS, [_row(r, now) for r in chunk])
            seen += len(chunk)
        return WriteResult(stored=stored, duplicates=seen - stored)

    def iter_ratings(self, *, objective: str | None = None, task_type: str | None = None,
                     campaign: str | None = None, rater: str | None = None, batch: int = 2000) -> Iterator[Rating]:
        """Stream stored ratings in storage order (bounded memory)."""
        stmt = ratings_select().order_by(RatingRow.id)
        for col, value in ((RatingRow.objective, objective), (RatingRow.task_type, task_type),
                           (RatingRow.campaign, campaign), (RatingRow.rater_id, rater)):
            if value is not None:
                stmt = stmt.where(col == value)
        for row in self._paged(stmt, RatingRow.id, batch):
            yield rating_from_row(row)

    def count_ratings(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(_RATINGS)).scalar_one()


def ratings_select() -> Any:
    """Rating rows with their texts (`_prompt`, `_response`): filter, order, then `rating_from_row`."""
    return (select(_RATINGS, PromptRow.text.label("_prompt"), ResponseRow.text.label("_response"))
            .join(PromptRow, PromptRow.id == RatingRow.prompt_id)
            .join(ResponseRow, ResponseRow.id == RatingRow.response_id))


def _row(r: Rating, now: datetime) -> dict[str, Any]:
    return {
        "dedup_key": r.dedup_key(), "item_id": r.item_id, "prompt_id": content_hash(r.prompt_text),
        "prompt_is_turns": not isinstance(r.prompt, str), "response_id": content_hash(r.response),
        "score": r.score, "scale_min": r.scale_min, "scale_max": r.scale_max, "scale_labels": r.scale_labels,
        "rater_id": r.rater, "objective": r.objective, "task_type": r.task_type, "campaign": r.campaign,
        "interface": r.interface, "rubric_version": r.rubric_version, "rationale": r.rationale,
        "created_at": r.created_at, "stored_at": now, "extra": r.extras or None,
    }


def rating_from_row(row: Any) -> Rating:
    data: dict[str, Any] = dict(row.extra or {})
    data.update(
        prompt=json.loads(row._prompt) if row.prompt_is_turns else row._prompt,
        response=row._response, score=row.score, scale_min=row.scale_min, scale_max=row.scale_max,
        scale_labels=row.scale_labels, rater=row.rater_id, objective=row.objective, task_type=row.task_type,
        campaign=row.campaign, interface=row.interface, rubric_version=row.rubric_version, rationale=row.rationale,
        created_at=aware(row.created_at), item_id=row.item_id,
    )
    return Rating.model_validate(data)
