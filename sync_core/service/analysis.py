"""How far the sync has come: per kind and overall, in one grouped query per table."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.duplicates import duplicate_counts, identity_column
from sync_core.mis.schema import CustomerTable, MisSchema
from sync_core.mis.tracking import count_by_status


@dataclass(frozen=True)
class StatusCounts:
    total: int = 0  # every record in the MIS table
    synced: int = 0
    not_synced: int = 0  # within the sync scope
    failed: int = 0  # within the sync scope
    in_progress: int = 0
    out_of_scope: int = 0  # waiting records the office's scope leaves out: never synced
    synced_without_id: int = 0  # at 1 with no QuickBooks Id in the MIS (of the synced ones)
    shared_identity: int = 0  # records whose RegNo / tracking id another record also has

    @property
    def in_scope(self) -> int:
        return self.total - self.out_of_scope

    @property
    def progress_pct(self) -> float:
        # of the records in scope, rounded down: 2,049 of 2,050 is 99.9 %, never 100 %
        scope = self.in_scope
        return math.floor(1000 * self.synced / scope) / 10 if scope > 0 else 0.0

    def __add__(self, other: StatusCounts) -> StatusCounts:
        return StatusCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
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
                "total_out_of_scope": overall.out_of_scope,
                "total_synced_without_id": overall.synced_without_id,
                "total_shared_identity": overall.shared_identity,
                "progress_pct": overall.progress_pct,
            },
        }


def count_statuses(
    conn: Connection, table: CustomerTable, shared: sa.Column[Any] | None = None
) -> StatusCounts:
    tally = count_by_status(conn, table)
    by_status = tally.by_status
    return StatusCounts(
        total=sum(by_status.values()) + tally.out_of_scope,
        synced=by_status.get(SyncStatus.SYNCED, 0),
        not_synced=by_status.get(SyncStatus.NOT_SYNCED, 0),
        failed=by_status.get(SyncStatus.FAILED, 0),
        in_progress=by_status.get(SyncStatus.IN_PROGRESS, 0),
        out_of_scope=tally.out_of_scope,
        synced_without_id=tally.synced_without_id,
        shared_identity=0 if shared is None else duplicate_counts(conn, shared)["records"],
    )


def analyze(conn: Connection, schema: MisSchema, *, shared_identity: bool = True) -> SyncAnalysis:
    """``shared_identity=False`` leaves ``shared_identity`` at 0 (not counted): the count groups
    on an identity column the MIS may not index (about 0.9 s on 100,000 applicants on MariaDB,
    where the status counts take 0.03 s), and the dashboard's counts do not show it."""
    return SyncAnalysis(
        *(_counts(conn, schema, kind, shared_identity) for kind in (APPLICANT, STUDENT))
    )


def _counts(
    conn: Connection, schema: MisSchema, kind: RecordKind, shared_identity: bool
) -> StatusCounts:
    found = identity_column(schema, kind) if shared_identity else None
    return count_statuses(conn, schema.customers(kind), found[0] if found else None)
