"""The MIS's link between an applicant and the student they became: the applicant's
``tbl_online_application.reg_no`` equals the student's ``tbl_personal_ug.reg_no``.

Read a page at a time (one query per page of records, whatever its size), and as the list of
pairs the dashboard shows. Where the applicants table has no ``reg_no`` column there is no link.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.lookups import normalise_id
from sync_core.domain.mapping import ENROLMENT
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import CustomerTable, MisSchema
from sync_core.mis.tracking import status_filter, without_quickbooks_id

REG_NO = "reg_no"


@dataclass(frozen=True)
class Counterpart:
    """The other record of an applicant-student pair, as much as the link needs."""

    row_id: int
    identity: str  # its ApplicationID (an applicant) or RegNo (a student)
    status: int  # QuickBk_Status (NULL: 0)
    qk_id: str | None  # the QuickBooks Id the MIS holds for it
    in_scope: bool  # within the office's sync scope (a waiting record outside it never syncs)

    @property
    def pending(self) -> bool:
        """Will be synced by a run of its kind: waiting (not failed) or in flight, in scope."""
        if self.qk_id:
            return False
        status = SyncStatus.of(self.status)
        if status is SyncStatus.IN_PROGRESS:
            return True
        return status is SyncStatus.NOT_SYNCED and self.in_scope

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def has_link(schema: MisSchema) -> bool:
    return schema.applicants.has(REG_NO)


def _link_column(table: CustomerTable) -> sa.Column[Any]:
    return table.table.c[REG_NO] if table.kind is APPLICANT else table.identity


def _qk_id(raw: Any) -> str | None:
    text = "" if raw is None else str(raw).strip()
    return None if text in ("", "0") else text


def counterparts(
    conn: Connection, schema: MisSchema, of: RecordKind, reg_nos: Iterable[Any]
) -> dict[str, list[Counterpart]]:
    """For records of kind ``of`` with these RegNos: the records of the other kind carrying
    the same RegNo, by RegNo (blank RegNos link nothing). One query."""
    wanted = sorted({normalise_id(r) for r in reg_nos if r is not None} - {""})
    if not wanted or not has_link(schema):
        return {}
    other = schema.customers(STUDENT if of is APPLICANT else APPLICANT)
    link = _link_column(other)
    in_scope = (
        sa.case((other.in_scope, 1), else_=0) if other.in_scope is not None else sa.literal(1)
    )
    stmt = sa.select(
        other.row_id, other.identity, other.status, other.quickbooks_id, link, in_scope
    ).where(link.in_(wanted))
    found: dict[str, list[Counterpart]] = {}
    for row_id, identity, status, qk_id, reg_no, scoped in conn.execute(stmt):
        key = normalise_id(reg_no)
        found.setdefault(key, []).append(
            Counterpart(
                int(row_id),
                normalise_id(identity),
                int(SyncStatus.of(status)),
                _qk_id(qk_id),
                bool(scoped),
            )
        )
    return found


def attach(
    conn: Connection, schema: MisSchema, kind: RecordKind, rows: list[dict[str, Any]]
) -> None:
    """Put each row's counterparts under ``row["enrolment"]`` (``{"students": [...]}`` on an
    applicant, ``{"applicants": [...]}`` on a student), for the mapping and the pages."""
    if not has_link(schema) or not rows:
        return
    key = "students" if kind is APPLICANT else "applicants"
    found = counterparts(conn, schema, kind, (row.get(REG_NO) for row in rows))
    for row in rows:
        others = found.get(normalise_id(row.get(REG_NO)), []) if row.get(REG_NO) else []
        if others:
            row[ENROLMENT] = {key: [c.as_row() for c in others]}


@dataclass(frozen=True)
class Pair:
    """An applicant and the student they became, as the MIS has them."""

    reg_no: str
    applicant_row_id: int
    application_id: str
    applicant_status: int
    applicant_qk_id: str | None
    student_row_id: int
    student_status: int
    student_qk_id: str | None


def _pairs_statement(schema: MisSchema) -> sa.Select[Any]:
    a, s = schema.applicants, schema.students
    return (
        sa.select(
            s.identity.label("reg_no"),
            a.row_id.label("a_row"),
            a.identity.label("a_identity"),
            a.status.label("a_status"),
            a.quickbooks_id.label("a_qk"),
            s.row_id.label("s_row"),
            s.status.label("s_status"),
            s.quickbooks_id.label("s_qk"),
        )
        .select_from(a.table.join(s.table, a.table.c[REG_NO] == s.identity))
        .where(sa.func.trim(sa.func.coalesce(a.table.c[REG_NO], "")) != "")
    )


def pairs(conn: Connection, schema: MisSchema, *, limit: int, offset: int = 0) -> list[Pair]:
    """Applicant-student pairs in applicant order, a page at a time."""
    if not has_link(schema):
        return []
    stmt = (
        _pairs_statement(schema)
        .order_by(schema.applicants.row_id, schema.students.row_id)
        .limit(limit)
        .offset(offset)
    )
    return [
        Pair(
            reg_no=normalise_id(r.reg_no),
            applicant_row_id=int(r.a_row),
            application_id=normalise_id(r.a_identity),
            applicant_status=int(SyncStatus.of(r.a_status)),
            applicant_qk_id=_qk_id(r.a_qk),
            student_row_id=int(r.s_row),
            student_status=int(SyncStatus.of(r.s_status)),
            student_qk_id=_qk_id(r.s_qk),
        )
        for r in conn.execute(stmt)
    ]


def count_pairs(conn: Connection, schema: MisSchema) -> int:
    if not has_link(schema):
        return 0
    inner = _pairs_statement(schema).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())


def waiting_continuations(
    conn: Connection,
    schema: MisSchema,
    kind: RecordKind,
    statuses: Iterable[int],
    row_ids: Iterable[int] | None = None,
) -> list[tuple[int, Counterpart]]:
    """Records of ``kind`` at one of ``statuses`` (and without an Id of their own) whose
    counterpart has a QuickBooks Id, or will have one (pending): (row id, counterpart), in row
    order. With SYNC_STUDENT_CUSTOMER=continue, those are linked to their counterpart's
    customer instead of being created on their own."""
    if not has_link(schema):
        return []
    table = schema.customers(kind)
    other = schema.customers(STUDENT if kind is APPLICANT else APPLICANT)
    in_scope = (
        sa.case((other.in_scope, 1), else_=0) if other.in_scope is not None else sa.literal(1)
    )
    stmt = (
        sa.select(
            table.row_id,
            other.row_id,
            other.identity,
            other.status,
            other.quickbooks_id,
            in_scope,
        )
        .select_from(table.table.join(other.table, _link_column(table) == _link_column(other)))
        .where(
            status_filter(table, statuses),
            without_quickbooks_id(table),
            sa.func.trim(sa.func.coalesce(_link_column(table), "")) != "",
        )
        .order_by(table.row_id)
    )
    if row_ids is not None:
        stmt = stmt.where(table.row_id.in_(sorted(set(row_ids))))
    found: dict[int, list[Counterpart]] = {}
    for row_id, o_row, o_identity, o_status, o_qk, scoped in conn.execute(stmt):
        found.setdefault(int(row_id), []).append(
            Counterpart(
                int(o_row),
                normalise_id(o_identity),
                int(SyncStatus.of(o_status)),
                _qk_id(o_qk),
                bool(scoped),
            )
        )
    # a RegNo several records of the other kind carry links nobody (a data error)
    return [(row_id, others[0]) for row_id, others in found.items() if len(others) == 1]


__all__ = [
    "Counterpart",
    "Pair",
    "attach",
    "count_pairs",
    "counterparts",
    "has_link",
    "pairs",
    "waiting_continuations",
]
