"""Read applicants and students from the MIS, a page at a time, ready for mapping.

A page costs a constant number of queries whatever its size: the customer rows, (for students)
their latest registrations, and one query per lookup table (:mod:`sync_core.domain.lookups`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.lookups import Lookups, load_lookups, normalise_id
from sync_core.domain.mapping import MappedCustomer, MappingOptions, map_record
from sync_core.mis import tables as mis_tables
from sync_core.mis.tables import STATUS_NOT_SYNCED

REGISTRATION_COLUMNS = (
    "reg_prg_id",
    "intake_id",
    "prg_id",
    "splz_id",
    "level_id",
    "prg_mode_id",
    "prg_type",
    "camp_id",
    "reg_date",
    "reg_active",
)

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


@dataclass(frozen=True)
class SourceRecord:
    kind: str
    row_id: int
    identity: str
    row: dict[str, Any]  # the MIS row as read; students carry "registration" (or None)

    @property
    def status(self) -> int:
        status = self.row.get("QuickBk_Status")
        return STATUS_NOT_SYNCED if status is None else int(status)

    @property
    def qk_id(self) -> str | None:
        return self.row.get("qk_id")

    @property
    def pushed_by(self) -> str | None:
        return self.row.get("pushed_by")

    @property
    def pushed_date(self) -> dt.datetime | None:
        return self.row.get("pushed_date")


@dataclass(frozen=True)
class RecordPage:
    kind: RecordKind
    records: list[SourceRecord]
    lookups: Lookups = field(default_factory=Lookups)

    def mapped(self, options: MappingOptions | None = None) -> list[MappedCustomer]:
        return [map_record(self.kind, r.row, self.lookups, options) for r in self.records]


def status_filter(kind: RecordKind, statuses: Iterable[int]) -> sa.ColumnElement[bool]:
    """``QuickBk_Status IN (...)``; rows the migration found with NULL count as not synced."""
    wanted = sorted(set(statuses))
    condition = kind.status.in_(wanted)
    if STATUS_NOT_SYNCED in wanted:
        condition = sa.or_(condition, kind.status.is_(None))
    return condition


def latest_registrations(conn: Connection, reg_nos: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The registration sync uses per student: active first, then newest reg_date, reg_prg_id."""
    wanted = sorted({r for r in reg_nos if r is not None})
    if not wanted:
        return {}
    reg = mis_tables.registrations
    ranked = (
        sa.select(
            reg.c.reg_no,
            *(reg.c[c] for c in REGISTRATION_COLUMNS),
            sa.func.row_number()
            .over(
                partition_by=reg.c.reg_no,
                order_by=(
                    sa.case((reg.c.reg_active == 1, 0), else_=1),
                    reg.c.reg_date.desc(),
                    reg.c.reg_prg_id.desc(),
                ),
            )
            .label("rank"),
        )
        .where(reg.c.reg_no.in_(wanted))
        .subquery()
    )
    stmt = sa.select(*(ranked.c[c] for c in ("reg_no", *REGISTRATION_COLUMNS))).where(
        ranked.c.rank == 1
    )
    return {row["reg_no"]: dict(row) for row in conn.execute(stmt).mappings()}


def _lookups_for(kind: RecordKind, rows: Sequence[dict[str, Any]]) -> dict[str, set[Any]]:
    wanted: dict[str, set[Any]] = {}
    if kind is APPLICANT:
        for lookup, column in APPLICANT_LOOKUP_COLUMNS.items():
            wanted[lookup] = {row.get(column) for row in rows}
    else:
        for lookup, column in STUDENT_LOOKUP_COLUMNS.items():
            wanted[lookup] = {(row.get("registration") or {}).get(column) for row in rows}
    return wanted


def fetch_records(
    conn: Connection,
    kind: RecordKind,
    *,
    statuses: Iterable[int] | None = None,
    row_ids: Iterable[int] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> RecordPage:
    """Records of ``kind`` in row-id order, filtered by status and/or row ids, enriched."""
    stmt = sa.select(kind.table).order_by(kind.row_id)
    if statuses is not None:
        stmt = stmt.where(status_filter(kind, statuses))
    if row_ids is not None:
        stmt = stmt.where(kind.row_id.in_(sorted(set(row_ids))))
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    if kind is STUDENT:
        registrations = latest_registrations(conn, (r["reg_no"] for r in rows))
        for row in rows:
            row["registration"] = registrations.get(row["reg_no"])
    lookups = load_lookups(conn, _lookups_for(kind, rows))
    records = [
        SourceRecord(
            kind=kind.name,
            row_id=int(row[kind.row_id_column]),
            identity=normalise_id(row[kind.identity_column]),
            row=row,
        )
        for row in rows
    ]
    return RecordPage(kind=kind, records=records, lookups=lookups)


def count_records(conn: Connection, kind: RecordKind, statuses: Iterable[int]) -> int:
    stmt = sa.select(sa.func.count()).select_from(kind.table).where(status_filter(kind, statuses))
    return int(conn.execute(stmt).scalar_one())


def find_row_id(conn: Connection, kind: RecordKind, identity: str) -> int | None:
    """The row id of the record whose ApplicationID / RegNo is ``identity``."""
    identity = identity.strip()
    if kind is APPLICANT:
        if not identity.isdigit():
            return None
        condition = kind.identity == int(identity)
    else:
        condition = kind.identity == identity
    stmt = sa.select(kind.row_id).where(condition).order_by(kind.row_id).limit(1)
    return conn.execute(stmt).scalar_one_or_none()
