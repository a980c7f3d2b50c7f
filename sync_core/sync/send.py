"""Stage 5, send: one batch request of up to 30 creates, and the name clashes it comes back with.

Runs on a worker thread; touches no database. Each batch carries a ``requestid`` derived from its
records, their attempts and names, so a retried request returns QuickBooks' first answer instead
of a second customer. A 6240 (name taken) adopts the holder when it is this record, otherwise the
record goes back to the queue under a distinct name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sync_core.domain.names import with_distinct_name
from sync_core.quickbooks.client import QuickBooksClient, batch_create_item
from sync_core.quickbooks.errors import (
    AuthenticationError,
    DuplicateNameError,
    QuickBooksError,
    ValidationError,
)
from sync_core.quickbooks.ports import CallContext
from sync_core.sync.existing import Lookup, find_by_names
from sync_core.sync.outcomes import (
    Failed,
    Linked,
    Pending,
    StepOutcome,
    batch_requestid,
    errors_text,
)

log = logging.getLogger(__name__)


def send_chunk(
    client: QuickBooksClient, chunk: Sequence[Pending], context: CallContext
) -> StepOutcome:
    """Never raises: a bug must not lose the batch, so it is recorded per record."""
    try:
        return _send(client, chunk, context)
    except Exception as exc:
        log.exception("unexpected error sending a batch of %d records", len(chunk))
        return StepOutcome(
            failed=[
                Failed.of(p, f"Internal error: {errors_text(exc)}", outcome_unknown=True)
                for p in chunk
            ]
        )


def _send(client: QuickBooksClient, chunk: Sequence[Pending], context: CallContext) -> StepOutcome:
    outcome = StepOutcome()
    batch = [batch_create_item(str(n), p.mapped.payload) for n, p in enumerate(chunk)]
    try:
        results = client.batch(batch, requestid=batch_requestid(chunk), context=context)
    except AuthenticationError as exc:
        outcome.failed = [Failed.of(p, errors_text(exc), exc) for p in chunk]
        outcome.fatal = exc
        return outcome
    except QuickBooksError as exc:
        unknown = not isinstance(exc, ValidationError)
        outcome.failed = [
            Failed.of(p, errors_text(exc), exc, outcome_unknown=unknown) for p in chunk
        ]
        return outcome

    clashes: list[Pending] = []
    for n, pending in enumerate(chunk):
        result = results[str(n)]
        if result.ok and result.entity and result.entity.get("Id"):
            outcome.linked.append(Linked(pending, result.entity))
        elif isinstance(result.error, DuplicateNameError):
            clashes.append(pending)
        else:
            error = result.error
            message = errors_text(error) if error else "QuickBooks answered without a customer"
            unknown = error is None or error.retryable
            outcome.failed.append(Failed.of(pending, message, error, outcome_unknown=unknown))
    if clashes:
        try:
            outcome.extend(resolve_clashes(client, clashes, context))
        except Exception as exc:  # the customers created above are kept, only clashes fail
            log.exception("unexpected error resolving %d name clashes", len(clashes))
            outcome.failed += [
                Failed.of(p, f"Internal error: {errors_text(exc)}", outcome_unknown=True)
                for p in clashes
            ]
    return outcome


def resolve_clashes(
    client: QuickBooksClient, clashes: Sequence[Pending], context: CallContext
) -> StepOutcome:
    """6240: adopt the holder if it is this record; else make the name distinct and resend."""
    outcome = StepOutcome()
    try:
        existing = find_by_names(client, [Lookup(p.mapped) for p in clashes], context)
    except QuickBooksError as exc:
        for pending in clashes:
            message = (
                f"The name {pending.mapped.display_name!r} is taken in QuickBooks and its "
                f"holder could not be checked: {errors_text(exc)}"
            )
            outcome.failed.append(Failed.of(pending, message, exc))
        if isinstance(exc, AuthenticationError):
            outcome.fatal = exc
        return outcome
    for pending in clashes:
        customer = existing.get(pending.ref)
        if customer is not None:
            outcome.linked.append(Linked(pending, customer, "a name clash"))
        elif pending.mapped.renamed_from is None:
            outcome.requeue.append(Pending(with_distinct_name(pending.mapped), pending.attempt))
        else:
            message = (
                f"Both {pending.mapped.renamed_from!r} and {pending.mapped.display_name!r} are "
                "taken by other QuickBooks customers, vendors or employees"
            )
            error = DuplicateNameError(message, code="6240")
            outcome.failed.append(Failed.of(pending, message, error))
    return outcome
