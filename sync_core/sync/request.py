"""What a run is asked to do, what it shows while it goes on, and what it leaves."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sync_core import defaults
from sync_core.domain.errors import InvalidRequest
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.statuses import RUN_COUNTERS, RunState, Scope, SyncStatus
from sync_core.store.runs import RunSummary


@dataclass(frozen=True)
class SyncRequest:
    scope: Scope
    operator: str
    batch_size: int = defaults.BATCH_SIZE
    retry_failed: bool = False
    records: tuple[tuple[str, int], ...] = ()  # (kind, row_id) for scope "record"
    limit: int | None = None  # "the next N": send at most this many records (None: all)
    # also send the changes of records already synced (scope "updates" sends only those)
    include_updates: bool = False

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "scope", Scope(self.scope))
        except ValueError:
            raise InvalidRequest(f"scope must be one of {', '.join(Scope)}") from None
        if not self.operator or not self.operator.strip():
            raise InvalidRequest("an operator name is required to push records")
        if not 1 <= self.batch_size <= defaults.MAX_BATCH_SIZE:
            raise InvalidRequest(f"batch size must be 1..{defaults.MAX_BATCH_SIZE}")
        if self.scope is Scope.RECORD and not self.records:
            raise InvalidRequest("scope 'record' needs the records to push")
        if self.limit is not None and self.limit < 1:
            raise InvalidRequest("a run limit must be at least 1 record")

    @property
    def kinds(self) -> list[RecordKind]:
        """The kinds whose records not yet synced the run creates (none for scope "updates")."""
        if self.scope is Scope.RECORD:
            return [k for k in (APPLICANT, STUDENT) if any(r[0] == k.name for r in self.records)]
        return {Scope.APPLICANTS: [APPLICANT], Scope.STUDENTS: [STUDENT], Scope.UPDATES: []}.get(
            self.scope, [APPLICANT, STUDENT]
        )

    @property
    def wants_updates(self) -> bool:
        """Whether the run also sends the changes of records already synced."""
        return self.include_updates or self.scope is Scope.UPDATES

    @property
    def update_kinds(self) -> list[RecordKind]:
        """The kinds whose synced records the run updates, when it updates."""
        if self.scope is Scope.UPDATES:
            return [APPLICANT, STUDENT]
        return self.kinds

    @property
    def statuses(self) -> tuple[SyncStatus, ...]:
        if self.retry_failed or self.scope is Scope.RECORD:
            return (SyncStatus.NOT_SYNCED, SyncStatus.FAILED)
        return (SyncStatus.NOT_SYNCED,)

    def row_ids(self, kind: RecordKind) -> list[int] | None:
        if self.scope is not Scope.RECORD:
            return None
        return [row_id for k, row_id in self.records if k == kind.name]


@dataclass
class Progress:
    """The run's one tally: what the CLI and the dashboard show while it goes on."""

    run_id: int
    scope: Scope
    operator: str
    planned: int = 0
    done: int = 0
    synced: int = 0
    failed: int = 0
    adopted: int = 0
    renamed: int = 0
    reconciled: int = 0
    released: int = 0
    updated: int = 0  # synced records whose changes were sent
    unchanged: int = 0  # synced records compared with nothing to send
    started: float = field(default_factory=time.monotonic)
    finished: bool = False

    @property
    def remaining(self) -> int:
        return max(self.planned - self.done, 0)

    @property
    def records_per_s(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.records_per_s
        return self.remaining / rate if rate > 0 else None

    def counters(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in RUN_COUNTERS}


@dataclass(frozen=True)
class SyncResult:
    run: RunSummary

    @property
    def all_synced(self) -> bool:
        return self.run.state is RunState.COMPLETED and self.run.failed == 0
