"""Identities the MIS gives to more than one record: a RegNo shared by two students, a
tracking id shared by two applicants. QuickBooks could not tell such records apart (the
earlier integration found its customers by them), so none of them is sent until the MIS is
corrected; ``check``, ``analyze`` and the Preview say which."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, RecordKind
from sync_core.domain.lookups import normalise_id
from sync_core.mis.schema import MisSchema

# the canonical column whose value must be unique, and how the operator calls it
SHARED_IDENTITY = {"applicant": ("tracking_id", "tracking id"), "student": ("reg_no", "RegNo")}


def identity_column(schema: MisSchema, kind: RecordKind) -> tuple[sa.Column[Any], str] | None:
    column, label = SHARED_IDENTITY[kind.name]
    table = schema.customers(kind)
    return (table.table.c[column], label) if table.has(column) else None


def shared_identities(
    conn: Connection, schema: MisSchema, kind: RecordKind, rows: Iterable[dict[str, Any]]
) -> dict[int, str]:
    """For these rows, row id -> why it cannot be sent, when another record of the table has
    the same identity. One indexed look-up for the whole page."""
    found = identity_column(schema, kind)
    if found is None:
        return {}
    column, label = found
    table = schema.customers(kind)
    key = table.spec.key
    rows = list(rows)
    values = {row.get(column.key) for row in rows} - {None, ""}
    if not values:
        return {}
    holders = conn.execute(
        sa.select(table.row_id, column).where(column.in_(sorted(values, key=str)))
    ).all()
    counts = Counter(normalise_id(value) for _, value in holders)
    shared: dict[int, str] = {}
    for row in rows:
        value = normalise_id(row.get(column.key))
        if value and counts[value] > 1:
            what = "applicant" if kind is APPLICANT else "student"
            shared[int(row[key])] = (
                f"{counts[value]} {what} records in the MIS have the {label} {value!r}: "
                "QuickBooks could not tell them apart, so none is sent until the MIS has one "
                "record per " + label
            )
    return shared


def duplicate_counts(conn: Connection, column: sa.Column[Any]) -> dict[str, int]:
    """Identities held by more than one record: how many such values, how many records.
    Grouped on the column as stored, so its index serves (MariaDB's collations also ignore
    trailing spaces when comparing)."""
    groups = (
        sa.select(column.label("value"), sa.func.count().label("n"))
        .where(column.is_not(None), column != "")
        .group_by(column)
        .having(sa.func.count() > 1)
        .subquery()
    )
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(groups.c.n), 0))
    ).one()
    return {"values": int(row[0]), "records": int(row[1])}
