"""Stage 1, claim: take the next step of records for this run, and give back what was not sent.

A claim sets the records to 3 in the MIS and, in the product's store, bumps each one's attempt
(part of its batch's ``requestid``) and marks its outcome unknown until an answer is written.
Two transactions, MIS first: whichever of them a crash interrupts, the record is either still
claimable or at 3, and both ways it is looked up in QuickBooks before it is sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from sync_core.database import write_transaction
from sync_core.domain.kinds import KINDS, RecordKind, RecordRef
from sync_core.domain.statuses import SyncStatus
from sync_core.mis import tracking
from sync_core.mis.schema import MisSchema
from sync_core.store import record_state
from sync_core.store.record_state import Attempt


@dataclass(frozen=True)
class Databases:
    """Where a run reads and writes: the MIS (as found) and the product's own store."""

    mis: sa.Engine
    store: sa.Engine
    schema: MisSchema


def claim_step(
    dbs: Databases,
    kind: RecordKind,
    *,
    statuses: Iterable[int],
    limit: int,
    after_row_id: int,
    row_ids: Iterable[int] | None,
    run_id: int,
) -> list[Attempt]:
    """Claim up to ``limit`` records after ``after_row_id``, in row order."""
    table = dbs.schema.customers(kind)
    with write_transaction(dbs.mis) as conn:
        picked = tracking.pick_for_claim(
            conn,
            table,
            statuses=statuses,
            limit=limit,
            after_row_id=after_row_id,
            row_ids=row_ids,
            skip_locked=dbs.schema.features.skip_locked,
        )
    if not picked:
        return []
    try:
        with write_transaction(dbs.store) as conn:
            return record_state.begin_attempts(conn, kind, picked, run_id)
    except BaseException:
        # nothing was sent and the store does not know this run holds them: give them back
        with write_transaction(dbs.mis) as conn:
            tracking.set_status(
                conn,
                table,
                [row_id for row_id, _ in picked],
                SyncStatus.NOT_SYNCED,
                only_from=SyncStatus.IN_PROGRESS,
            )
        raise


def release(dbs: Databases, refs: Sequence[RecordRef]) -> int:
    """Claimed but never sent: back to failed if an earlier error is on record, else to not
    synced; their outcome is known again (nothing was sent). Answers how many went back."""
    released = 0
    for kind in KINDS.values():
        ids = [r.row_id for r in refs if r.kind == kind.name]
        if not ids:
            continue
        with write_transaction(dbs.store) as conn:
            had_error = record_state.record_not_sent(conn, kind, ids)
        table = dbs.schema.customers(kind)
        with write_transaction(dbs.mis) as conn:
            for status, group in (
                (SyncStatus.FAILED, sorted(had_error)),
                (SyncStatus.NOT_SYNCED, sorted(set(ids) - had_error)),
            ):
                released += tracking.set_status(
                    conn, table, group, status, only_from=SyncStatus.IN_PROGRESS
                )
    return released


def release_maybe_sent(dbs: Databases, refs: Sequence[RecordRef]) -> int:
    """Sent without an answer when the run had to stop: back to not synced, their outcome
    left unknown in the store, so whoever takes them next looks in QuickBooks first."""
    released = 0
    for kind in KINDS.values():
        ids = [r.row_id for r in refs if r.kind == kind.name]
        if ids:
            with write_transaction(dbs.mis) as conn:
                released += tracking.set_status(
                    conn,
                    dbs.schema.customers(kind),
                    ids,
                    SyncStatus.NOT_SYNCED,
                    only_from=SyncStatus.IN_PROGRESS,
                )
    return released


def release_run_leftovers(dbs: Databases, run_id: int) -> int:
    """The safety net when a run ends on an error: whatever it still holds at 3 goes back to 0.
    Their outcome stays "unknown" (they may have been sent), so whoever takes them next looks
    in QuickBooks before sending."""
    released = 0
    for kind in KINDS.values():
        table = dbs.schema.customers(kind)
        with dbs.mis.connect() as conn:
            at_3 = tracking.rows_in_progress(conn, table)
        if not at_3:
            continue
        with dbs.store.connect() as conn:
            ours = record_state.claimed_by_run(conn, kind, run_id, at_3)
        with write_transaction(dbs.mis) as conn:
            released += tracking.set_status(
                conn, table, ours, SyncStatus.NOT_SYNCED, only_from=SyncStatus.IN_PROGRESS
            )
    return released


def leftovers(dbs: Databases, kind: RecordKind) -> list[Attempt]:
    """Records a dead run left at 3: their outcome is unknown by definition."""
    with dbs.mis.connect() as conn:
        ids = tracking.rows_in_progress(conn, dbs.schema.customers(kind))
    if not ids:
        return []
    with dbs.store.connect() as conn:
        return record_state.leftovers(conn, kind, ids)
