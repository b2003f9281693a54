"""Stage results other stages consume, stored as records: audit runs and model versions with their lineage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from tether.records import AuditRun, ModelVersion
from tether.store.models import AuditRunCampaignRow, AuditRunRow, ModelVersionRow

_RUNS = AuditRunRow.__table__
_VERSIONS = ModelVersionRow.__table__
_RUN_CAMPAIGNS = AuditRunCampaignRow.__table__
_RUN_COLUMNS = ("id", "created_at", "source", "n_comparisons", "campaigns", "blocked_task_types", "verdicts",
                "config", "result")
_VERSION_COLUMNS = ("name", "version", "kind", "path", "parent", "metrics", "config", "lineage", "contracts",
                    "gate", "created_at")


class StageResults:
    """Mixed into `Store`: the registry of audit runs and model versions."""

    def add_audit_run(self, run: AuditRun) -> AuditRun:
        """Store an audit run; returns it with its id."""
        values = run.model_dump(mode="json", include=set(_RUN_COLUMNS) - {"id"})
        values["created_at"] = run.created_at
        with self.transaction() as conn:
            new_id = conn.execute(insert(_RUNS).values(**values).returning(_RUNS.c.id)).scalar_one()
            if run.campaigns:
                conn.execute(insert(_RUN_CAMPAIGNS), [{"run_id": new_id, "campaign": c} for c in run.campaigns])
        return run.model_copy(update={"id": new_id})

    def latest_audit_run(self, campaign: str | None = None, *, with_result: bool = True) -> AuditRun | None:
        """The newest audit run (that covered `campaign`'s comparisons, if given), or None; `with_result=False`
        leaves out the full numbers (what assignment reads on its hot path)."""
        newest = select(func.max(_RUNS.c.id)) if campaign is None else \
            select(func.max(_RUN_CAMPAIGNS.c.run_id)).where(_RUN_CAMPAIGNS.c.campaign == campaign)
        with self.transaction() as conn:
            run_id = conn.execute(newest).scalar()
            if run_id is None:
                return None
            columns = [c for c in _RUN_COLUMNS if with_result or c != "result"]
            row = conn.execute(select(*(_RUNS.c[c] for c in columns)).where(_RUNS.c.id == run_id)).one()
        return AuditRun(**row._asdict())

    def add_model_version(self, version: ModelVersion) -> ModelVersion:
        """Record a model version; its `version` becomes v1, v2, ... per name unless one is given."""
        with self.transaction() as conn:
            label = version.version or f"v{self._version_count(conn, version.name) + 1}"
            stored = version.model_copy(update={"version": label})
            values = stored.model_dump(mode="json", include=set(_VERSION_COLUMNS))
            values["created_at"] = stored.created_at
            conn.execute(insert(_VERSIONS).values(**values))
        return stored

    def _version_count(self, conn: Connection, name: str) -> int:
        return conn.execute(select(func.count()).select_from(_VERSIONS).where(_VERSIONS.c.name == name)).scalar_one()

    def model_versions(self, *, kind: str | None = None, name: str | None = None,
                       path: str | None = None) -> list[ModelVersion]:
        """Recorded versions, oldest first, optionally of one kind, name or folder."""
        query = select(*(_VERSIONS.c[c] for c in _VERSION_COLUMNS)).order_by(_VERSIONS.c.id)
        for column, value in (("kind", kind), ("name", name), ("path", path)):
            if value is not None:
                query = query.where(_VERSIONS.c[column] == value)
        with self.transaction() as conn:
            rows = conn.execute(query).all()
        return [ModelVersion(**{k: v for k, v in r._asdict().items() if v is not None}) for r in rows]

    def set_model_gate(self, path: str, gate: dict[str, Any]) -> int:
        """Attach a gate result to the newest version recorded for a model folder; returns rows updated."""
        with self.transaction() as conn:
            newest = select(func.max(_VERSIONS.c.id)).where(_VERSIONS.c.path == path).scalar_subquery()
            return conn.execute(update(_VERSIONS).where(_VERSIONS.c.id == newest).values(gate=gate)).rowcount
