"""Records linked to a QuickBooks customer (status 1 with an Id), a page at a time in row
order: what updates and the change summary walk through."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import CustomerTable
from sync_core.mis.tracking import without_quickbooks_id


def linked_page(
    conn: Connection,
    table: CustomerTable,
    *,
    after_row_id: int,
    limit: int,
    row_ids: Iterable[int] | None = None,
) -> list[tuple[int, str]]:
    """(row id, QuickBooks Id) of synced records after ``after_row_id``, in row order."""
    stmt = (
        sa.select(table.row_id, table.quickbooks_id)
        .where(
            table.status == int(SyncStatus.SYNCED),
            sa.not_(without_quickbooks_id(table)),
            table.row_id > after_row_id,
        )
        .order_by(table.row_id)
        .limit(limit)
    )
    if row_ids is not None:
        stmt = stmt.where(table.row_id.in_(sorted(set(row_ids))))
    return [(int(r[0]), str(r[1]).strip()) for r in conn.execute(stmt)]


def linked_pages(
    engine: Engine, table: CustomerTable, page: int, row_ids: Iterable[int] | None = None
) -> Iterator[list[tuple[int, str]]]:
    """Every synced record with an Id, ``page`` at a time (a short transaction per page)."""
    wanted = None if row_ids is None else sorted(set(row_ids))
    cursor = 0
    while True:
        with engine.connect() as conn:
            found = linked_page(conn, table, after_row_id=cursor, limit=page, row_ids=wanted)
        if not found:
            return
        yield found
        cursor = found[-1][0]
        if len(found) < page:
            return


def all_pages(
    engine: Engine, table: CustomerTable, page: int
) -> Iterator[list[tuple[int, int, str | None]]]:
    """Every record of the table, ``page`` at a time in row order: (row id, status, Id)."""
    cursor = 0
    while True:
        stmt = (
            sa.select(table.row_id, table.status, table.quickbooks_id)
            .where(table.row_id > cursor)
            .order_by(table.row_id)
            .limit(page)
        )
        with engine.connect() as conn:
            found = [
                (int(r[0]), int(SyncStatus.of(r[1])), _id_text(r[2])) for r in conn.execute(stmt)
            ]
        if not found:
            return
        yield found
        cursor = found[-1][0]
        if len(found) < page:
            return


def _id_text(raw: object) -> str | None:
    text = "" if raw is None else str(raw).strip()
    return None if text in ("", "0") else text


def linked_to(conn: Connection, table: CustomerTable, qk_id: str) -> list[int]:
    """Row ids of the records whose Id in the MIS is ``qk_id``."""
    column = sa.func.trim(sa.cast(table.quickbooks_id, sa.String(255)))
    stmt = sa.select(table.row_id).where(column == qk_id).order_by(table.row_id)
    return [int(r[0]) for r in conn.execute(stmt)]


def unlink(conn: Connection, table: CustomerTable, row_ids: Iterable[int]) -> int:
    """Back to not synced with no Id (a re-push of a record whose customer is gone): the next
    sync looks its customer up by identity before it creates one."""
    ids = sorted(set(row_ids))
    if not ids:
        return 0
    values: dict[object, object] = {
        table.status: int(SyncStatus.NOT_SYNCED),
        table.quickbooks_id: None,
    }
    if table.sync_token is not None:
        values[table.sync_token] = None
    result = conn.execute(table.table.update().where(table.row_id.in_(ids)).values(values))
    return int(result.rowcount)
