"""Reconciliation: every QuickBooks customer read once and set against every MIS record.

Each MIS record that is (or claims to be) synced is linked and matching, linked but drifted
(the mapped fields differ), linked but missing or inactive in QuickBooks, linked to a customer
that is another record's, carried on by its student (SYNC_STUDENT_CUSTOMER=continue), or synced
without an Id. Each customer that identifies a MIS record (:mod:`sync_core.domain.identity`: the
product's Notes, the earlier integration's shapes) but is not that record's link is an orphan
(one, with a verified identity: it can be linked) or, with another customer of the same record,
one of twins (listed with their balances for finance to merge in QuickBooks; the product deletes
and merges nothing).

Reads are metered: customers are read 1,000 per query (the first request is a batch asking for
the count and the first page together, so 200,000 customers cost 200 requests, not one more
to learn the last page was the last). The MIS side is indexed first, compactly; each page of
customers is classified as it arrives and let go. Records synced before the product remembered
what it sent get their customer's fields as their baseline (the lazy first comparison).

Actions (link an orphan whose identity is verified, re-link, mark for a re-push) are planned,
shown, and done only when confirmed; each is in the audit trail with who did it.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sync_core import defaults
from sync_core.database import write_transaction
from sync_core.domain.access import Actor, Role, require
from sync_core.domain.changes import FieldChange, diff
from sync_core.domain.clock import utcnow
from sync_core.domain.enrolment import counterpart
from sync_core.domain.errors import InvalidRequest, NotFound, SyncAlreadyRunning
from sync_core.domain.fingerprint import (
    canonical_like,
    canonical_of_customer,
    canonical_of_mapped,
    fingerprint,
)
from sync_core.domain.identity import Verdict, candidate_keys, identify, marks_of
from sync_core.domain.kinds import APPLICANT, KINDS, STUDENT, RecordKind, RecordRef, kind_named
from sync_core.domain.mapping import APPLICANT_FIELDS, STUDENT_FIELDS, MappedCustomer
from sync_core.domain.statuses import SyncStatus
from sync_core.mis import tracking
from sync_core.mis.linked import all_pages, linked_to, unlink
from sync_core.mis.reader import fetch_records
from sync_core.quickbooks import query as q
from sync_core.quickbooks.client import QuickBooksClient
from sync_core.service.changes import mapping_options
from sync_core.store import record_state, sent
from sync_core.sync.update import read_customers

if TYPE_CHECKING:  # the facade will call these modules: no import cycle
    from sync_core.service.facade import SyncService

PAGE = defaults.READ_PAGE
DETAIL_CAP = 2_000  # findings listed per category (counts are always exact)
EVERY = "Active IN (true, false)"  # inactive customers too: they still hold their names


class Category:
    MATCHING = "linked and matching"
    DRIFTED = "linked but drifted"
    MISSING = "linked but missing in QuickBooks"
    INACTIVE = "linked but inactive in QuickBooks"
    MISLINKED = "linked to another record's customer"
    CARRIED_ON = "carried on by its student"
    NO_ID = "synced without a QuickBooks Id"
    ORPHAN = "orphan customer"
    TWINS = "twins"

    RECORD_CATEGORIES = (MATCHING, DRIFTED, MISSING, INACTIVE, MISLINKED, CARRIED_ON, NO_ID)
    ALL = (*RECORD_CATEGORIES, ORPHAN, TWINS)


def _digest(canonical: Mapping[str, str]) -> bytes:
    """16 bytes of the fingerprint: all a comparison of 200,000 records needs to keep."""
    return bytes.fromhex(fingerprint(canonical)[:32])


@dataclass(frozen=True)
class CustomerRef:
    id: str
    display_name: str
    active: bool
    balance: float
    linked: bool = False  # the record's link in the MIS


@dataclass(frozen=True)
class Finding:
    category: str
    kind: str
    row_id: int
    identity: str
    name: str  # the record's name as mapped
    qk_id: str | None  # its Id in the MIS
    customers: tuple[CustomerRef, ...] = ()  # the customers concerned (twins: all of them)
    detail: str = ""
    changes: tuple[FieldChange, ...] = ()  # drifted: QuickBooks -> the MIS, field by field
    action: str | None = None  # "link" / "re-link" / "re-push"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changes"] = [
            {"field": c.field, "quickbooks": c.before, "mis": c.after} for c in self.changes
        ]
        return data


@dataclass
class ReconcileReport:
    started_at: Any
    seconds: float = 0.0
    read_calls: int = 0  # HTTP requests that read customers (reads are metered)
    customers_read: int = 0
    records_read: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {c: 0 for c in Category.ALL})
    findings: dict[str, list[Finding]] = field(
        default_factory=lambda: {c: [] for c in Category.ALL}
    )
    not_ours: int = 0  # customers identifying no MIS record (typed by hand, ...)
    unknown_records: int = 0  # customers naming a record the MIS does not have
    baselines_remembered: int = 0
    student_customer: str = "separate"

    def add(self, finding: Finding) -> None:
        self.counts[finding.category] += 1
        listed = self.findings[finding.category]
        if len(listed) < DETAIL_CAP:
            listed.append(finding)

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "read_calls": self.read_calls,
            "customers_read": self.customers_read,
            "records_read": self.records_read,
            "counts": dict(self.counts),
            "not_ours": self.not_ours,
            "unknown_records": self.unknown_records,
            "baselines_remembered": self.baselines_remembered,
            "student_customer": self.student_customer,
            "findings": {k: [f.as_dict() for f in v] for k, v in self.findings.items()},
        }


# ---------------------------------------------------------------- the MIS, indexed


class Rec:
    """One MIS record, as compact as the comparison allows."""

    __slots__ = (
        "kind",
        "row_id",
        "identity",
        "tracking",
        "name",
        "status",
        "qk_id",
        "fp",
        "enrolled_as",
        "enrolled_from",
        "continues",
        "other_qk",
        "has_baseline",
        "linked_seen",
        "extras",
        "drift",
    )

    def __init__(self, mapped: MappedCustomer, status: int, qk_id: str | None) -> None:
        self.kind = mapped.kind
        self.row_id = mapped.row_id
        self.identity = mapped.identity
        self.tracking = mapped.fields.get("TrackingID", "") if mapped.kind == APPLICANT.name else ""
        self.name = mapped.display_name
        self.status = status
        self.qk_id = qk_id
        self.fp = _digest(canonical_of_mapped(mapped)) if mapped.sendable else b""
        self.enrolled_as = mapped.enrolled_as
        self.enrolled_from = mapped.enrolled_from
        self.continues = mapped.continues
        self.other_qk: str | None = None  # the counterpart's Id (applicant-student pairs)
        self.has_baseline = False
        self.linked_seen: CustomerRef | None = None  # its linked customer, once read
        self.extras: list[CustomerRef] | None = None  # other customers identifying it
        self.drift: dict[str, str] | None = None  # the customer's canonical form, if drifted

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.kind, self.row_id)

    @property
    def reference(self) -> str:
        return KINDS[self.kind].reference(self.identity)

    def stub(self) -> MappedCustomer:
        """Enough of the record for :func:`identify`."""
        return MappedCustomer(
            kind=self.kind,
            row_id=self.row_id,
            identity=self.identity,
            reference=self.reference,
            payload={"DisplayName": self.name},
            fields={"TrackingID": self.tracking} if self.tracking else {},
            placement={},
            enrolled_as=self.enrolled_as,
            enrolled_from=self.enrolled_from,
            continues=self.continues,
        )


Slot = Rec | list[Rec]  # one record (nearly always), or those sharing a key (a data error)


def _put(table: dict[str, Slot], key: str, rec: Rec) -> None:
    found = table.get(key)
    if found is None:
        table[key] = rec
    elif isinstance(found, list):
        found.append(rec)
    else:
        table[key] = [found, rec]


def _all(found: Slot | None) -> list[Rec]:
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


class MisIndex:
    """The MIS's records by the keys a customer can name them by, and by their Id. A dict per
    (kind, key), holding the record itself: a reconciliation of 200,000 stays compact."""

    def __init__(self) -> None:
        self.records: list[Rec] = []
        self.by_key: dict[tuple[str, str], dict[str, Slot]] = {}
        self.by_qk: dict[str, Slot] = {}

    def add(self, rec: Rec) -> None:
        self.records.append(rec)
        for key, value in (
            ("identity", rec.identity),
            ("tracking", rec.tracking),
            ("enrolled_from", rec.enrolled_from),
        ):
            if value:
                _put(self.by_key.setdefault((rec.kind, key), {}), value.casefold(), rec)
        if rec.qk_id:
            _put(self.by_qk, rec.qk_id, rec)

    def linked_to(self, customer_id: str) -> list[Rec]:
        return _all(self.by_qk.get(customer_id))

    def claimed_by(self, customer: Mapping[str, Any]) -> list[Rec]:
        """The records this customer identifies (verified by :func:`identify`)."""
        found: dict[int, Rec] = {}
        for kind, key, value in candidate_keys(customer):
            for rec in _all(self.by_key.get((kind, key), {}).get(value)):
                if identify(customer, rec.stub()).verdict is Verdict.THIS:
                    found[id(rec)] = rec
        return list(found.values())


def build_index(service: SyncService, report: ReconcileReport) -> MisIndex:
    options = mapping_options(service)
    index = MisIndex()
    for kind in (APPLICANT, STUDENT):
        table = service.schema.customers(kind)
        for page in all_pages(service.mis_engine, table, PAGE):
            status_of = {row_id: (status, qk) for row_id, status, qk in page}
            with service.mis_engine.connect() as conn:
                records = fetch_records(conn, service.schema, kind, row_ids=list(status_of))
            with service.store_engine.connect() as conn:
                known = sent.customers_of(conn, kind.name, status_of)
            rows = {r.row_id: r.row for r in records.records}
            for mapped in records.mapped(options):
                status, qk_id = status_of[mapped.row_id]
                rec = Rec(mapped, status, qk_id)
                rec.has_baseline = known.get(mapped.row_id) == qk_id
                rec.other_qk = _other_qk(rows.get(mapped.row_id, {}), mapped)
                index.add(rec)
                report.records_read += 1
    return index


def _other_qk(row: Mapping[str, Any], mapped: MappedCustomer) -> str | None:
    other = counterpart(mapped, row)
    return str(other["qk_id"]) if other is not None and other.get("qk_id") else None


# ---------------------------------------------------------------- reading every customer


def read_every_customer(
    client: QuickBooksClient,
    on_page: Callable[[list[dict[str, Any]]], None],
    on_progress: Callable[[int, int], None] | None = None,
    workers: int = 4,
) -> tuple[int, int]:
    """Every customer, inactive ones too, 1,000 per request; answers (read calls, customers).

    The first request is a batch of two queries: the count and the first page; the other pages
    are then read a few at a time, as many as the count says (so 200,000 customers cost 200
    requests: no request is spent learning that a full last page was the last). It is a
    snapshot: a customer created while it reads is the next reconciliation's."""
    first = client.batch(
        [
            {"bId": "count", "Query": q.count_customers(EVERY)},
            {"bId": "page1", "Query": q.select_customers(EVERY, 1, PAGE)},
        ],
        requestid=None,
    )
    calls = 1
    for answer in first.values():
        if answer.error is not None:
            raise answer.error
    total = int((first["count"].query or {}).get("totalCount", 0))
    page = list((first["page1"].query or {}).get("Customer") or [])
    read = len(page)
    on_page(page)
    if on_progress:
        on_progress(read, total)
    if len(page) < PAGE:
        return calls, read
    starts = list(range(PAGE + 1, total + 1, PAGE))
    window = max(1, workers) * 2  # pages asked for ahead of the one classified (memory)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="qbo-reconcile") as pool:
        pending: dict[int, Future[dict[str, Any]]] = {}
        ahead = iter(starts)
        for start in starts:
            while len(pending) < window and (nxt := next(ahead, None)) is not None:
                pending[nxt] = pool.submit(client.query, q.select_customers(EVERY, nxt, PAGE))
                calls += 1
            customers = list(pending.pop(start).result().get("Customer") or [])
            read += len(customers)
            on_page(customers)
            if on_progress:
                on_progress(read, total)
    return calls, read


# ---------------------------------------------------------------- classifying


def _ref(customer: Mapping[str, Any], linked: bool = False) -> CustomerRef:
    try:
        balance = float(customer.get("Balance") or 0)
    except (TypeError, ValueError):
        balance = 0.0
    return CustomerRef(
        str(customer.get("Id")),
        str(customer.get("DisplayName") or ""),
        customer.get("Active") is not False,
        balance,
        linked,
    )


class Classifier:
    def __init__(self, service: SyncService, index: MisIndex, report: ReconcileReport) -> None:
        self.service = service
        self.index = index
        self.report = report
        self.options = mapping_options(service)
        self.definitions = dict(self.options.custom_field_definitions)
        self.mislinked: dict[int, Finding] = {}
        self.baselines: dict[str, list[sent.Baseline]] = {}
        self.remember = True

    def field_names(self, rec: Rec) -> tuple[str, ...]:
        names = APPLICANT_FIELDS if rec.kind == APPLICANT.name else STUDENT_FIELDS
        return (*names, "ApplicationID") if rec.continues else names

    def page(self, customers: list[dict[str, Any]]) -> None:
        for customer in customers:
            self.report.customers_read += 1
            cid = str(customer.get("Id"))
            linked = self.index.linked_to(cid)
            claims = self.index.claimed_by(customer)
            for rec in linked:
                self.linked(rec, customer)
            for rec in claims:
                if rec.qk_id != cid:
                    rec.extras = [*(rec.extras or []), _ref(customer)]
            if not linked and not claims:
                if marks_of(customer).kind is not None:
                    self.report.unknown_records += 1  # names a record the MIS does not have
                else:
                    self.report.not_ours += 1
        self.flush_baselines()

    def linked(self, rec: Rec, customer: dict[str, Any]) -> None:
        rec.linked_seen = _ref(customer, linked=True)
        verdict = identify(customer, rec.stub())
        if rec.kind == APPLICANT.name and rec.other_qk == rec.qk_id:
            return  # carried on by its student: the student's record is compared
        carried = rec.continues and rec.other_qk == rec.qk_id  # its applicant's, carried on
        if verdict.verdict is Verdict.OTHER and not carried:
            self.mislinked[id(rec)] = Finding(
                Category.MISLINKED,
                rec.kind,
                rec.row_id,
                rec.identity,
                rec.name,
                rec.qk_id,
                (rec.linked_seen,),
                f"Customer {rec.qk_id} is {verdict.other} (by {verdict.how}).",
                action="re-link",
            )
            return
        if not rec.fp:
            return  # cannot be mapped now (e.g. a blank RegNo): nothing to compare
        current = canonical_of_customer(
            customer,
            reference=rec.reference,
            definitions=self.definitions,
            field_names=self.field_names(rec),
        )
        if _digest(current) != rec.fp:
            rec.drift = current
        if self.remember and not rec.has_baseline and rec.qk_id:
            self.baselines.setdefault(rec.kind, []).append(
                sent.Baseline(rec.row_id, rec.qk_id, current, "compared")
            )

    def flush_baselines(self) -> None:
        if not any(self.baselines.values()):
            return
        with write_transaction(self.service.store_engine) as conn:
            for kind, baselines in self.baselines.items():
                sent.remember(conn, kind, baselines)
                self.report.baselines_remembered += len(baselines)
        self.baselines = {}

    def finish(self) -> None:
        """Every customer has been read: what each record is."""
        drifted: list[Rec] = []
        for rec in self.index.records:
            finding = self.record_finding(rec)
            if finding is not None:
                if finding.category == Category.DRIFTED:
                    drifted.append(rec)
                else:
                    self.report.add(finding)
            self.customer_findings(rec)
        self.report.counts[Category.DRIFTED] += len(drifted)
        self.report.findings[Category.DRIFTED] = self.drift_findings(drifted[:DETAIL_CAP])

    def record_finding(self, rec: Rec) -> Finding | None:
        base = (rec.kind, rec.row_id, rec.identity, rec.name, rec.qk_id)
        if rec.qk_id is None:
            if rec.status == int(SyncStatus.SYNCED):
                action = "link" if rec.extras and len(rec.extras) == 1 else None
                return Finding(
                    Category.NO_ID,
                    *base,
                    tuple(rec.extras or ()),
                    "Synced, but the MIS holds no QuickBooks Id for it.",
                    action=action,
                )
            return None
        if rec.kind == APPLICANT.name and rec.other_qk == rec.qk_id:
            return Finding(
                Category.CARRIED_ON,
                *base,
                (rec.linked_seen,) if rec.linked_seen else (),
                "Its student carries on this customer (SYNC_STUDENT_CUSTOMER=continue).",
            )
        if rec.linked_seen is None:
            return Finding(
                Category.MISSING,
                *base,
                (),
                f"Customer {rec.qk_id} is not in QuickBooks (deleted or merged).",
                action="re-push" if not rec.extras else "re-link",
            )
        if id(rec) in self.mislinked:
            return self.mislinked[id(rec)]
        if not rec.linked_seen.active:
            return Finding(
                Category.INACTIVE,
                *base,
                (rec.linked_seen,),
                f"Customer {rec.qk_id} is inactive in QuickBooks.",
                action="re-link" if rec.extras else None,
            )
        if rec.drift is not None:
            return Finding(Category.DRIFTED, *base, (rec.linked_seen,), action="re-push")
        return Finding(Category.MATCHING, *base, (rec.linked_seen,))

    def customer_findings(self, rec: Rec) -> None:
        extras = rec.extras or []
        if not extras:
            return
        linked = [rec.linked_seen] if rec.linked_seen is not None else []
        base = (rec.kind, rec.row_id, rec.identity, rec.name, rec.qk_id)
        everyone = tuple(linked + extras)
        if len(everyone) >= 2:
            total = sum(c.balance for c in everyone)
            self.report.add(
                Finding(
                    Category.TWINS,
                    *base,
                    everyone,
                    f"{len(everyone)} customers stand for this record (balances total "
                    f"{total:,.2f}): merge them in QuickBooks, then link the one kept.",
                )
            )
            return
        only = extras[0]
        if rec.qk_id is None:
            detail = f"Customer {only.id} identifies this record, which is not linked to it."
        else:
            detail = (
                f"Customer {only.id} identifies this record, whose Id in the MIS ({rec.qk_id}) "
                "is no customer in QuickBooks."
            )
        self.report.add(
            Finding(
                Category.ORPHAN,
                *base,
                (only,),
                detail,
                action="link" if rec.qk_id is None else "re-link",
            )
        )

    def drift_findings(self, drifted: list[Rec]) -> list[Finding]:
        """The field-by-field differences of the drifted records listed."""
        findings: list[Finding] = []
        for kind in (APPLICANT, STUDENT):
            mine = [r for r in drifted if r.kind == kind.name]
            for start in range(0, len(mine), PAGE):
                chunk = {r.row_id: r for r in mine[start : start + PAGE]}
                with self.service.mis_engine.connect() as conn:
                    records = fetch_records(conn, self.service.schema, kind, row_ids=list(chunk))
                for mapped in records.mapped(self.options):
                    rec = chunk[mapped.row_id]
                    changes = tuple(diff(rec.drift or {}, canonical_of_mapped(mapped)))
                    findings.append(
                        Finding(
                            Category.DRIFTED,
                            rec.kind,
                            rec.row_id,
                            rec.identity,
                            rec.name,
                            rec.qk_id,
                            (rec.linked_seen,) if rec.linked_seen else (),
                            "Differs: " + ", ".join(c.field for c in changes),
                            changes,
                            action="re-push",
                        )
                    )
        return findings


def reconcile(
    service: SyncService,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    remember_baselines: bool = True,
) -> ReconcileReport:
    """Read every customer once and classify it and every MIS record (see the module)."""
    started = time.monotonic()
    report = ReconcileReport(
        started_at=utcnow(), student_customer=service.settings.sync_student_customer
    )
    index = build_index(service, report)
    classifier = Classifier(service, index, report)
    classifier.remember = remember_baselines
    client = service.client()
    workers = min(4, client.limiter.limits.max_concurrent)
    report.read_calls, _ = read_every_customer(client, classifier.page, on_progress, workers)
    classifier.finish()
    report.seconds = time.monotonic() - started
    return report


def twins_csv(report: ReconcileReport) -> str:
    """The twins, one line per customer, for finance to merge in QuickBooks."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "Record type",
            "Record",
            "Record name",
            "QuickBooks Id in the MIS",
            "Customer Id",
            "Customer DisplayName",
            "Active",
            "Balance",
            "Linked in the MIS",
        ]
    )
    for finding in report.findings[Category.TWINS]:
        for customer in finding.customers:
            writer.writerow(
                [
                    finding.kind,
                    finding.identity,
                    finding.name,
                    finding.qk_id or "",
                    customer.id,
                    customer.display_name,
                    "yes" if customer.active else "no",
                    f"{customer.balance:.2f}",
                    "yes" if customer.linked else "no",
                ]
            )
    return out.getvalue()


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class ActionResult:
    done: bool  # False: the plan only (nothing changed yet)
    action: str
    kind: str
    row_id: int
    message: str  # what will happen / what happened


def _guard(service: SyncService, actor: Actor, doing: str) -> None:
    require(actor, Role.OPERATOR, doing)
    active = service.active_run()
    if active is not None:
        raise SyncAlreadyRunning(active.operator, active.started_at, active.id)


def _mapped(service: SyncService, kind: RecordKind, row_id: int) -> tuple[MappedCustomer, Any]:
    with service.mis_engine.connect() as conn:
        page = fetch_records(conn, service.schema, kind, row_ids=[row_id])
    if not page.records:
        raise NotFound(f"No {kind.name} with row id {row_id} in the MIS")
    return page.mapped(mapping_options(service))[0], page.records[0]


def _read_one(service: SyncService, customer_id: str, ref: RecordRef) -> dict[str, Any] | None:
    from sync_core.quickbooks.ports import CallContext

    found = read_customers(service.client(), [customer_id], CallContext(records=(ref,)))
    return found.get(customer_id)


def link_customer(
    service: SyncService,
    kind: RecordKind | str,
    row_id: int,
    customer_id: str,
    actor: Actor,
    *,
    confirm: bool = False,
) -> ActionResult:
    """Link a record to a customer whose identity is verified (an orphan, an earlier system's
    customer, the one kept after finance merged twins), or re-link it from another. Without
    ``confirm``, answers what would happen and changes nothing."""
    kind = kind_named(kind)
    _guard(service, actor, "link records to QuickBooks customers")
    customer_id = str(customer_id).strip()
    if not customer_id.isdigit():
        raise InvalidRequest("a QuickBooks customer Id is a number")
    mapped, source = _mapped(service, kind, row_id)
    ref = RecordRef(kind.name, row_id)
    customer = _read_one(service, customer_id, ref)
    if customer is None:
        raise InvalidRequest(
            f"Customer {customer_id} is not in QuickBooks: nothing to link",
            what_to_do="Check the Id on the Reconcile page (read QuickBooks again).",
        )
    if customer.get("Active") is False:
        raise InvalidRequest(
            f"Customer {customer_id} is inactive in QuickBooks: not linked",
            what_to_do="Ask finance to make it active in QuickBooks first, or link another.",
        )
    found = identify(customer, mapped)
    if found.verdict is not Verdict.THIS:
        whose = (
            f"it is {found.other} (by {found.how})"
            if found.verdict is Verdict.OTHER
            else "it carries neither this record's identity nor the earlier system's marks"
        )
        raise InvalidRequest(
            f"Customer {customer_id} is not {mapped.reference}: {whose}. Not linked",
            what_to_do="Link a customer that identifies this record (its Notes, or the earlier "
            "system's name or Notes); a name alone identifies nobody.",
        )
    others = _linked_elsewhere(service, customer_id, ref, mapped, source.row)
    if others:
        raise InvalidRequest(
            f"Customer {customer_id} is already linked to {others}: not linked twice",
            what_to_do="Re-link or re-push that record first.",
        )
    before = source.qk_id
    action = "re-link" if before and before != customer_id else "link"
    plan = (
        f"{mapped.reference} will be linked to customer {customer_id} (it identifies the "
        f"record by {found.how})"
        + (f" instead of customer {before}" if action == "re-link" else "")
        + "; the record becomes synced with that Id, nothing is sent to QuickBooks."
    )
    if not confirm:
        return ActionResult(False, action, kind.name, row_id, plan)
    table = service.schema.customers(kind)
    with write_transaction(service.mis_engine) as conn:
        tracking.mark_synced(
            conn,
            table,
            [tracking.Linked(row_id, customer_id, customer.get("SyncToken"))],
            actor.name,
        )
    with write_transaction(service.store_engine) as conn:
        record_state.record_synced(
            conn, kind, [(row_id, str(customer.get("DisplayName") or ""), None)]
        )
        sent.remember(
            conn,
            kind.name,
            [sent.Baseline(row_id, customer_id, canonical_like(customer, mapped), "linked")],
        )
    service.audit.record_action(
        f"reconcile.{action}",
        [ref],
        actor.name,
        f"{kind.name} row {row_id} linked to customer {customer_id}"
        + (f" (was {before})" if before else "")
        + f"; identity verified by {found.how}",
    )
    return ActionResult(True, action, kind.name, row_id, plan.replace(" will be ", " was "))


def _linked_elsewhere(
    service: SyncService,
    customer_id: str,
    ref: RecordRef,
    mapped: MappedCustomer,
    row: Mapping[str, Any],
) -> str:
    """Who else the MIS links to this customer (the applicant or student this record is one
    person with, under SYNC_STUDENT_CUSTOMER=continue, is not "else")."""
    other = counterpart(mapped, row) if mapped.continues or mapped.enrolled_as else None
    same_person = (
        (STUDENT.name if ref.kind == APPLICANT.name else APPLICANT.name, int(other["row_id"]))
        if other is not None and service.settings.sync_student_customer == "continue"
        else None
    )
    others = []
    for kind in (APPLICANT, STUDENT):
        with service.mis_engine.connect() as conn:
            rows = linked_to(conn, service.schema.customers(kind), customer_id)
        for row_id in rows:
            if (kind.name, row_id) in ((ref.kind, ref.row_id), same_person):
                continue
            others.append(f"{kind.name} row {row_id}")
    return ", ".join(others)


def mark_for_repush(
    service: SyncService,
    kind: RecordKind | str,
    row_id: int,
    actor: Actor,
    *,
    confirm: bool = False,
) -> ActionResult:
    """Push a record again: a drifted one gets every mapped field that differs sent at the next
    sync with updates (the MIS wins); one whose customer is gone (or that is synced without an
    Id) goes back to not synced, to be looked up by identity and created only if no customer is
    it. An inactive customer is not re-activated. Without ``confirm``, answers the plan."""
    kind = kind_named(kind)
    _guard(service, actor, "re-push records to QuickBooks")
    mapped, source = _mapped(service, kind, row_id)
    ref = RecordRef(kind.name, row_id)
    if source.status is not SyncStatus.SYNCED:
        raise InvalidRequest(
            f"{mapped.reference} is {source.status.label}: the next sync sends it anyway",
        )
    table = service.schema.customers(kind)
    if source.qk_id is None:
        plan = (
            f"{mapped.reference} goes back to not synced: the next sync looks for its customer "
            "by its identity, links it if found, and creates one only if none is."
        )
        action, how = "re-push", "unlink"
    else:
        customer = _read_one(service, source.qk_id, ref)
        if customer is None:
            plan = (
                f"Customer {source.qk_id} is not in QuickBooks: {mapped.reference} goes back to "
                "not synced with its Id cleared; the next sync looks for its customer by its "
                "identity and creates one only if none is found."
            )
            action, how = "re-push", "unlink"
        elif customer.get("Active") is False:
            raise InvalidRequest(
                f"Customer {source.qk_id} is inactive in QuickBooks: it is not re-activated "
                "by a re-push",
                what_to_do="Ask finance to make it active in QuickBooks, or re-link the record "
                "to another customer.",
            )
        else:
            plan = (
                f"The next sync with updates compares every mapped field of customer "
                f"{source.qk_id} with the MIS and sends those that differ (QuickBooks' values "
                "of those fields are replaced; nothing else of the customer is touched)."
            )
            action, how = "re-push", "mark"
    if not confirm:
        return ActionResult(False, action, kind.name, row_id, plan)
    if how == "mark":
        with write_transaction(service.store_engine) as conn:
            if not sent.load(conn, kind.name, [row_id]):
                sent.remember(
                    conn,
                    kind.name,
                    [sent.Baseline(row_id, source.qk_id or "", {}, "marked")],
                )
            sent.mark(conn, kind.name, [row_id], sent.REPUSH, actor.name)
    else:
        with write_transaction(service.mis_engine) as conn:
            unlink(conn, table, [row_id])
        with write_transaction(service.store_engine) as conn:
            sent.forget(conn, kind.name, [row_id])
    service.audit.record_action(
        "reconcile.repush",
        [ref],
        actor.name,
        f"{kind.name} row {row_id}: "
        + (
            f"marked for a re-push to customer {source.qk_id}"
            if how == "mark"
            else f"back to not synced (Id {source.qk_id or 'none'} cleared)"
        ),
    )
    return ActionResult(True, action, kind.name, row_id, plan)
