"""Before a run sends anything: records a dead run left at 3 are looked up in QuickBooks, and
adopted where their customer exists, else put back to be sent again."""

from __future__ import annotations

from sync_core.domain.kinds import KINDS
from sync_core.domain.mapping import MappingOptions
from sync_core.quickbooks.client import QuickBooksClient
from sync_core.quickbooks.errors import AuthenticationError, QuickBooksError
from sync_core.quickbooks.ports import CallContext
from sync_core.store.runs import RunHistory
from sync_core.sync import claim
from sync_core.sync.claim import Databases
from sync_core.sync.existing import Lookup, earlier_names, find_by_names
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
            not_checked: list[Failed] = []
            try:
                existing = find_by_names(
                    client, [Lookup(p.mapped, earlier_names(p)) for p in items], context
                )
            except AuthenticationError:
                raise
            except QuickBooksError as exc:
                not_checked = [unchecked(p, exc) for p in items]
                items, existing = [], {}
            outcome = StepOutcome(
                linked=[Linked(p, existing[p.ref]) for p in items if p.ref in existing],
                failed=[*invalid, *not_checked],
            )
            to_release = [p.ref for p in items if p.ref not in existing]
            notices = run_errors(StepOutcome(failed=not_checked))
            write_back(dbs, history, progress.run_id, progress.operator, outcome, notices=notices)
            progress.released += claim.release(dbs, to_release)
            tally(progress, outcome, recovering=True)
