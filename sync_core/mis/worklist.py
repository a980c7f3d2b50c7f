"""The worklist's SQL: records of one kind by status, campus and intake, a page at a time.

Pages are keyset pages (after the last row's sort value and row id), so they stay cheap and put
however deep an operator pages, and never skip or repeat a record when rows change between two
pages. The filters use the MIS as inspected (:mod:`sync_core.mis.schema`): a filter on a column
the MIS lacks matches nobody. A student's campus and intake are those of their registrations
(``tbl_register_program_ug``): a student matches when any of their registrations does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, RecordKind
from sync_core.domain.lookups import LOOKUPS, integer_key
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import CustomerTable, MisSchema
from sync_core.mis.search import NAME_COLUMNS
from sync_core.mis.tracking import status_filter


class WorkStatus(StrEnum):
    """The worklist's status filter: what the Overview counts, as an operator says it."""

    FAILED = "failed"  # failed now (2), within the sync scope
    NOT_SYNCED = "not synced"  # 0 or NULL, within the sync scope
    IN_PROGRESS = "in progress"  # 3
    SYNCED = "synced"  # 1
    OUT_OF_SCOPE = "outside the sync scope"  # waiting (0, 2, NULL) but never synced

    @classmethod
    def named(cls, text: str) -> WorkStatus:
        wanted = text.strip().lower().replace("_", " ")
        for status in cls:
            if wanted in (status.value, status.name.lower().replace("_", " ")):
                return status
        raise ValueError(f"status must be one of {', '.join(s.value for s in cls)}")


class SortKey(StrEnum):
    ROW = "row"  # the MIS row id
    NAME = "name"  # first name then family name, spaces around them trimmed


@dataclass(frozen=True)
class RowFilter:
    statuses: tuple[WorkStatus, ...] = ()  # none: every status
    campus: int | None = None  # tbl_campus.camp_id
    intake: int | None = None  # tbl_intake.intake_id


@dataclass(frozen=True)
class Position:
    """Where a page ends: its last row's sort value and row id (the next page starts after)."""

    sort_value: Any
    row_id: int


@dataclass(frozen=True)
class WorkRow:
    row_id: int
    status: SyncStatus
    position: Position


def _waiting(table: CustomerTable) -> sa.ColumnElement[bool]:
    return sa.or_(
        table.status.in_([int(SyncStatus.NOT_SYNCED), int(SyncStatus.FAILED)]),
        table.status.is_(None),
    )


def status_condition(table: CustomerTable, status: WorkStatus) -> sa.ColumnElement[bool]:
    if status is WorkStatus.FAILED:
        return status_filter(table, [SyncStatus.FAILED])
    if status is WorkStatus.NOT_SYNCED:
        return status_filter(table, [SyncStatus.NOT_SYNCED])
    if status is WorkStatus.IN_PROGRESS:
        return table.status == int(SyncStatus.IN_PROGRESS)
    if status is WorkStatus.SYNCED:
        return table.status == int(SyncStatus.SYNCED)
    if table.in_scope is None:
        return sa.false()
    return sa.and_(_waiting(table), sa.not_(table.in_scope))


def _id_equals(column: sa.ColumnElement[Any], value: int) -> sa.ColumnElement[bool]:
    """MIS id columns are often text ('12', ' 12'): compared as the number they hold."""
    return sa.cast(sa.func.trim(sa.cast(column, sa.String(50))), sa.Integer) == value


def _lookup_condition(
    schema: MisSchema, table: CustomerTable, column: str, value: int
) -> sa.ColumnElement[bool]:
    if table.kind is APPLICANT:
        return _id_equals(table.table.c[column], value) if table.has(column) else sa.false()
    reg = schema.registrations
    if reg is None or column not in reg.c:
        return sa.false()
    return sa.exists().where(reg.c.reg_no == table.identity, _id_equals(reg.c[column], value))


def row_condition(
    schema: MisSchema, kind: RecordKind, rows: RowFilter
) -> sa.ColumnElement[bool] | None:
    table = schema.customers(kind)
    conditions: list[sa.ColumnElement[bool]] = []
    if rows.statuses:
        conditions.append(sa.or_(*(status_condition(table, s) for s in rows.statuses)))
    if rows.campus is not None:
        conditions.append(_lookup_condition(schema, table, "camp_id", rows.campus))
    if rows.intake is not None:
        conditions.append(_lookup_condition(schema, table, "intake_id", rows.intake))
    return sa.and_(*conditions) if conditions else None


def sort_column(table: CustomerTable, sort: SortKey) -> sa.ColumnElement[Any]:
    if sort is SortKey.ROW:
        return table.row_id
    first, last = (
        sa.func.trim(sa.func.coalesce(table.table.c[n], "")) for n in NAME_COLUMNS[table.kind.name]
    )
    return sa.func.trim(first + " " + last)  # as the name reads: "John Doe", "Mugisha"


def _after(
    table: CustomerTable, sort: SortKey, descending: bool, after: Position
) -> sa.ColumnElement[bool]:
    if sort is SortKey.ROW:
        return table.row_id < after.row_id if descending else table.row_id > after.row_id
    value = sort_column(table, sort)
    same = value == after.sort_value
    if descending:
        return sa.or_(value < after.sort_value, sa.and_(same, table.row_id < after.row_id))
    return sa.or_(value > after.sort_value, sa.and_(same, table.row_id > after.row_id))


def page_rows(
    conn: Connection,
    schema: MisSchema,
    kind: RecordKind,
    rows: RowFilter,
    *,
    limit: int,
    after: Position | None = None,
    sort: SortKey = SortKey.ROW,
    descending: bool = False,
) -> list[WorkRow]:
    """Up to ``limit`` records of ``kind`` matching ``rows``, after ``after`` in sort order."""
    table = schema.customers(kind)
    value = sort_column(table, sort).label("sort_value")
    order = [value.desc(), table.row_id.desc()] if descending else [value, table.row_id]
    if sort is SortKey.ROW:
        order = order[1:]
    stmt = sa.select(table.row_id, table.status, value).order_by(*order).limit(limit)
    condition = row_condition(schema, kind, rows)
    if condition is not None:
        stmt = stmt.where(condition)
    if after is not None:
        stmt = stmt.where(_after(table, sort, descending, after))
    return [
        WorkRow(int(r[0]), SyncStatus.of(r[1]), Position(r[2], int(r[0])))
        for r in conn.execute(stmt)
    ]


def count_rows(conn: Connection, schema: MisSchema, kind: RecordKind, rows: RowFilter) -> int:
    table = schema.customers(kind)
    stmt = sa.select(sa.func.count()).select_from(table.table)
    condition = row_condition(schema, kind, rows)
    if condition is not None:
        stmt = stmt.where(condition)
    return int(conn.execute(stmt).scalar_one())


def lookup_choices(conn: Connection, schema: MisSchema, lookup: str) -> list[tuple[int, str]]:
    """(id, readable name) of every row of a lookup table (campuses, intakes), by name; none
    when the MIS has no such table."""
    table = schema.lookups.get(lookup)
    if table is None:
        return []
    spec = LOOKUPS[lookup]
    choices = []
    for row in conn.execute(sa.select(*(c.label(c.key) for c in table.c))).mappings():
        key = integer_key(row[spec.key])
        if key is not None:
            choices.append((key, spec.readable(dict(row)) or str(key)))
    return sorted(choices, key=lambda c: (c[1].lower(), c[0]))
