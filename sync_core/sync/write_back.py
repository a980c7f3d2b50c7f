"""Stage 6, write back: what became of each record, into the MIS, the store and the run.

Synced records get status 1 with their QuickBooks Id, who pushed them and when; failed ones get
status 2 and their reason (kept in the store, shown on the Records page and in the run). Renamed
and adopted records leave a notice in the run so the operator sees them. What a synced record's
customer now holds of the mapped fields is remembered (:mod:`sync_core.store.sent`): that is
what a later change in the MIS is seen against.
"""

from __future__ import annotations

from collections.abc import Sequence

from sync_core.database import write_transaction
from sync_core.domain.fingerprint import canonical_like, canonical_of_mapped
from sync_core.domain.kinds import KINDS, RecordKind
from sync_core.domain.statuses import Outcome, SyncStatus
from sync_core.mis import tracking
from sync_core.store import record_state, sent
from sync_core.store.runs import RunError, RunHistory
from sync_core.sync.claim import Databases
from sync_core.sync.outcomes import Failed, Linked, Pending, StepOutcome

CREATED, ADOPTED = "created", "adopted"  # where a record's baseline came from


def run_errors(outcome: StepOutcome) -> list[RunError]:
    """The run's entries for an outcome: each failure, then each adoption and rename."""
    entries = [
        RunError(
            f.ref.kind,
            f.ref.row_id,
            f.identity or str(f.ref.row_id),
            f.display_name,
            f.message,
            f.code,
            f.hint,
        )
        for f in outcome.failed
    ]
    for link in outcome.linked:
        mapped = link.pending.mapped
        if link.adopted_because:
            entries.append(
                RunError(
                    mapped.kind,
                    mapped.row_id,
                    mapped.identity,
                    link.display_name,
                    f"Already in QuickBooks as customer {link.qk_id} (found after "
                    f"{link.adopted_because}): linked, not created again.",
                    outcome=Outcome.ADOPTED,
                )
            )
        elif mapped.renamed_from:
            entries.append(
                RunError(
                    mapped.kind,
                    mapped.row_id,
                    mapped.identity,
                    mapped.display_name,
                    f"Sent as {mapped.display_name!r}: the name {mapped.renamed_from!r} belongs "
                    "to another QuickBooks customer, vendor or employee (QuickBooks requires "
                    "unique names).",
                    "6240",
                    outcome=Outcome.RENAMED,
                )
            )
    return entries


def baseline_of(link: Linked) -> sent.Baseline:
    """What the record's customer holds of the mapped fields now: what was sent, for a create;
    the customer as QuickBooks had it, for an adoption (an earlier system's customer shows as
    changed until an update brings it to the product's shape)."""
    mapped = link.pending.mapped
    if link.adopted_because:
        return sent.Baseline(
            mapped.row_id, link.qk_id, canonical_like(link.customer, mapped), ADOPTED
        )
    return sent.Baseline(mapped.row_id, link.qk_id, canonical_of_mapped(mapped), CREATED)


def write_back(
    dbs: Databases,
    history: RunHistory,
    run_id: int,
    operator: str,
    outcome: StepOutcome,
    *,
    notices: Sequence[RunError] | None = None,
) -> None:
    """Write an outcome back. ``notices`` replaces the run entries derived from it."""
    for kind in KINDS.values():
        linked: list[Linked] = [x for x in outcome.linked if x.pending.mapped.kind == kind.name]
        failed: list[Failed] = [f for f in outcome.failed if f.ref.kind == kind.name]
        if not linked and not failed:
            continue
        table = dbs.schema.customers(kind)
        with write_transaction(dbs.mis) as conn:
            tracking.mark_synced(
                conn,
                table,
                [
                    tracking.Linked(x.pending.mapped.row_id, x.qk_id, x.customer.get("SyncToken"))
                    for x in linked
                ],
                operator,
            )
            tracking.set_status(conn, table, [f.ref.row_id for f in failed], SyncStatus.FAILED)
        with write_transaction(dbs.store) as conn:
            record_state.record_synced(
                conn,
                kind,
                [
                    (x.pending.mapped.row_id, x.display_name, x.pending.mapped.renamed_from)
                    for x in linked
                ],
            )
            record_state.record_failed(
                conn,
                kind,
                [
                    record_state.Failure(f.ref.row_id, f.code, f.message, f.hint, f.outcome_unknown)
                    for f in failed
                ],
            )
            sent.remember(conn, kind.name, [baseline_of(x) for x in linked], run_id)
    entries = run_errors(outcome) if notices is None else list(notices)
    if entries:
        with write_transaction(dbs.store) as conn:
            history.add_errors(conn, run_id, entries)


def note_sending(dbs: Databases, kind: RecordKind, chosen: Sequence[Pending]) -> None:
    """Remember the name each record is about to be sent under, for a later look-up."""
    if chosen:
        with write_transaction(dbs.store) as conn:
            record_state.note_sending(
                conn, kind, {p.mapped.row_id: p.mapped.display_name for p in chosen}
            )
