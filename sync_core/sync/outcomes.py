"""The values that move between the stages of a run: a record on its way, and what became of it.

Every stage answers a :class:`StepOutcome`; :mod:`sync_core.sync.write_back` writes any of
them back the same way, and the run's :class:`~sync_core.sync.request.Progress` counts them in
one place (:func:`tally`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sync_core.database import database_error_text
from sync_core.domain.errors import SyncError
from sync_core.domain.kinds import RecordRef
from sync_core.domain.mapping import MappedCustomer
from sync_core.quickbooks.errors import QuickBooksError
from sync_core.store.record_state import Attempt
from sync_core.sync.request import Progress

REQUESTID_MAX = 36  # QuickBooks' limit for a batch's requestid
SINGLE_REQUESTID_MAX = 50  # and for any other request's


@dataclass(frozen=True)
class Pending:
    """A claimed and mapped record on its way to QuickBooks."""

    mapped: MappedCustomer
    attempt: Attempt
    prelinked: str | None = None  # a QuickBooks Id the MIS already holds for it

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.mapped.kind, self.mapped.row_id)


@dataclass(frozen=True)
class Linked:
    """A record that is now a QuickBooks customer: created, or found and adopted."""

    pending: Pending
    customer: dict[str, Any]
    adopted_because: str | None = None  # why an existing customer was linked, when it was

    @property
    def qk_id(self) -> str:
        return str(self.customer["Id"])

    @property
    def display_name(self) -> str:
        return str(self.customer.get("DisplayName") or self.pending.mapped.display_name)


@dataclass(frozen=True)
class Failed:
    """A record that could not be synced this time, with the reason and what to do."""

    ref: RecordRef
    identity: str
    display_name: str | None
    code: str | None
    message: str
    hint: str | None
    outcome_unknown: bool = False  # it may have been created: look before sending it again

    @classmethod
    def of(
        cls,
        pending: Pending,
        message: str,
        error: QuickBooksError | None = None,
        *,
        outcome_unknown: bool = False,
        code: str | None = None,
        hint: str | None = None,
    ) -> Failed:
        return cls(
            ref=pending.ref,
            identity=pending.mapped.identity,
            display_name=pending.mapped.display_name,
            code=code or ((error.code or error.kind) if error is not None else "internal"),
            message=message,
            hint=hint
            if hint is not None
            else (
                error.what_to_do
                if error is not None
                else "Retry the record; report it if it recurs."
            ),
            outcome_unknown=outcome_unknown,
        )


@dataclass
class StepOutcome:
    linked: list[Linked] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    requeue: list[Pending] = field(default_factory=list)  # to send again under a new name
    fatal: Exception | None = None  # the run cannot go on (the connection is gone)
    # when the run stops: records QuickBooks certainly did not take (back to where they were),
    # and records it may have taken (back to 0, looked up before they are ever sent again)
    returned: list[Pending] = field(default_factory=list)
    maybe_sent: list[Pending] = field(default_factory=list)

    def extend(self, other: StepOutcome) -> None:
        self.linked += other.linked
        self.failed += other.failed
        self.requeue += other.requeue
        self.returned += other.returned
        self.maybe_sent += other.maybe_sent
        self.fatal = self.fatal or other.fatal


def tally(progress: Progress, outcome: StepOutcome, *, recovering: bool = False) -> None:
    """Count an outcome once written back. Recovery (records a dead run left) counts apart:
    those records were not part of this run's plan."""
    if recovering:
        progress.reconciled += len(outcome.linked)
        return
    progress.done += len(outcome.linked) + len(outcome.failed)
    progress.synced += len(outcome.linked)
    progress.failed += len(outcome.failed)
    progress.adopted += sum(1 for link in outcome.linked if link.adopted_because)
    progress.renamed += sum(
        1
        for link in outcome.linked
        if not link.adopted_because and link.pending.mapped.renamed_from
    )


def errors_text(error: BaseException | None) -> str:
    """One readable line for an error, never a traceback, SQL text or a record's values (a
    database error's message carries its statement and parameters: only its kind is told)."""
    if error is None:
        return ""
    if isinstance(error, SyncError):
        return error.describe()
    told = database_error_text(error)
    if told is not None:
        return told
    return f"Unexpected error ({type(error).__name__}); the details are in the server log"


def batch_requestid(chunk: Sequence[Pending]) -> str:
    """The same records at the same attempts with the same names -> the same requestid (within
    QuickBooks' 36 characters), so a retried batch gets QuickBooks' first answer."""
    parts = sorted(
        f"{p.mapped.kind}:{p.mapped.row_id}:{p.attempt.attempt}:{p.mapped.display_name}"
        for p in chunk
    )
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()
    return ("b-" + digest)[:REQUESTID_MAX]


def single_requestid(pending: Pending) -> str:
    """A single create's requestid: the record at its attempt under its name, as for a batch
    (within QuickBooks' 50 characters; "s-" keeps it apart from any batch's)."""
    mapped = pending.mapped
    part = f"{mapped.kind}:{mapped.row_id}:{pending.attempt.attempt}:{mapped.display_name}"
    digest = hashlib.sha256(part.encode("utf-8")).hexdigest()
    return ("s-" + digest)[:SINGLE_REQUESTID_MAX]
