"""How far the sync has come: per kind and overall, in one grouped query per table."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, RecordKind
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import CustomerTable, MisSchema
from sync_core.mis.tracking import count_by_status


@dataclass(frozen=True)
class StatusCounts:
    total: int = 0
    synced: int = 0
    not_synced: int = 0
    failed: int = 0
    in_progress: int = 0

    @property
    def progress_pct(self) -> float:
        # rounded down: 2,049 of 2,050 is 99.9 %, never a misleading 100 %
        return math.floor(1000 * self.synced / self.total) / 10 if self.total else 0.0

    def __add__(self, other: StatusCounts) -> StatusCounts:
        return StatusCounts(
            total=self.total + other.total,
            synced=self.synced + other.synced,
            not_synced=self.not_synced + other.not_synced,
            failed=self.failed + other.failed,
            in_progress=self.in_progress + other.in_progress,
        )

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "progress_pct": self.progress_pct}


@dataclass(frozen=True)
class SyncAnalysis:
    applicants: StatusCounts
    students: StatusCounts

    @property
    def overall(self) -> StatusCounts:
        return self.applicants + self.students

    def for_kind(self, kind: RecordKind) -> StatusCounts:
        return self.applicants if kind is APPLICANT else self.students

    def as_dict(self) -> dict[str, dict[str, float | int]]:
        """The shape of the seed's ``analyze`` answer (plus progress and in-progress counts)."""
        overall = self.overall
        return {
            "applicants": self.applicants.as_dict(),
            "students": self.students.as_dict(),
            "overall": {
                "total_customers": overall.total,
                "total_synced": overall.synced,
                "total_not_synced": overall.not_synced,
                "total_failed": overall.failed,
                "total_in_progress": overall.in_progress,
                "progress_pct": overall.progress_pct,
            },
        }


def count_statuses(conn: Connection, table: CustomerTable) -> StatusCounts:
    by_status = count_by_status(conn, table)
    return StatusCounts(
        total=sum(by_status.values()),
        synced=by_status.get(SyncStatus.SYNCED, 0),
        not_synced=by_status.get(SyncStatus.NOT_SYNCED, 0),
        failed=by_status.get(SyncStatus.FAILED, 0),
        in_progress=by_status.get(SyncStatus.IN_PROGRESS, 0),
    )


def analyze(conn: Connection, schema: MisSchema) -> SyncAnalysis:
    return SyncAnalysis(
        applicants=count_statuses(conn, schema.applicants),
        students=count_statuses(conn, schema.students),
    )
