"""Claims and write-back: the sync's only writes to the MIS customer tables.

A record moves 0/2 -> 3 (claimed) -> 1 (synced, with ``qk_id``, ``pushed_by``, ``pushed_date``)
or 2 (failed, the reason kept in ``qbsync_record_state``), or back to 0 when a run stops before
sending it. The claim also bumps the record's attempt counter (part of each ``requestid``) and
marks its outcome unknown until an answer is written: a record a crash leaves at 3, or one whose
answer never came, is looked up in QuickBooks before it is ever sent again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import RecordKind
from sync_core.mis.reader import status_filter
from sync_core.mis.tables import (
    STATUS_FAILED,
    STATUS_IN_PROGRESS,
    STATUS_NOT_SYNCED,
    STATUS_SYNCED,
)
from sync_core.store.tables import record_states


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class Claim:
    kind: str
    row_id: int
    attempt: int
    previously_unknown: bool  # an earlier attempt may have created the customer
    sent_display_name: str | None  # the name that earlier attempt sent


@dataclass(frozen=True)
class Synced:
    row_id: int
    qk_id: str
    display_name: str
    renamed_from: str | None = None


@dataclass(frozen=True)
class Failed:
    row_id: int
    code: str | None
    message: str
    hint: str | None
    outcome_unknown: bool = False
    display_name: str | None = None
    identity: str = ""  # for the run's error table (ApplicationID / RegNo)


def _state_rows(conn: Connection, kind: RecordKind, row_ids: Sequence[int]) -> dict[int, Any]:
    rows = conn.execute(
        sa.select(record_states).where(
            record_states.c.kind == kind.name, record_states.c.row_id.in_(row_ids)
        )
    ).mappings()
    return {r["row_id"]: r for r in rows}


def claim(
    conn: Connection,
    kind: RecordKind,
    *,
    statuses: Iterable[int],
    limit: int,
    after_row_id: int = 0,
    row_ids: Iterable[int] | None = None,
    run_id: int,
) -> list[Claim]:
    """Claim up to ``limit`` records (status -> 3) after ``after_row_id``, in row order.

    Run inside :func:`sync_core.database.write_transaction` so the select and the update are
    one step; on MariaDB claimed rows are also locked (``SKIP LOCKED``) against any other writer.
    """
    stmt = (
        sa.select(kind.row_id, kind.identity)
        .where(status_filter(kind, statuses), kind.row_id > after_row_id)
        .order_by(kind.row_id)
        .limit(limit)
    )
    if row_ids is not None:
        stmt = stmt.where(kind.row_id.in_(sorted(set(row_ids))))
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True)
    picked = conn.execute(stmt).all()
    if not picked:
        return []
    ids = [int(r[0]) for r in picked]
    identities = {int(r[0]): "" if r[1] is None else str(r[1]) for r in picked}
    conn.execute(
        kind.table.update().where(kind.row_id.in_(ids)).values(QuickBk_Status=STATUS_IN_PROGRESS)
    )
    existing = _state_rows(conn, kind, ids)
    now = utcnow()
    missing = [i for i in ids if i not in existing]
    if missing:
        conn.execute(
            record_states.insert(),
            [
                {
                    "kind": kind.name,
                    "row_id": i,
                    "identity": identities[i][:200],
                    "attempt": 0,
                    "outcome_unknown": False,
                    "updated_at": now,
                }
                for i in missing
            ],
        )
    conn.execute(
        record_states.update()
        .where(record_states.c.kind == kind.name, record_states.c.row_id.in_(ids))
        .values(
            attempt=record_states.c.attempt + 1,
            outcome_unknown=True,
            last_run_id=run_id,
            updated_at=now,
        )
    )
    claims = []
    for i in ids:
        before = existing.get(i)
        claims.append(
            Claim(
                kind=kind.name,
                row_id=i,
                attempt=(before["attempt"] if before else 0) + 1,
                previously_unknown=bool(before and before["outcome_unknown"]),
                sent_display_name=before["sent_display_name"] if before else None,
            )
        )
    return claims


def claimed_leftovers(conn: Connection, kind: RecordKind) -> list[Claim]:
    """Records a dead run left at status 3: their outcome is unknown by definition."""
    ids = [
        int(r[0])
        for r in conn.execute(
            sa.select(kind.row_id).where(kind.status == STATUS_IN_PROGRESS).order_by(kind.row_id)
        )
    ]
    states = _state_rows(conn, kind, ids) if ids else {}
    return [
        Claim(
            kind=kind.name,
            row_id=i,
            attempt=states[i]["attempt"] if i in states else 0,
            previously_unknown=True,
            sent_display_name=states[i]["sent_display_name"] if i in states else None,
        )
        for i in ids
    ]


def note_sending(conn: Connection, kind: RecordKind, names: dict[int, str]) -> None:
    """Remember the DisplayName each record is about to be sent with (for a later lookup)."""
    if not names:
        return
    conn.execute(
        record_states.update()
        .where(
            record_states.c.kind == kind.name,
            record_states.c.row_id == sa.bindparam("b_row_id"),
        )
        .values(sent_display_name=sa.bindparam("b_name")),
        [{"b_row_id": i, "b_name": n[:500]} for i, n in names.items()],
    )


def mark_synced(
    conn: Connection, kind: RecordKind, synced: Sequence[Synced], operator: str
) -> None:
    if not synced:
        return
    now = utcnow()
    conn.execute(
        kind.table.update()
        .where(kind.row_id == sa.bindparam("b_row_id"))
        .values(
            QuickBk_Status=STATUS_SYNCED,
            qk_id=sa.bindparam("b_qk_id"),
            pushed_by=operator[:200],
            pushed_date=now,
        ),
        [{"b_row_id": s.row_id, "b_qk_id": s.qk_id} for s in synced],
    )
    conn.execute(
        record_states.update()
        .where(
            record_states.c.kind == kind.name,
            record_states.c.row_id == sa.bindparam("b_row_id"),
        )
        .values(
            outcome_unknown=False,
            sent_display_name=sa.bindparam("b_name"),
            renamed_from=sa.bindparam("b_renamed"),
            error_code=None,
            error_message=None,
            error_hint=None,
            updated_at=now,
        ),
        [
            {"b_row_id": s.row_id, "b_name": s.display_name[:500], "b_renamed": s.renamed_from}
            for s in synced
        ],
    )


def mark_failed(conn: Connection, kind: RecordKind, failed: Sequence[Failed]) -> None:
    if not failed:
        return
    now = utcnow()
    conn.execute(
        kind.table.update()
        .where(kind.row_id == sa.bindparam("b_row_id"))
        .values(QuickBk_Status=STATUS_FAILED),
        [{"b_row_id": f.row_id} for f in failed],
    )
    conn.execute(
        record_states.update()
        .where(
            record_states.c.kind == kind.name,
            record_states.c.row_id == sa.bindparam("b_row_id"),
        )
        .values(
            outcome_unknown=sa.bindparam("b_unknown"),
            error_code=sa.bindparam("b_code"),
            error_message=sa.bindparam("b_message"),
            error_hint=sa.bindparam("b_hint"),
            updated_at=now,
        ),
        [
            {
                "b_row_id": f.row_id,
                "b_unknown": f.outcome_unknown,
                "b_code": (f.code or "")[:20] or None,
                "b_message": f.message,
                "b_hint": f.hint,
            }
            for f in failed
        ],
    )


def release(conn: Connection, kind: RecordKind, row_ids: Sequence[int]) -> int:
    """Claimed but never sent: back to where they were (2 if an earlier error is on record,
    else 0), with the outcome known again (nothing was sent)."""
    if not row_ids:
        return 0
    states = _state_rows(conn, kind, row_ids)
    had_error = [i for i in row_ids if i in states and states[i]["error_message"]]
    released = 0
    for status, ids in (
        (STATUS_FAILED, had_error),
        (STATUS_NOT_SYNCED, sorted(set(row_ids) - set(had_error))),
    ):
        if ids:
            released += conn.execute(
                kind.table.update()
                .where(kind.row_id.in_(ids), kind.status == STATUS_IN_PROGRESS)
                .values(QuickBk_Status=status)
            ).rowcount
    conn.execute(
        record_states.update()
        .where(record_states.c.kind == kind.name, record_states.c.row_id.in_(row_ids))
        .values(outcome_unknown=False, updated_at=utcnow())
    )
    return int(released)


def release_run_leftovers(conn: Connection, kind: RecordKind, run_id: int) -> int:
    """Records a run still holds at 3 when it ends: back to 0, outcome left as it is."""
    at_3 = [
        int(r[0])
        for r in conn.execute(sa.select(kind.row_id).where(kind.status == STATUS_IN_PROGRESS))
    ]
    if not at_3:
        return 0
    ours = [
        int(r[0])
        for r in conn.execute(
            sa.select(record_states.c.row_id).where(
                record_states.c.kind == kind.name,
                record_states.c.last_run_id == run_id,
                record_states.c.row_id.in_(at_3),
            )
        )
    ]
    if not ours:
        return 0
    return int(
        conn.execute(
            kind.table.update()
            .where(kind.row_id.in_(ours), kind.status == STATUS_IN_PROGRESS)
            .values(QuickBk_Status=STATUS_NOT_SYNCED)
        ).rowcount
    )


def record_state(conn: Connection, kind: RecordKind, row_id: int) -> dict[str, Any] | None:
    row = (
        conn.execute(
            sa.select(record_states).where(
                record_states.c.kind == kind.name, record_states.c.row_id == row_id
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
