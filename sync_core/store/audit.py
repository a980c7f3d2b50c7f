"""The audit trail: one row per HTTP call to QuickBooks, linked to the MIS records it was about.

What is kept: when, which operation, which records, the requestid, the HTTP status, QuickBooks'
error code and message, the ``intuit_tid`` Intuit support asks for, duration and attempt number.
What is never kept: tokens, secrets, headers or payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync_core.domain.clock import utcnow
from sync_core.domain.kinds import RecordRef
from sync_core.quickbooks.ports import AuditEntry
from sync_core.store.tables import audit_log, audit_records


def _clip(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, entry: AuditEntry) -> int:
        with self.engine.begin() as conn:
            inserted = conn.execute(
                audit_log.insert().values(
                    at=entry.at,
                    run_id=entry.run_id,
                    operation=entry.operation,
                    record_count=len(entry.records),
                    requestid=_clip(entry.requestid, 50),
                    http_status=entry.http_status,
                    error_code=_clip(entry.error_code, 20),
                    error_message=_clip(entry.error_message, 2000),
                    intuit_tid=_clip(entry.intuit_tid, 100),
                    duration_ms=entry.duration_ms,
                    attempts=entry.attempt,
                )
            ).inserted_primary_key
            assert inserted is not None
            audit_id = inserted[0]
            refs = {(r.kind, r.row_id) for r in entry.records}
            if refs:
                conn.execute(
                    audit_records.insert(),
                    [{"audit_id": audit_id, "kind": k, "row_id": r} for k, r in sorted(refs)],
                )
        return int(audit_id)

    def record_action(
        self,
        operation: str,
        records: Sequence[RecordRef],
        actor: str,
        detail: str,
        run_id: int | None = None,
    ) -> int:
        """An operator's action that is no QuickBooks call (a reconciliation's link or re-push):
        who did it and what changed, in the same trail as the calls. ``detail`` names records
        and customers by their ids only."""
        with self.engine.begin() as conn:
            inserted = conn.execute(
                audit_log.insert().values(
                    at=utcnow(),
                    run_id=run_id,
                    operation=operation[:40],
                    record_count=len(records),
                    actor=_clip(actor, 200),
                    detail=_clip(detail, 4000),
                )
            ).inserted_primary_key
            assert inserted is not None
            audit_id = inserted[0]
            refs = {(r.kind, r.row_id) for r in records}
            if refs:
                conn.execute(
                    audit_records.insert(),
                    [{"audit_id": audit_id, "kind": k, "row_id": r} for k, r in sorted(refs)],
                )
        return int(audit_id)

    def trail(self, kind: str, row_id: int, limit: int = 50) -> list[dict[str, Any]]:
        """The calls made about one MIS record, newest first."""
        stmt = (
            sa.select(audit_log)
            .join(audit_records, audit_records.c.audit_id == audit_log.c.id)
            .where(audit_records.c.kind == kind, audit_records.c.row_id == row_id)
            .order_by(audit_log.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def recent(self, limit: int = 100, run_id: int | None = None) -> list[dict[str, Any]]:
        stmt = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if run_id is not None:
            stmt = stmt.where(audit_log.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]
