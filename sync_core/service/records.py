"""One record at a time: find it, see everything about it, push it alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sync_core.domain.kinds import APPLICANT, KINDS, STUDENT, RecordKind
from sync_core.domain.mapping import MappedCustomer
from sync_core.mis.reader import SourceRecord, fetch_records, find_row_id
from sync_core.mis.tables import STATUS_LABELS, STATUS_SYNCED
from sync_core.sync.write_back import record_state

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class RecordMatch:
    kind: str
    row_id: int
    identity: str
    name: str
    email: str
    tracking_id: str
    status: int

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, str(self.status))


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _name_columns(kind: RecordKind) -> tuple[sa.Column, sa.Column]:
    c = kind.table.c
    return (c.first_name, c.family_name) if kind is APPLICANT else (c.fname, c.lname)


def search_records(conn: sa.Connection, text: str, limit: int = SEARCH_LIMIT) -> list[RecordMatch]:
    """Records whose name, ApplicationID, RegNo, tracking id or e-mail matches ``text``."""
    text = " ".join(text.split())
    if not text:
        return []
    pattern = _like(text)
    matches: list[RecordMatch] = []
    for kind in (APPLICANT, STUDENT):
        c = kind.table.c
        first, last = _name_columns(kind)
        full_name = sa.func.coalesce(first, "") + " " + sa.func.coalesce(last, "")
        conditions = [
            full_name.like(pattern, escape="\\"),
            c.email1.like(pattern, escape="\\"),
        ]
        if kind is APPLICANT:
            conditions.append(c.tracking_id == text)
            if text.isdigit():
                conditions.append(c.appl_Id == int(text))
        else:
            conditions.append(c.reg_no.like(pattern, escape="\\"))
        tracking = c.tracking_id if kind is APPLICANT else sa.literal("")
        stmt = (
            sa.select(
                kind.row_id,
                kind.identity,
                first,
                last,
                c.email1,
                tracking.label("tracking"),
                kind.status,
            )
            .where(sa.or_(*conditions))
            .order_by(kind.row_id)
            .limit(limit)
        )
        for row in conn.execute(stmt):
            matches.append(
                RecordMatch(
                    kind=kind.name,
                    row_id=int(row[0]),
                    identity="" if row[1] is None else str(row[1]),
                    name=" ".join(p for p in (row[2], row[3]) if p and str(p).strip()),
                    email=row[4] or "",
                    tracking_id=row[5] or "",
                    status=0 if row[6] is None else int(row[6]),
                )
            )
    return matches[:limit]


@dataclass(frozen=True)
class RecordDetail:
    kind: RecordKind
    source: SourceRecord
    mapped: MappedCustomer
    state: dict[str, Any] | None  # attempts, last error, name sent, ...
    audit: list[dict[str, Any]]
    run_errors: list[dict[str, Any]]

    @property
    def status(self) -> int:
        return self.source.status

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, str(self.status))

    @property
    def is_synced(self) -> bool:
        return self.status == STATUS_SYNCED

    @property
    def last_error(self) -> str | None:
        if not self.state or not self.state.get("error_message"):
            return None
        code = self.state.get("error_code")
        return f"{self.state['error_message']}" + (f" (code {code})" if code else "")


def record_detail(context, kind: RecordKind | str, row_id: int) -> RecordDetail | None:
    kind = KINDS[kind] if isinstance(kind, str) else kind
    with context.engine.connect() as conn:
        page = fetch_records(conn, kind, row_ids=[row_id])
        if not page.records:
            return None
        state = record_state(conn, kind, row_id)
    return RecordDetail(
        kind=kind,
        source=page.records[0],
        mapped=page.mapped(context.mapping_options)[0],
        state=state,
        audit=context.audit.trail(kind.name, row_id),
        run_errors=context.history.errors_of_record(kind.name, row_id),
    )


def find_record(context, kind: RecordKind | str, identity: str) -> RecordDetail | None:
    """By ApplicationID (applicants) or RegNo (students)."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
    with context.engine.connect() as conn:
        row_id = find_row_id(conn, kind, identity)
    return None if row_id is None else record_detail(context, kind, row_id)


@dataclass(frozen=True)
class PushOutcome:
    status: str  # "synced" / "failed" / "already synced" / "not found"
    message: str
    qk_id: str | None = None
    run_id: int | None = None
    detail: RecordDetail | None = None


def push_record(context, kind: RecordKind | str, row_id: int, operator: str) -> PushOutcome:
    """Push one record now, through the same engine as a full run (a run of one record).

    A synced record is left alone: pushing it again could only risk a second customer.
    Raises SyncAlreadyRunning when a sync of the company is running.
    """
    from sync_core.sync.engine import SyncRequest

    kind = KINDS[kind] if isinstance(kind, str) else kind
    detail = record_detail(context, kind, row_id)
    if detail is None:
        return PushOutcome("not found", f"No {kind.name} with row id {row_id} in the MIS")
    if detail.is_synced:
        return PushOutcome(
            "already synced",
            f"Already in QuickBooks as customer {detail.source.qk_id}: nothing to push.",
            qk_id=detail.source.qk_id,
            detail=detail,
        )
    request = SyncRequest(
        scope="record", operator=operator, batch_size=1, records=((kind.name, row_id),)
    )
    result = context.sync_engine().run(request)
    after = record_detail(context, kind, row_id)
    assert after is not None
    if after.is_synced:
        name = (after.state or {}).get("sent_display_name") or after.mapped.display_name
        return PushOutcome(
            "synced",
            f"Synced as QuickBooks customer {after.source.qk_id} ({name}).",
            qk_id=after.source.qk_id,
            run_id=result.run.id,
            detail=after,
        )
    return PushOutcome(
        "failed",
        after.last_error or result.run.message or "The record could not be synced.",
        run_id=result.run.id,
        detail=after,
    )
