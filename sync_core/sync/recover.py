"""Before a run sends anything: records a dead run left at 3 are looked up in QuickBooks, and
adopted where their customer exists, else put back to be sent again; records an earlier system
left at 1 without a QuickBooks Id get the Id of their customer where it is found."""

from __future__ import annotations

from sync_core.database import write_transaction
from sync_core.domain.kinds import KINDS, RecordRef
from sync_core.domain.mapping import MappingOptions
from sync_core.domain.statuses import Outcome
from sync_core.mis import tracking
from sync_core.mis.reader import fetch_records
from sync_core.quickbooks.client import QuickBooksClient
from sync_core.quickbooks.errors import QuickBooksError
from sync_core.quickbooks.ports import CallContext
from sync_core.store.runs import RunError, RunHistory
from sync_core.sync import claim
from sync_core.sync.claim import Databases
from sync_core.sync.existing import Lookup, find_by_names, find_existing
from sync_core.sync.outcomes import Failed, Linked, Pending, StepOutcome, errors_text, tally
from sync_core.sync.prepare import map_claimed
from sync_core.sync.request import Progress
from sync_core.sync.write_back import run_errors, write_back

STEP = 100


def unchecked(pending: Pending, exc: QuickBooksError) -> Failed:
    """QuickBooks could not be asked whether the record exists: it is not sent blind."""
    return Failed.of(
        pending,
        f"Could not check QuickBooks for an earlier attempt: {errors_text(exc)}",
        exc,
        outcome_unknown=True,
        hint="Retry later: the record is checked in QuickBooks before it is sent again.",
    )


def recover(
    dbs: Databases,
    client: QuickBooksClient,
    history: RunHistory,
    progress: Progress,
    options: MappingOptions,
) -> None:
    for kind in KINDS.values():
        attempts = claim.leftovers(dbs, kind)
        for start in range(0, len(attempts), STEP):
            items, invalid = map_claimed(dbs, kind, attempts[start : start + STEP], options)
            context = CallContext(progress.run_id, tuple(p.ref for p in items))
            try:
                existing, problems = find_existing(client, items, context)
            except QuickBooksError as exc:
                if exc.stops_run:
                    raise
                existing, problems = {}, [unchecked(p, exc) for p in items]
            failed_refs = {f.ref for f in problems}
            why = "a look-up of a record an interrupted sync left in progress"
            outcome = StepOutcome(
                linked=[Linked(p, existing[p.ref], why) for p in items if p.ref in existing],
                failed=[*invalid, *problems],
            )
            to_release = [
                p.ref for p in items if p.ref not in existing and p.ref not in failed_refs
            ]
            notices = run_errors(StepOutcome(linked=outcome.linked, failed=problems))
            write_back(dbs, history, progress.run_id, progress.operator, outcome, notices=notices)
            progress.released += claim.release(dbs, to_release)
            tally(progress, outcome, recovering=True)


UNLINKED_PER_RUN = 1000  # records at 1 without an Id looked up by one run (reads are metered)


def link_unlinked(
    dbs: Databases,
    client: QuickBooksClient,
    history: RunHistory,
    progress: Progress,
    options: MappingOptions,
) -> None:
    """Rows at 1 whose Id column is empty: their customer is found by identity and its Id
    written; those not found stay listed as "synced without a QuickBooks Id"."""
    for kind in KINDS.values():
        table = dbs.schema.customers(kind)
        with dbs.mis.connect() as conn:
            row_ids = tracking.synced_without_id(
                conn, table, UNLINKED_PER_RUN, turn=max(progress.run_id - 1, 0)
            )
        for start in range(0, len(row_ids), STEP):
            with dbs.mis.connect() as conn:
                page = fetch_records(conn, dbs.schema, kind, row_ids=row_ids[start : start + STEP])
            mapped = [m for m in page.mapped(options) if m.sendable]
            context = CallContext(
                progress.run_id, tuple(RecordRef(m.kind, m.row_id) for m in mapped)
            )
            try:
                found = find_by_names(client, [Lookup(m) for m in mapped], context)
            except QuickBooksError as exc:
                if exc.stops_run:
                    raise
                return  # they stay listed; the next run looks again
            links = [
                tracking.Linked(m.row_id, str(found[ref]["Id"]), found[ref].get("SyncToken"))
                for m in mapped
                if (ref := RecordRef(m.kind, m.row_id)) in found
            ]
            if not links:
                continue
            with write_transaction(dbs.mis) as conn:
                tracking.set_quickbooks_id(conn, table, links)
            notices = [
                RunError(
                    kind.name,
                    link.row_id,
                    next(m.identity for m in mapped if m.row_id == link.row_id),
                    str(found[RecordRef(kind.name, link.row_id)].get("DisplayName") or ""),
                    f"Synced without a QuickBooks Id in the MIS: its customer {link.qk_id} was "
                    "found and its Id written.",
                    outcome=Outcome.ADOPTED,
                )
                for link in links
            ]
            with write_transaction(dbs.store) as conn:
                history.add_errors(conn, progress.run_id, notices)
            progress.reconciled += len(links)
