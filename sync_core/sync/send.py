"""Stage 5, send: one batch request of up to 30 creates, or one single create, and the name
clashes they come back with.

Runs on a worker thread; touches no database. Each request carries a ``requestid`` derived from
its records, their attempts and names, so a retried request returns QuickBooks' first answer
instead of a second customer. A 6240 (name taken) adopts the holder when it is this record,
otherwise the record goes back to the queue under a distinct name.

A single create is a batch of one sent to ``POST /customer``: the same record, claimed and
marked "maybe sent" the same way before it leaves, the same kind of ``requestid``
(:func:`~sync_core.sync.outcomes.single_requestid`), the same answers. It spends QuickBooks'
allowance of ordinary requests that batches leave unused (:class:`Lane.SPARE
<sync_core.quickbooks.limiter.Lane>`): 40 batch requests a minute carry 1,200 records, the 460
other requests up to 460 more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sync_core.database import log_failure
from sync_core.domain.kinds import RecordRef
from sync_core.domain.names import with_distinct_name
from sync_core.quickbooks.client import BatchItemResult, QuickBooksClient, batch_create_item
from sync_core.quickbooks.errors import (
    AuthenticationError,
    DuplicateNameError,
    QuickBooksError,
    ThrottledError,
    ValidationError,
)
from sync_core.quickbooks.limiter import Lane
from sync_core.quickbooks.ports import CallContext
from sync_core.sync.existing import Lookup, find_by_ids, find_by_names, is_ours
from sync_core.sync.outcomes import (
    Failed,
    Linked,
    Pending,
    StepOutcome,
    batch_requestid,
    errors_text,
    single_requestid,
)

log = logging.getLogger(__name__)


def send_chunk(
    client: QuickBooksClient, chunk: Sequence[Pending], context: CallContext
) -> StepOutcome:
    """One batch request of up to 30 creates. Never raises: a bug must not lose the batch, so
    it is recorded per record."""
    return _guarded(_send_batch, client, chunk, context)


def send_single(client: QuickBooksClient, pending: Pending, context: CallContext) -> StepOutcome:
    """One record by ``POST /customer``, in the allowance batches leave. Never raises."""
    return _guarded(_send_single, client, [pending], context)


def _guarded(
    send: Callable[[QuickBooksClient, Sequence[Pending], CallContext], StepOutcome],
    client: QuickBooksClient,
    chunk: Sequence[Pending],
    context: CallContext,
) -> StepOutcome:
    try:
        return send(client, chunk, context)
    except Exception as exc:
        log_failure(log, "unexpected error sending %d records", len(chunk))
        return StepOutcome(
            failed=[
                Failed.of(p, f"Internal error: {errors_text(exc)}", outcome_unknown=True)
                for p in chunk
            ]
        )


def request_failed(chunk: Sequence[Pending], exc: QuickBooksError) -> StepOutcome:
    """The whole request failed: the run stops (nothing failed) or every record fails."""
    outcome = StepOutcome()
    if exc.stops_run:  # no record failed: QuickBooks cannot be used; the run stops
        outcome.fatal = exc
        if isinstance(exc, AuthenticationError | ThrottledError):
            outcome.returned = list(chunk)  # refused before anything was done
        else:
            outcome.maybe_sent = list(chunk)  # no answer: it may have been taken
        return outcome
    unknown = not isinstance(exc, ValidationError)
    outcome.failed = [Failed.of(p, errors_text(exc), exc, outcome_unknown=unknown) for p in chunk]
    return outcome


def _send_batch(
    client: QuickBooksClient, chunk: Sequence[Pending], context: CallContext
) -> StepOutcome:
    batch = [batch_create_item(str(n), p.mapped.payload) for n, p in enumerate(chunk)]
    try:
        results = client.batch(batch, requestid=batch_requestid(chunk), context=context)
    except QuickBooksError as exc:
        return request_failed(chunk, exc)
    return _answers(client, [(p, results[str(n)]) for n, p in enumerate(chunk)], context)


def _send_single(
    client: QuickBooksClient, chunk: Sequence[Pending], context: CallContext
) -> StepOutcome:
    (pending,) = chunk
    try:
        customer = client.create_customer(
            pending.mapped.payload,
            requestid=single_requestid(pending),
            context=context,
            lane=Lane.SPARE,
        )
    except DuplicateNameError as exc:  # an item's answer, as in a batch
        return _answers(client, [(pending, BatchItemResult("0", error=exc))], context)
    except QuickBooksError as exc:
        return request_failed(chunk, exc)
    return _answers(client, [(pending, BatchItemResult("0", entity=customer))], context)


def _answers(
    client: QuickBooksClient,
    answered: Sequence[tuple[Pending, BatchItemResult]],
    context: CallContext,
) -> StepOutcome:
    """Each record's answer: a customer, a name clash (resolved here) or a failure."""
    outcome = StepOutcome()
    clashes: list[tuple[Pending, DuplicateNameError]] = []
    for pending, result in answered:
        if result.ok and result.entity and result.entity.get("Id"):
            outcome.linked.append(Linked(pending, result.entity))
        elif isinstance(result.error, DuplicateNameError):
            clashes.append((pending, result.error))
        else:
            error = result.error
            message = errors_text(error) if error else "QuickBooks answered without a customer"
            unknown = error is None or error.retryable
            outcome.failed.append(Failed.of(pending, message, error, outcome_unknown=unknown))
    if clashes:
        try:
            outcome.extend(resolve_clashes(client, clashes, context))
        except Exception as exc:  # the customers created above are kept, only clashes fail
            log_failure(log, "unexpected error resolving %d name clashes", len(clashes))
            outcome.failed += [
                Failed.of(p, f"Internal error: {errors_text(exc)}", outcome_unknown=True)
                for p, _ in clashes
            ]
    return outcome


def resolve_clashes(
    client: QuickBooksClient,
    clashes: Sequence[tuple[Pending, DuplicateNameError]],
    context: CallContext,
) -> StepOutcome:
    """6240: adopt the holder if it is this record; else make the name distinct and resend.

    The holder is read by the Id QuickBooks names in the error's detail when it does (a name
    look-up could miss it: QuickBooks compares names without regard to case, and a backslash
    or apostrophe makes a query fragile); by the record's names otherwise.
    """
    outcome = StepOutcome()
    pending = [p for p, _ in clashes]
    try:
        holder_ids = {p.ref: e.existing_id for p, e in clashes if e.existing_id}
        holders = find_by_ids(client, holder_ids.values(), context) if holder_ids else {}
        existing = {
            ref: holders[i]
            for ref, i in holder_ids.items()
            if i in holders and is_ours(holders[i], next(p.mapped for p in pending if p.ref == ref))
        }
        unnamed = [p for p in pending if p.ref not in holder_ids]
        unchecked: set[RecordRef] = set()
        lookups = [Lookup(p.mapped) for p in unnamed]
        existing.update(find_by_names(client, lookups, context, unchecked=unchecked))
    except QuickBooksError as exc:
        if exc.stops_run:
            outcome.fatal = exc
            outcome.returned = list(pending)  # refused with 6240: nothing was created
            return outcome
        for p in pending:
            message = (
                f"The name {p.mapped.display_name!r} is taken in QuickBooks and its "
                f"holder could not be checked: {errors_text(exc)}"
            )
            outcome.failed.append(Failed.of(p, message, exc))
        return outcome
    for p in pending:
        customer = existing.get(p.ref)
        if customer is not None:
            outcome.linked.append(Linked(p, customer, "a name clash"))
        elif p.ref in unchecked:
            outcome.failed.append(
                Failed.of(
                    p,
                    f"The name {p.mapped.display_name!r} is taken in QuickBooks, which refuses "
                    "to search for it, so its holder cannot be checked: not sent again.",
                    code="4000",
                    hint="Correct the name in the MIS (an unusual character), then retry.",
                )
            )
        elif p.mapped.renamed_from is None:
            outcome.requeue.append(Pending(with_distinct_name(p.mapped), p.attempt))
        else:
            message = (
                f"Both {p.mapped.renamed_from!r} and {p.mapped.display_name!r} are "
                "taken by other QuickBooks customers, vendors or employees"
            )
            error = DuplicateNameError(message, code="6240")
            outcome.failed.append(Failed.of(p, message, error))
    return outcome
