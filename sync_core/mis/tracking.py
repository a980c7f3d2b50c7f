"""The tracking columns: the sync's only reads and writes of sync state in the MIS tables.

A record moves 0/2 -> 3 (claimed) -> 1 (synced: QuickBooks Id, who pushed it and when) or 2
(failed), or back to 0/2 when a run stops before sending it. What the MIS has no place for
(attempts, the reason of a failure) is kept in the product's own store.
"""

from __future__ import annotations

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


PENDING = (SyncStatus.NOT_SYNCED, SyncStatus.FAILED)  # statuses the sync scope applies to


def _status_in(table: CustomerTable, statuses: list[int]) -> sa.ColumnElement[bool]:
    condition: sa.ColumnElement[bool] = table.status.in_(statuses)
    if SyncStatus.NOT_SYNCED in statuses:  # rows found with NULL count as not synced
        condition = sa.or_(condition, table.status.is_(None))
    return condition


def status_filter(table: CustomerTable, statuses: Iterable[int]) -> sa.ColumnElement[bool]:
    """Records at one of ``statuses``; those waiting to sync (0, 2) only within the scope."""
    wanted = sorted({int(s) for s in statuses})
    pending = [s for s in wanted if s in PENDING]
    others = [s for s in wanted if s not in PENDING]
    conditions = []
    if pending:
        condition = _status_in(table, pending)
        if table.in_scope is not None:
            condition = sa.and_(condition, table.in_scope)
        conditions.append(condition)
    if others:
        conditions.append(table.status.in_(others))
    return sa.or_(*conditions) if len(conditions) > 1 else conditions[0]


def without_quickbooks_id(table: CustomerTable) -> sa.ColumnElement[bool]:
    """No usable Id in the MIS: NULL, blank, or an INT column's 0."""
    text = sa.func.trim(sa.func.coalesce(sa.cast(table.quickbooks_id, sa.String(255)), ""))
    return text.in_(["", "0"])


def pick_for_claim(
    conn: Connection,
    table: CustomerTable,
    *,
    statuses: Iterable[int],
    limit: int,
    after_row_id: int = 0,
    row_ids: Iterable[int] | None = None,
    skip_locked: bool = True,
) -> list[tuple[int, str]]:
    """Up to ``limit`` (row id, identity) pairs after ``after_row_id`` in row order, set to 3.

    Run inside :func:`sync_core.database.write_transaction`, so the select and the update are
    one step; on MySQL/MariaDB the picked rows are also locked against any writer (``SKIP
    LOCKED`` where the server has it: a second process's claim takes other rows; without it
    the second claim waits, which the one-run-per-company lock makes rare).
    """
    stmt = (
        sa.select(table.row_id, table.identity)
        .where(status_filter(table, statuses), table.row_id > after_row_id)
        .order_by(table.row_id)
        .limit(limit)
    )
    if row_ids is not None:
        stmt = stmt.where(table.row_id.in_(sorted(set(row_ids))))
    if conn.dialect.name != "sqlite":  # SQLite's write lock is taken when the claim begins
        stmt = stmt.with_for_update(skip_locked=skip_locked)
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
) -> None:
    """Status 1 with the QuickBooks Id (and SyncToken where the table keeps one). ``pushed_date``
    is the MIS server's own clock, as the rows already there (its local time, on MySQL)."""
    if not linked:
        return
    values: dict[Any, Any] = {
        table.status: int(SyncStatus.SYNCED),
        table.quickbooks_id: sa.bindparam("b_qk_id"),
        table.table.c.pushed_by: operator[:200],
        table.table.c.pushed_date: sa.func.now(),
    }
    if table.sync_token is not None:
        values[table.sync_token] = sa.bindparam("b_token")
    conn.execute(
        table.table.update().where(table.row_id == sa.bindparam("b_row_id")).values(values),
        [{"b_row_id": s.row_id, "b_qk_id": s.qk_id, "b_token": s.sync_token} for s in linked],
    )


def set_quickbooks_id(conn: Connection, table: CustomerTable, linked: Sequence[Linked]) -> None:
    """Fill the QuickBooks Id (and SyncToken) of records already at 1, leaving who pushed them
    and when as the MIS has it."""
    if not linked:
        return
    values: dict[Any, Any] = {table.quickbooks_id: sa.bindparam("b_qk_id")}
    if table.sync_token is not None:
        values[table.sync_token] = sa.bindparam("b_token")
    conn.execute(
        table.table.update().where(table.row_id == sa.bindparam("b_row_id")).values(values),
        [{"b_row_id": s.row_id, "b_qk_id": s.qk_id, "b_token": s.sync_token} for s in linked],
    )


def synced_without_id(
    conn: Connection, table: CustomerTable, limit: int, *, turn: int = 0
) -> list[int]:
    """Row ids of records at 1 with no QuickBooks Id in the MIS (an earlier system left them):
    ``limit`` of them, the ``turn``-th share in row order, wrapping around. Those whose
    customer is not found stay at 1 without an Id; successive turns (run ids) go on to the
    next share instead of looking at the same first ``limit`` rows every run."""
    waiting = (table.status == int(SyncStatus.SYNCED), without_quickbooks_id(table))
    total = conn.execute(sa.select(sa.func.count()).select_from(table.table).where(*waiting))
    count = int(total.scalar_one())
    if count == 0:
        return []
    start = (turn * limit) % count
    ordered = sa.select(table.row_id).where(*waiting).order_by(table.row_id)
    rows = [int(r[0]) for r in conn.execute(ordered.offset(start).limit(limit))]
    if len(rows) < limit and start:  # wrap around to the first rows
        rows += [int(r[0]) for r in conn.execute(ordered.limit(min(limit - len(rows), start)))]
    return rows


def rows_in_progress(conn: Connection, table: CustomerTable) -> list[int]:
    stmt = (
        sa.select(table.row_id)
        .where(table.status == int(SyncStatus.IN_PROGRESS))
        .order_by(table.row_id)
    )
    return [int(r[0]) for r in conn.execute(stmt)]


@dataclass(frozen=True)
class StatusTally:
    by_status: dict[SyncStatus, int]  # records waiting (0, 2) only within the scope
    out_of_scope: int  # waiting records outside the office's scope: never synced
    synced_without_id: int  # at 1 with no QuickBooks Id in the MIS (an earlier system's)


def count_by_status(conn: Connection, table: CustomerTable) -> StatusTally:
    """One grouped query: records per status, scope and whether the MIS holds their Id."""
    in_scope = (
        sa.case((table.in_scope, 1), else_=0) if table.in_scope is not None else sa.literal(1)
    ).label("in_scope")
    unlinked = sa.case((without_quickbooks_id(table), 1), else_=0).label("unlinked")
    rows = conn.execute(
        sa.select(table.status, in_scope, unlinked, sa.func.count())
        .select_from(table.table)
        .group_by(table.status, in_scope, unlinked)
    ).all()
    counts: dict[SyncStatus, int] = {}
    out_of_scope = without_id = 0
    for status, scoped, no_id, count in rows:
        key = SyncStatus.of(status)
        if key in PENDING and not scoped:
            out_of_scope += int(count)
            continue
        counts[key] = counts.get(key, 0) + int(count)
        if key is SyncStatus.SYNCED and no_id:
            without_id += int(count)
    return StatusTally(counts, out_of_scope, without_id)


def count_records(conn: Connection, table: CustomerTable, statuses: Iterable[int]) -> int:
    stmt = sa.select(sa.func.count()).select_from(table.table).where(status_filter(table, statuses))
    return int(conn.execute(stmt).scalar_one())
