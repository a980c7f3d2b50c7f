"""What changed in the MIS since records were pushed, and the applicant-student links: counts for
``analyze`` and the Overview, the field-by-field Preview of updates, the pairs of the Reconcile
page and the line the Records and Preview pages show for a record that is one of a pair.

Counting reads the MIS and the product's store only (no QuickBooks read): a synced record is
unchanged, changed (field by field against what was last sent), never compared yet (synced
before the product remembered what it sent: compared at its first update, Preview page or
reconciliation), marked for a re-push, or cannot be sent. The Preview reads the customers of the
records it shows whose last-sent fields are not known (one read per page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from sync_core.domain import standing
from sync_core.domain.changes import FieldChange, diff
from sync_core.domain.clock import utcnow
from sync_core.domain.enrolment import describe_link
from sync_core.domain.errors import InvalidRequest
from sync_core.domain.fingerprint import canonical_like, canonical_of_mapped
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind, kind_named
from sync_core.domain.mapping import MappedCustomer
from sync_core.domain.statuses import SyncStatus
from sync_core.mis import enrolment
from sync_core.mis.linked import linked_pages
from sync_core.mis.reader import fetch_records
from sync_core.service.preview import clamp_limit
from sync_core.store import sent

if TYPE_CHECKING:  # the facade will call these modules: no import cycle
    from sync_core.service.facade import SyncService

PAGE = 1000
WAITING_STATUSES = (SyncStatus.NOT_SYNCED, SyncStatus.FAILED)


@dataclass(frozen=True)
class KindChanges:
    synced: int = 0  # records linked to a customer (status 1 with an Id)
    unchanged: int = 0
    changed: int = 0  # changed in the MIS since last sent
    earlier_shape: int = 0  # of the changed: customers of the earlier system's shape
    not_compared: int = 0  # synced before the product remembered what it sent
    marked: int = 0  # marked for a re-push
    cannot_send: int = 0  # their mapping fails now (e.g. a blank RegNo)
    carried_on: int = 0  # applicants whose customer is their student's
    to_continue: int = 0  # waiting to carry on their counterpart's customer (continue)
    waiting: int = 0  # students waiting for their applicant's customer (continue)

    @property
    def to_update(self) -> int:
        """What the next run with updates compares with QuickBooks."""
        return self.changed + self.not_compared + self.marked

    def __add__(self, other: KindChanges) -> KindChanges:
        return KindChanges(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "to_update": self.to_update}


@dataclass(frozen=True)
class ChangesSummary:
    applicants: KindChanges
    students: KindChanges
    student_customer: str  # SYNC_STUDENT_CUSTOMER
    computed_at: dt.datetime

    @property
    def overall(self) -> KindChanges:
        return self.applicants + self.students

    def for_kind(self, kind: RecordKind) -> KindChanges:
        return self.applicants if kind is APPLICANT else self.students

    def as_dict(self) -> dict[str, Any]:
        return {
            "applicants": self.applicants.as_dict(),
            "students": self.students.as_dict(),
            "overall": self.overall.as_dict(),
            "student_customer": self.student_customer,
            "computed_at": self.computed_at.isoformat(),
        }


@dataclass(frozen=True)
class Scanned:
    """A synced record's place, from the MIS and the store."""

    row_id: int
    qk_id: str
    state: str  # sync_core.domain.standing.CHANGED / FIRST / ...
    earlier_shape: bool = False


def scan(service: SyncService, kind: RecordKind) -> Iterable[Scanned]:
    """Every synced record of ``kind`` with where it stands, a page of 1,000 at a time."""
    options = service.mapping_options
    table = service.schema.customers(kind)
    for page in linked_pages(service.mis_engine, table, PAGE):
        qk_ids = dict(page)
        with service.mis_engine.connect() as conn:
            records = fetch_records(conn, service.schema, kind, row_ids=list(qk_ids))
        with service.store_engine.connect() as conn:
            known = sent.load(conn, kind.name, qk_ids)
        rows = {r.row_id: r.row for r in records.records}
        for mapped in records.mapped(options):
            before = known.get(mapped.row_id)
            state = standing.classify(
                mapped, rows.get(mapped.row_id, {}), qk_ids[mapped.row_id], before
            )
            earlier = (
                state == standing.CHANGED
                and before is not None
                and "CustomerType" not in before.fields
            )
            yield Scanned(mapped.row_id, qk_ids[mapped.row_id], state, earlier)


def _continuations(service: SyncService, kind: RecordKind) -> tuple[list[tuple[int, Any]], int]:
    """(records that will carry on their counterpart's customer, students waiting for theirs)
    under SYNC_STUDENT_CUSTOMER=continue."""
    if service.settings.sync_student_customer != "continue":
        return [], 0
    with service.mis_engine.connect() as conn:
        found = enrolment.waiting_continuations(conn, service.schema, kind, WAITING_STATUSES)
    ready = [(row_id, other) for row_id, other in found if other.qk_id]
    waiting = sum(1 for _, other in found if not other.qk_id and other.pending)
    return ready, (waiting if kind is STUDENT else 0)


def changes_summary(service: SyncService) -> ChangesSummary:
    """How many synced records changed in the MIS since they were pushed, per kind."""
    counts: dict[str, KindChanges] = {}
    for kind in (APPLICANT, STUDENT):
        tally = {f.name: 0 for f in fields(KindChanges)}
        for found in scan(service, kind):
            tally["synced"] += 1
            key = {
                standing.UNCHANGED: "unchanged",
                standing.CHANGED: "changed",
                standing.FIRST: "not_compared",
                standing.REPUSH: "marked",
                standing.CANNOT: "cannot_send",
                standing.CARRIED_ON: "carried_on",
            }[found.state]
            tally[key] += 1
            tally["earlier_shape"] += int(found.earlier_shape)
        ready, waiting = _continuations(service, kind)
        tally["to_continue"], tally["waiting"] = len(ready), waiting
        counts[kind.name] = KindChanges(**tally)
    return ChangesSummary(
        counts[APPLICANT.name],
        counts[STUDENT.name],
        service.settings.sync_student_customer,
        utcnow(),
    )


# ---------------------------------------------------------------- the Preview of updates


@dataclass(frozen=True)
class ChangeItem:
    kind: str
    row_id: int
    identity: str
    reference: str
    display_name: str
    qk_id: str
    why: str  # changed / first comparison / re-push / carries on ...
    compared_with: str  # "what was last sent", "the customer in QuickBooks now", "not read"
    changes: list[FieldChange]
    warnings: list[str]
    note: str | None = None  # why it will not be sent (inactive, gone, another record's, ...)
    link: str | None = None  # the applicant-student link, when there is one

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes"] = [
            {"field": c.field, "before": c.before, "after": c.after, "kind": c.kind}
            for c in self.changes
        ]
        return data


@dataclass(frozen=True)
class ChangesPreview:
    kind: RecordKind
    limit: int
    offset: int
    total: int
    items: list[ChangeItem] = field(default_factory=list)
    read_calls: int = 0  # QuickBooks reads this page used


def preview_changes(
    service: SyncService,
    kind: RecordKind | str,
    *,
    limit: int | None = 10,
    offset: int = 0,
    read_quickbooks: bool = True,
) -> ChangesPreview:
    """The records the next run with updates would change (and, under continue, the records that
    would carry on their counterpart's customer), field by field, before -> after, with the
    mapping's warnings. "Before" is what was last sent; for a record never compared (or marked
    for a re-push), its customer in QuickBooks now, read for this page (one read call), unless
    ``read_quickbooks`` is False."""
    kind = kind_named(kind)
    if offset < 0:
        raise InvalidRequest("offset must not be negative")
    limit = clamp_limit(limit)
    waiting = [
        s.row_id
        for s in scan(service, kind)
        if s.state in (standing.CHANGED, standing.FIRST, standing.REPUSH, standing.CANNOT)
    ]
    ready, _ = _continuations(service, kind)
    entries: list[tuple[int, Any]] = [(row_id, None) for row_id in waiting] + ready
    page = entries[offset : offset + limit]
    items, calls = _items(service, kind, page, read_quickbooks) if page else ([], 0)
    return ChangesPreview(kind, limit, offset, len(entries), items, calls)


def _items(
    service: SyncService, kind: RecordKind, page: list[tuple[int, Any]], read_quickbooks: bool
) -> tuple[list[ChangeItem], int]:
    options = service.mapping_options
    mode = service.settings.sync_student_customer
    row_ids = [row_id for row_id, _ in page]
    with service.mis_engine.connect() as conn:
        records = fetch_records(conn, service.schema, kind, row_ids=row_ids)
    with service.store_engine.connect() as conn:
        known = sent.load(conn, kind.name, row_ids)
    mapped_by_row = {m.row_id: m for m in records.mapped(options)}
    others = dict(page)
    qk_by_row: dict[int, str] = {}
    for record in records.records:
        other = others.get(record.row_id)
        qk_by_row[record.row_id] = record.qk_id or (other.qk_id if other is not None else "") or ""

    def compared_with_quickbooks(row_id: int) -> bool:
        before = known.get(row_id)
        return (
            others.get(row_id) is not None
            or before is None
            or bool(before.mark)
            or before.qk_id != qk_by_row.get(row_id)
        )

    unknown = [qk_by_row[r] for r, _ in page if qk_by_row.get(r) and compared_with_quickbooks(r)]
    customers: dict[str, dict[str, Any]] = {}
    calls = 0
    read_failed: str | None = None
    if unknown and read_quickbooks:
        # the QuickBooks client only when a page has customers to read (analyze never does)
        from sync_core.quickbooks.errors import QuickBooksError
        from sync_core.sync import update

        try:
            customers = update.read_customers(service.client(), unknown)
            calls = (len(set(unknown)) + update.READ_CHUNK - 1) // update.READ_CHUNK
        except QuickBooksError as exc:
            read_failed = f"QuickBooks could not be read: {exc.describe()}"
    items = []
    for row_id, other in page:
        mapped = mapped_by_row.get(row_id)
        if mapped is None:
            continue
        qk_id = qk_by_row.get(row_id, "")
        after = canonical_of_mapped(mapped)
        before_sent = known.get(row_id)
        note = None
        if other is not None:
            whose = "applicant" if kind is STUDENT else "student"
            why = f"carries on {whose} {other.identity}'s customer"
        elif before_sent is not None and before_sent.mark:
            why = standing.REPUSH
        elif before_sent is None or before_sent.qk_id != qk_id:
            why = standing.FIRST
        else:
            why = standing.CHANGED
        if not mapped.sendable:
            note = f"Cannot be sent: {mapped.error}"
        if why == standing.CHANGED and before_sent is not None:
            before, compared_with = before_sent.fields, "what was last sent"
        elif qk_id in customers:
            customer = customers[qk_id]
            before = canonical_like(customer, mapped)
            compared_with = "the customer in QuickBooks now"
            note = note or _unusable(customer, qk_id)
        else:
            before, compared_with = {}, "not read"
            if read_quickbooks and read_failed is None and unknown:
                note = note or f"Customer {qk_id} is not in QuickBooks: it will not be re-created."
            elif read_failed:
                note = note or read_failed
        items.append(
            ChangeItem(
                kind=kind.name,
                row_id=row_id,
                identity=mapped.identity,
                reference=mapped.reference,
                display_name=mapped.display_name,
                qk_id=qk_id,
                why=why,
                compared_with=compared_with,
                changes=diff(before, after) if compared_with != "not read" else [],
                warnings=list(mapped.warnings),
                note=note,
                link=describe_link(mapped, mode),
            )
        )
    return items, calls


def _unusable(customer: dict[str, Any], qk_id: str) -> str | None:
    if customer.get("Active") is False:
        return (
            f"Customer {qk_id} is inactive in QuickBooks: it will not be updated or re-activated."
        )
    return None


# ---------------------------------------------------------------- applicant-student pairs


@dataclass(frozen=True)
class PairsPage:
    total: int
    student_customer: str
    pairs: list[dict[str, Any]]


def enrolment_pairs(service: SyncService, *, limit: int = 50, offset: int = 0) -> PairsPage:
    """Applicants who enrolled and the students they became, with what SYNC_STUDENT_CUSTOMER
    makes of their customers."""
    mode = service.settings.sync_student_customer
    with service.mis_engine.connect() as conn:
        total = enrolment.count_pairs(conn, service.schema)
        found = enrolment.pairs(conn, service.schema, limit=limit, offset=offset)
    rows = []
    for p in found:
        same = bool(p.applicant_qk_id) and p.applicant_qk_id == p.student_qk_id
        if same:
            applies = f"one customer ({p.applicant_qk_id}) for both"
        elif p.applicant_qk_id and p.student_qk_id:
            applies = "two customers (the student's is separate)"
        elif mode == "continue":
            applies = "continue: the student carries on the applicant's customer"
        else:
            applies = "separate: the student gets a customer of its own"
        rows.append(
            {
                "RegNo": p.reg_no,
                "ApplicationID": p.application_id,
                "Applicant status": SyncStatus.of(p.applicant_status).label,
                "Applicant customer": p.applicant_qk_id or "",
                "Student status": SyncStatus.of(p.student_status).label,
                "Student customer": p.student_qk_id or "",
                "What applies": applies,
                "applicant_row_id": p.applicant_row_id,
                "student_row_id": p.student_row_id,
            }
        )
    return PairsPage(total, mode, rows)


def link_text(service: SyncService, mapped: MappedCustomer) -> str | None:
    """The line the Records and Preview pages show for one of a pair (None for others)."""
    return describe_link(mapped, service.settings.sync_student_customer)
