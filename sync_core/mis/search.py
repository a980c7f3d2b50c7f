"""Find MIS records by what an operator types: a name, ApplicationID, RegNo, tracking id or
e-mail."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core import defaults
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import CustomerTable, MisSchema

NAME_COLUMNS = {APPLICANT.name: ("first_name", "family_name"), STUDENT.name: ("fname", "lname")}


@dataclass(frozen=True)
class RecordMatch:
    kind: str
    row_id: int
    identity: str
    name: str
    email: str
    tracking_id: str
    status: SyncStatus

    @property
    def status_label(self) -> str:
        return self.status.label


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _optional(table: CustomerTable, key: str) -> sa.ColumnElement[str]:
    return table.table.c[key] if table.has(key) else sa.literal("")


def search_records(
    conn: Connection, schema: MisSchema, text: str, limit: int = defaults.SEARCH_LIMIT
) -> list[RecordMatch]:
    """Records whose name, ApplicationID, RegNo, tracking id or e-mail matches ``text``."""
    text = " ".join(text.split())
    if not text:
        return []
    pattern = _like(text)
    matches: list[RecordMatch] = []
    for kind in (APPLICANT, STUDENT):
        table = schema.customers(kind)
        c = table.table.c
        first, last = (c[n] for n in NAME_COLUMNS[kind.name])
        email = _optional(table, "email1")
        full_name = sa.func.coalesce(first, "") + " " + sa.func.coalesce(last, "")
        conditions: list[sa.ColumnElement[bool]] = [full_name.like(pattern, escape="\\")]
        if table.has("email1"):
            conditions.append(c.email1.like(pattern, escape="\\"))
        if kind is APPLICANT:
            if table.has("tracking_id"):
                conditions.append(c.tracking_id == text)
            if text.isdigit():
                conditions.append(table.identity == int(text))
        else:
            conditions.append(table.identity.like(pattern, escape="\\"))
        tracking = _optional(table, "tracking_id") if kind is APPLICANT else sa.literal("")
        stmt = (
            sa.select(table.row_id, table.identity, first, last, email, tracking, table.status)
            .where(sa.or_(*conditions))
            .order_by(table.row_id)
            .limit(limit)
        )
        for row in conn.execute(stmt):
            matches.append(
                RecordMatch(
                    kind=kind.name,
                    row_id=int(row[0]),
                    identity="" if row[1] is None else str(row[1]),
                    name=" ".join(str(p).strip() for p in (row[2], row[3]) if p and str(p).strip()),
                    email=str(row[4] or ""),
                    tracking_id=str(row[5] or ""),
                    status=SyncStatus.of(row[6]),
                )
            )
    return matches[:limit]
