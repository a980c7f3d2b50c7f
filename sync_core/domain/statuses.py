"""The named states of the product: a record's sync status, a run's state, scope and outcomes.

String enumerations compare equal to their values, so they are stored in and read from the
database as plain strings and integers.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class SyncStatus(IntEnum):
    """``QuickBk_Status`` in the MIS (the seed's codes)."""

    NOT_SYNCED = 0
    SYNCED = 1
    FAILED = 2
    IN_PROGRESS = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")

    @classmethod
    def of(cls, raw: object) -> SyncStatus:
        """The status a MIS value stands for: NULL (a row the migration found) is not synced."""
        if raw is None:
            return cls.NOT_SYNCED
        try:
            return cls(int(raw))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return cls.NOT_SYNCED


class RunState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed with errors"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process died or was replaced; found by a later run

    @property
    def is_final(self) -> bool:
        return self is not RunState.RUNNING


class Scope(StrEnum):
    """What a run syncs: a kind of record, both, or chosen records (a push of one record)."""

    APPLICANTS = "applicants"
    STUDENTS = "students"
    ALL = "all"
    RECORD = "record"
    UPDATES = "updates"  # only changes of records already in QuickBooks: nothing is created


class Outcome(StrEnum):
    """What a run's per-record entry tells the operator."""

    FAILED = "failed"
    RENAMED = "renamed"  # sent under a distinct name because the real one was taken
    ADOPTED = "adopted"  # already in QuickBooks: linked, not created again
    UPDATED = "updated"  # a synced record's changes were sent to its customer
    CONTINUED = "continued"  # an applicant's customer became the student's (or the reverse)
    WAITING = "waiting"  # waits for its applicant's customer (SYNC_STUDENT_CUSTOMER=continue)


RUN_COUNTERS = (
    "planned",
    "done",
    "synced",
    "failed",
    "adopted",
    "renamed",
    "reconciled",
    "released",
    "updated",  # synced records whose changes were sent (sync_core.sync.update)
    "unchanged",  # synced records compared in the run with nothing to send
)
