"""Read applicants and students from the MIS, a page at a time, ready for mapping.

A page costs a constant number of queries whatever its size: the customer rows, (for students)
their latest registrations, and one query per lookup table (:mod:`sync_core.mis.lookups`).
Rows carry the canonical column names (:mod:`sync_core.mis.schema`), whatever the MIS calls them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, RecordKind
from sync_core.domain.lookups import normalise_id
from sync_core.domain.records import RecordPage, SourceRecord
from sync_core.mis.duplicates import shared_identities
from sync_core.mis.enrolment import attach as attach_enrolment
from sync_core.mis.lookups import load_lookups
from sync_core.mis.schema import MisSchema
from sync_core.mis.tracking import status_filter

# which row values feed which lookup, per kind (students' come from the registration)
APPLICANT_LOOKUP_COLUMNS = {
    "country": "country_of_birth",
    "campus": "camp_id",
    "intake": "intake_id",
    "program": "opt_1",
    "program_mode": "prg_mode_id",
}
STUDENT_LOOKUP_COLUMNS = {
    "level": "level_id",
    "campus": "camp_id",
    "intake": "intake_id",
    "program": "splz_id",
    "program_mode": "prg_mode_id",
}


def latest_registrations(
    conn: Connection, schema: MisSchema, reg_nos: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The registration sync uses per student: active first, then newest reg_date, reg_prg_id.

    With window functions, one ranked query; without (MySQL 5.7), the page's registrations are
    read and the latest picked here: the same answer, a little more data over the wire.
    """
    reg = schema.registrations
    wanted = sorted({r for r in reg_nos if r is not None})
    if reg is None or not wanted:
        return {}
    columns = [c.label(c.key) for c in reg.c]
    if not schema.features.window_functions:
        rows = conn.execute(sa.select(*columns).where(reg.c.reg_no.in_(wanted))).mappings()
        latest: dict[str, dict[str, Any]] = {}
        for found in rows:
            row = dict(found)
            current = latest.get(row["reg_no"])
            if current is None or _registration_rank(row) > _registration_rank(current):
                latest[row["reg_no"]] = row
        return latest
    order: list[sa.ColumnElement[Any]] = []
    if "reg_active" in reg.c:
        order.append(sa.case((reg.c.reg_active == 1, 0), else_=1))
    if "reg_date" in reg.c:
        order.append(reg.c.reg_date.desc())
    order.append(reg.c.reg_prg_id.desc())
    ranked = (
        sa.select(
            *columns,
            sa.func.row_number().over(partition_by=reg.c.reg_no, order_by=order).label("rank"),
        )
        .where(reg.c.reg_no.in_(wanted))
        .subquery()
    )
    stmt = sa.select(*(ranked.c[c.key] for c in reg.c)).where(ranked.c.rank == 1)
    return {row["reg_no"]: dict(row) for row in conn.execute(stmt).mappings()}


def _registration_rank(row: Mapping[str, Any]) -> tuple[bool, dt.datetime, int]:
    """What "latest" means, as a sort key: active, then reg_date (NULL oldest), then reg_prg_id
    (the same order as the window function's)."""
    date = row.get("reg_date")
    return (
        row.get("reg_active") == 1,
        date if isinstance(date, dt.datetime) else dt.datetime.min,
        int(row["reg_prg_id"]),
    )


def _lookups_for(kind: RecordKind, rows: Sequence[dict[str, Any]]) -> dict[str, set[Any]]:
    wanted: dict[str, set[Any]] = {}
    if kind is APPLICANT:
        for lookup, column in APPLICANT_LOOKUP_COLUMNS.items():
            wanted[lookup] = {row.get(column) for row in rows}
    else:
        for lookup, column in STUDENT_LOOKUP_COLUMNS.items():
            wanted[lookup] = {(row.get("registration") or {}).get(column) for row in rows}
        wanted["program_type"] = {row.get("prg_type") for row in rows}
    return wanted


def fetch_records(
    conn: Connection,
    schema: MisSchema,
    kind: RecordKind,
    *,
    statuses: Iterable[int] | None = None,
    row_ids: Iterable[int] | None = None,
    limit: int | None = None,
    offset: int = 0,
    after: int | None = None,
    before: int | None = None,
    from_end: bool = False,
    enrolment: bool = True,
) -> RecordPage:
    """Records of ``kind`` in row-id order, filtered by status and/or row ids, enriched (with
    the applicant-student link too, unless ``enrolment`` is False).

    Keyset pages: ``after`` / ``before`` a row id (the rows nearest to it), ``from_end`` the
    last ``limit`` rows; each costs the same at any depth (the primary key's order), where an
    ``offset`` reads and drops every row before the page.
    """
    table = schema.customers(kind)
    backwards = before is not None or from_end
    order = table.row_id.desc() if backwards else table.row_id
    if limit is not None and row_ids is None and conn.dialect.name == "sqlite":
        # SQLite filters a page by the status index and sorts what matches by row id: whole
        # rows, every matching row read (100+ ms at 100,000). So its row ids first (the index
        # holds status and row id: no row read), then those rows. MariaDB walks the primary key
        # in order and stops at the limit: one query (two would make it choose the sort).
        ids = sa.select(table.row_id).order_by(order).limit(limit)
        if statuses is not None:
            ids = ids.where(status_filter(table, statuses))
        if after is not None:
            ids = ids.where(table.row_id > after)
        if before is not None:
            ids = ids.where(table.row_id < before)
        if offset:
            ids = ids.offset(offset)
        row_ids = [int(r) for r in conn.execute(ids).scalars()]
        statuses = after = before = limit = None
    stmt = sa.select(*table.select_columns()).order_by(order)
    if statuses is not None:
        stmt = stmt.where(status_filter(table, statuses))
    if row_ids is not None:
        stmt = stmt.where(table.row_id.in_(sorted(set(row_ids))))
    if after is not None:
        stmt = stmt.where(table.row_id > after)
    if before is not None:
        stmt = stmt.where(table.row_id < before)
    if limit is not None:
        stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
    rows = [dict(r) for r in conn.execute(stmt).mappings()] if row_ids != [] else []
    if backwards:
        rows.reverse()
    if kind is not APPLICANT:
        registrations = latest_registrations(conn, schema, (r["reg_no"] for r in rows))
        for row in rows:
            row["registration"] = registrations.get(row["reg_no"])
    if enrolment:
        attach_enrolment(conn, schema, kind, rows)
    lookups = load_lookups(conn, schema, _lookups_for(kind, rows))
    records = [
        SourceRecord(
            kind=kind.name,
            row_id=int(row[table.spec.key]),
            identity=normalise_id(row[table.spec.identity]),
            row=row,
        )
        for row in rows
    ]
    shared = shared_identities(conn, schema, kind, rows)
    return RecordPage(kind=kind, records=records, lookups=lookups, unsendable=shared)


def find_row_id(conn: Connection, schema: MisSchema, kind: RecordKind, identity: str) -> int | None:
    """The row id of the record whose ApplicationID / RegNo is ``identity``."""
    table = schema.customers(kind)
    identity = identity.strip()
    if kind is APPLICANT and not identity.isdigit():
        return None
    value: Any = int(identity) if kind is APPLICANT else identity
    stmt = sa.select(table.row_id).where(table.identity == value).order_by(table.row_id).limit(1)
    found = conn.execute(stmt).scalar_one_or_none()
    return None if found is None else int(found)
