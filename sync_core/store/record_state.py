"""Per-record sync state the MIS has no place for (``qbsync_record_state``).

The attempt counter behind each batch's ``requestid``, whether the last request's answer is
still unknown (it may have created the customer), the name last sent, the last error: what
makes a crash or a lost answer recoverable without a duplicate customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.clock import utcnow
from sync_core.domain.kinds import RecordKind
from sync_core.store.tables import record_states

_KEY = "b_row_id"


@dataclass(frozen=True)
class Attempt:
    """A record just claimed: its new attempt number and what its earlier attempt left."""

    kind: str
    row_id: int
    attempt: int
    previously_unknown: bool  # an earlier attempt may have created the customer
    sent_display_name: str | None  # the name that earlier attempt sent


@dataclass(frozen=True)
class Failure:
    row_id: int
    code: str | None
    message: str
    hint: str | None
    outcome_unknown: bool = False


def _of(kind: RecordKind) -> sa.ColumnElement[bool]:
    return record_states.c.kind == kind.name


def load(conn: Connection, kind: RecordKind, row_ids: Iterable[int]) -> dict[int, Any]:
    ids = sorted(set(row_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(record_states).where(_of(kind), record_states.c.row_id.in_(ids))
    ).mappings()
    return {int(r["row_id"]): r for r in rows}


def get(conn: Connection, kind: RecordKind, row_id: int) -> dict[str, Any] | None:
    found = load(conn, kind, [row_id]).get(row_id)
    return dict(found) if found is not None else None


def _update_each(
    conn: Connection, kind: RecordKind, rows: Sequence[Mapping[str, Any]], **values: Any
) -> None:
    """One UPDATE per row of ``rows`` (each with ``b_row_id`` and the bound values), as a single
    executemany; ``values`` maps columns to constants or ``sa.bindparam`` names."""
    if not rows:
        return
    conn.execute(
        record_states.update()
        .where(_of(kind), record_states.c.row_id == sa.bindparam(_KEY))
        .values(updated_at=utcnow(), **values),
        [dict(r) for r in rows],
    )


def begin_attempts(
    conn: Connection, kind: RecordKind, picked: Sequence[tuple[int, str]], run_id: int
) -> list[Attempt]:
    """Attempt + 1 and outcome unknown for each claimed (row id, identity), in their order."""
    ids = [row_id for row_id, _ in picked]
    before = load(conn, kind, ids)
    now = utcnow()
    new = [
        {
            "kind": kind.name,
            "row_id": row_id,
            "identity": identity[:200],
            "attempt": 0,
            "outcome_unknown": False,
            "updated_at": now,
        }
        for row_id, identity in picked
        if row_id not in before
    ]
    if new:
        conn.execute(record_states.insert(), new)
    conn.execute(
        record_states.update()
        .where(_of(kind), record_states.c.row_id.in_(ids))
        .values(
            attempt=record_states.c.attempt + 1,
            outcome_unknown=True,
            last_run_id=run_id,
            updated_at=now,
        )
    )
    return [
        Attempt(
            kind=kind.name,
            row_id=row_id,
            attempt=(before[row_id]["attempt"] if row_id in before else 0) + 1,
            previously_unknown=bool(row_id in before and before[row_id]["outcome_unknown"]),
            sent_display_name=before[row_id]["sent_display_name"] if row_id in before else None,
        )
        for row_id in ids
    ]


def leftovers(conn: Connection, kind: RecordKind, row_ids: Sequence[int]) -> list[Attempt]:
    """Records a dead run left at 3: their outcome is unknown by definition."""
    states = load(conn, kind, row_ids)
    return [
        Attempt(
            kind=kind.name,
            row_id=i,
            attempt=states[i]["attempt"] if i in states else 0,
            previously_unknown=True,
            sent_display_name=states[i]["sent_display_name"] if i in states else None,
        )
        for i in row_ids
    ]


def note_sending(conn: Connection, kind: RecordKind, names: Mapping[int, str]) -> None:
    """Remember the DisplayName each record is about to be sent with (for a later lookup)."""
    _update_each(
        conn,
        kind,
        [{_KEY: i, "b_name": n[:500]} for i, n in names.items()],
        sent_display_name=sa.bindparam("b_name"),
    )


def record_synced(
    conn: Connection, kind: RecordKind, synced: Sequence[tuple[int, str, str | None]]
) -> None:
    """(row id, name it holds in QuickBooks, real name if renamed): outcome known, no error."""
    _update_each(
        conn,
        kind,
        [{_KEY: i, "b_name": name[:500], "b_renamed": renamed} for i, name, renamed in synced],
        outcome_unknown=False,
        sent_display_name=sa.bindparam("b_name"),
        renamed_from=sa.bindparam("b_renamed"),
        error_code=None,
        error_message=None,
        error_hint=None,
    )


def record_failed(conn: Connection, kind: RecordKind, failures: Sequence[Failure]) -> None:
    _update_each(
        conn,
        kind,
        [
            {
                _KEY: f.row_id,
                "b_unknown": f.outcome_unknown,
                "b_code": (f.code or "")[:20] or None,
                "b_message": f.message,
                "b_hint": f.hint,
            }
            for f in failures
        ],
        outcome_unknown=sa.bindparam("b_unknown"),
        error_code=sa.bindparam("b_code"),
        error_message=sa.bindparam("b_message"),
        error_hint=sa.bindparam("b_hint"),
    )


def record_not_sent(conn: Connection, kind: RecordKind, row_ids: Sequence[int]) -> set[int]:
    """Claimed but never sent: the outcome is known again. Answers which of them carry an
    earlier error (they go back to failed, the others to not synced)."""
    if not row_ids:
        return set()
    states = load(conn, kind, row_ids)
    _update_each(conn, kind, [{_KEY: i} for i in row_ids], outcome_unknown=False)
    return {i for i in row_ids if i in states and states[i]["error_message"]}


def claimed_by_run(
    conn: Connection, kind: RecordKind, run_id: int, row_ids: Sequence[int]
) -> list[int]:
    """Which of ``row_ids`` the run ``run_id`` claimed last."""
    if not row_ids:
        return []
    stmt = sa.select(record_states.c.row_id).where(
        _of(kind), record_states.c.last_run_id == run_id, record_states.c.row_id.in_(row_ids)
    )
    return [int(r[0]) for r in conn.execute(stmt)]
