"""The operator's worklist: records by status, type, campus, intake and "has warnings", a page
at a time, each with what its last push left (the reason it failed and what to do); the current
failures as one list (for a CSV); and the Preview's records with warnings, across all records.

"Has warnings" is known only after mapping, so those pages are found by mapping the matching
records in chunks (keyset by the sort order) until the page is full, within a bound of records
per page so that a page never takes long however rare warnings are.

(Functions over the facade's public attributes, for the dashboard; to be folded into the facade.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind, kind_named
from sync_core.domain.mapping import MappedCustomer
from sync_core.domain.records import SourceRecord
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.reader import fetch_records
from sync_core.mis.worklist import (
    Position,
    RowFilter,
    SortKey,
    WorkStatus,
    count_rows,
    lookup_choices,
    page_rows,
)
from sync_core.service.analysis import StatusCounts
from sync_core.store import record_state

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService

__all__ = [
    "Cursor",
    "SortKey",
    "WorkItem",
    "WorkPage",
    "WorkStatus",
    "WorklistFilter",
    "failures",
    "lookups_for_filters",
    "preview_with_warnings",
    "worklist_page",
]

PAGE_SIZE = 50
SCAN_CHUNK = 300  # records mapped at a time while looking for warnings
SCAN_BOUND = 6000  # records mapped at most for one page (the page says where it stopped)
KINDS = (APPLICANT, STUDENT)


@dataclass(frozen=True)
class WorklistFilter:
    kinds: tuple[str, ...] = ("applicant", "student")
    statuses: tuple[WorkStatus, ...] = ()
    campus: int | None = None
    intake: int | None = None
    has_warnings: bool = False
    sort: SortKey = SortKey.ROW
    descending: bool = False

    @property
    def rows(self) -> RowFilter:
        return RowFilter(self.statuses, self.campus, self.intake)

    def record_kinds(self) -> list[RecordKind]:
        wanted = {kind_named(k) for k in self.kinds}
        return [k for k in KINDS if k in wanted]


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after this record of this kind. It carries the count of
    matching records of the page that made it, so that the next page does not count again."""

    kind: str
    position: Position
    matching: int | None = None


@dataclass(frozen=True)
class WorkItem:
    kind: str
    row_id: int
    status: SyncStatus
    source: SourceRecord
    mapped: MappedCustomer
    state: dict[str, Any] = field(default_factory=dict)  # attempts, last error, hint

    @property
    def error_message(self) -> str:
        return str(self.state.get("error_message") or "")

    @property
    def error_code(self) -> str:
        return str(self.state.get("error_code") or "")

    @property
    def what_to_do(self) -> str:
        return str(self.state.get("error_hint") or "")

    @property
    def attempts(self) -> int:
        return int(self.state.get("attempt") or 0)

    @property
    def has_warnings(self) -> bool:
        return bool(self.mapped.warnings or self.mapped.error)


@dataclass(frozen=True)
class WorkPage:
    items: list[WorkItem]
    next_cursor: Cursor | None  # None: nothing after this page
    matching: int  # records matching the SQL filters (all but "has warnings")
    scanned: int  # records mapped to find this page
    bounded: bool = False  # the scan stopped at its bound before the page was full


def _mapped_rows(
    service: SyncService, kind: RecordKind, row_ids: Sequence[int]
) -> dict[int, tuple[SourceRecord, MappedCustomer]]:
    with service.mis_engine.connect() as conn:
        page = fetch_records(conn, service.schema, kind, row_ids=row_ids)
    mapped = page.mapped(service.mapping_options)
    return {r.row_id: (r, m) for r, m in zip(page.records, mapped, strict=True)}


def _states(service: SyncService, kind: RecordKind, row_ids: Sequence[int]) -> dict[int, Any]:
    with service.store_engine.connect() as conn:
        return {i: dict(s) for i, s in record_state.load(conn, kind, row_ids).items()}


def _scan(
    service: SyncService, flt: WorklistFilter, after: Cursor | None, limit: int
) -> tuple[list[WorkItem], Cursor | None, int, bool]:
    """(items, the position after the last one looked at, records mapped, bound reached)."""
    found: list[WorkItem] = []
    scanned = 0
    last: Cursor | None = after
    kinds = flt.record_kinds()
    if after is not None:
        names = [k.name for k in kinds]
        kinds = kinds[names.index(after.kind) :] if after.kind in names else []
    for kind in kinds:
        position = after.position if after is not None and after.kind == kind.name else None
        while len(found) < limit:
            chunk = SCAN_CHUNK if flt.has_warnings else limit - len(found)
            with service.mis_engine.connect() as conn:
                rows = page_rows(
                    conn,
                    service.schema,
                    kind,
                    flt.rows,
                    limit=chunk,
                    after=position,
                    sort=flt.sort,
                    descending=flt.descending,
                )
            if not rows:
                break
            mapped = _mapped_rows(service, kind, [r.row_id for r in rows])
            states = _states(service, kind, [r.row_id for r in rows])
            for row in rows:
                position = row.position
                last = Cursor(kind.name, row.position)
                scanned += 1
                source, customer = mapped[row.row_id]
                item = WorkItem(
                    kind.name, row.row_id, row.status, source, customer, states.get(row.row_id, {})
                )
                if flt.has_warnings and not item.has_warnings:
                    continue
                found.append(item)
                if len(found) == limit:
                    break
            if len(found) == limit:
                break
            if len(rows) < chunk:
                break  # this kind is done
            if scanned >= SCAN_BOUND:
                return found, last, scanned, True
    return found, last, scanned, False


def _more_after(service: SyncService, flt: WorklistFilter, cursor: Cursor) -> bool:
    """Does any record match the SQL filters after ``cursor``?"""
    kinds = flt.record_kinds()
    names = [k.name for k in kinds]
    for kind in kinds[names.index(cursor.kind) :]:
        position = cursor.position if kind.name == cursor.kind else None
        with service.mis_engine.connect() as conn:
            if page_rows(
                conn,
                service.schema,
                kind,
                flt.rows,
                limit=1,
                after=position,
                sort=flt.sort,
                descending=flt.descending,
            ):
                return True
    return False


def worklist_page(
    service: SyncService,
    flt: WorklistFilter,
    *,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> WorkPage:
    """One page of the worklist, in the filter's sort order, applicants before students.

    Keyset pages: each costs the same however deep (after the cursor's sort value and row id).
    The count of matching records comes with the cursor (counted for the first page): from a
    recent analysis when the filter is by status only and there is one, else one count query.
    """
    matching = after.matching if after is not None else None
    if matching is None:
        matching = count_matching(service, flt)
    items, last, scanned, bounded = _scan(service, flt, after, limit)
    more = last is not None and (
        bounded or (len(items) == limit and _more_after(service, flt, last))
    )
    cursor = replace(last, matching=matching) if more and last is not None else None
    return WorkPage(items, cursor, matching, scanned, bounded)


def count_matching(service: SyncService, flt: WorklistFilter) -> int:
    """Records matching the SQL filters (all but "has warnings")."""
    kinds = flt.record_kinds()
    recent = service.recent_counts() if flt.campus is None and flt.intake is None else None
    if recent is not None:
        return sum(_by_status(recent.for_kind(kind), flt.statuses) for kind in kinds)
    with service.mis_engine.connect() as conn:
        return sum(count_rows(conn, service.schema, kind, flt.rows) for kind in kinds)


def _by_status(counts: StatusCounts, statuses: tuple[WorkStatus, ...]) -> int:
    if not statuses:
        return counts.total
    of = {
        WorkStatus.FAILED: counts.failed,
        WorkStatus.NOT_SYNCED: counts.not_synced,
        WorkStatus.IN_PROGRESS: counts.in_progress,
        WorkStatus.SYNCED: counts.synced,
        WorkStatus.OUT_OF_SCOPE: counts.out_of_scope,
    }
    return sum(of[s] for s in set(statuses))


def failures(service: SyncService) -> Iterator[WorkItem]:
    """Every record that failed and still waits (status 2, within the sync scope), with the
    reason and what to do from its record state (its last attempt, whichever run made it)."""
    flt = WorklistFilter(statuses=(WorkStatus.FAILED,))
    after: Cursor | None = None
    while True:
        items, last, _, _ = _scan(service, flt, after, SCAN_CHUNK)
        yield from items
        if len(items) < SCAN_CHUNK or last is None:
            return
        after = last


def lookups_for_filters(service: SyncService) -> dict[str, list[tuple[int, str]]]:
    """The campuses and intakes an operator can filter by (empty where the MIS has none)."""
    with service.mis_engine.connect() as conn:
        return {name: lookup_choices(conn, service.schema, name) for name in ("campus", "intake")}


def preview_statuses(include_failed: bool) -> tuple[WorkStatus, ...]:
    """The records the Preview shows: those the next sync would send."""
    if include_failed:
        return (WorkStatus.NOT_SYNCED, WorkStatus.FAILED)
    return (WorkStatus.NOT_SYNCED,)


def preview_with_warnings(
    service: SyncService,
    kind: RecordKind | str,
    *,
    include_failed: bool = False,
    after: Cursor | None = None,
    limit: int = 25,
) -> WorkPage:
    """The Preview's "only with warnings": the next ``limit`` records the next sync would send
    that carry a warning or cannot be sent, from all records (not one page)."""
    flt = WorklistFilter(
        kinds=(kind_named(kind).name,),
        statuses=preview_statuses(include_failed),
        has_warnings=True,
    )
    return worklist_page(service, flt, after=after, limit=limit)
