"""The tracking columns: the sync's only reads and writes of sync state in the MIS tables.

A record moves 0/2 -> 3 (claimed) -> 1 (synced: QuickBooks Id, who pushed it and when) or 2
(failed), or back to 0/2 when a run stops before sending it. What the MIS has no place for
(attempts, the reason of a failure) is kept in the product's own store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import CustomerTable


@dataclass(frozen=True)
class Linked:
    """A record now known to be a QuickBooks customer."""

    row_id: int
    qk_id: str
    sync_token: str | None = None


def status_filter(table: CustomerTable, statuses: Iterable[int]) -> sa.ColumnElement[bool]:
    """``status IN (...)``; rows found with NULL count as not synced."""
    wanted = sorted({int(s) for s in statuses})
    condition: sa.ColumnElement[bool] = table.status.in_(wanted)
    if SyncStatus.NOT_SYNCED in wanted:
        condition = sa.or_(condition, table.status.is_(None))
    return condition


def pick_for_claim(
    conn: Connection,
    table: CustomerTable,
    *,
    statuses: Iterable[int],
    limit: int,
    after_row_id: int = 0,
    row_ids: Iterable[int] | None = None,
) -> list[tuple[int, str]]:
    """Up to ``limit`` (row id, identity) pairs after ``after_row_id`` in row order, set to 3.

    Run inside :func:`sync_core.database.write_transaction`, so the select and the update are
    one step; on MariaDB the picked rows are also locked (``SKIP LOCKED``) against any writer.
    """
    stmt = (
        sa.select(table.row_id, table.identity)
        .where(status_filter(table, statuses), table.row_id > after_row_id)
        .order_by(table.row_id)
        .limit(limit)
    )
    if row_ids is not None:
        stmt = stmt.where(table.row_id.in_(sorted(set(row_ids))))
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True)
    picked = [(int(r[0]), "" if r[1] is None else str(r[1]).strip()) for r in conn.execute(stmt)]
    if picked:
        set_status(conn, table, [row_id for row_id, _ in picked], SyncStatus.IN_PROGRESS)
    return picked


def set_status(
    conn: Connection,
    table: CustomerTable,
    row_ids: Sequence[int],
    status: SyncStatus,
    *,
    only_from: SyncStatus | None = None,
) -> int:
    """Set ``status`` on ``row_ids`` (only where it is ``only_from``, when given)."""
    if not row_ids:
        return 0
    stmt = table.table.update().where(table.row_id.in_(sorted(set(row_ids))))
    if only_from is not None:
        stmt = stmt.where(table.status == int(only_from))
    return int(conn.execute(stmt.values({table.status: int(status)})).rowcount)


def mark_synced(
    conn: Connection,
    table: CustomerTable,
    linked: Sequence[Linked],
    operator: str,
    pushed_at: dt.datetime,
) -> None:
    """Status 1 with the QuickBooks Id (and SyncToken where the table keeps one)."""
    if not linked:
        return
    values: dict[Any, Any] = {
        table.status: int(SyncStatus.SYNCED),
        table.quickbooks_id: sa.bindparam("b_qk_id"),
        table.table.c.pushed_by: operator[:200],
        table.table.c.pushed_date: pushed_at,
    }
    if table.sync_token is not None:
        values[table.sync_token] = sa.bindparam("b_token")
    conn.execute(
        table.table.update().where(table.row_id == sa.bindparam("b_row_id")).values(values),
        [{"b_row_id": s.row_id, "b_qk_id": s.qk_id, "b_token": s.sync_token} for s in linked],
    )


def rows_in_progress(conn: Connection, table: CustomerTable) -> list[int]:
    stmt = (
        sa.select(table.row_id)
        .where(table.status == int(SyncStatus.IN_PROGRESS))
        .order_by(table.row_id)
    )
    return [int(r[0]) for r in conn.execute(stmt)]


def count_by_status(conn: Connection, table: CustomerTable) -> dict[SyncStatus, int]:
    rows = conn.execute(
        sa.select(table.status, sa.func.count()).select_from(table.table).group_by(table.status)
    ).all()
    counts: dict[SyncStatus, int] = {}
    for status, count in rows:
        key = SyncStatus.of(status)
        counts[key] = counts.get(key, 0) + int(count)
    return counts


def count_records(conn: Connection, table: CustomerTable, statuses: Iterable[int]) -> int:
    stmt = sa.select(sa.func.count()).select_from(table.table).where(status_filter(table, statuses))
    return int(conn.execute(stmt).scalar_one())
