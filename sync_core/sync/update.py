"""Stage 7, updates: keep the customers of synced records true to the MIS, and let a student
carry on their applicant's customer (SYNC_STUDENT_CUSTOMER=continue).

Run after the creates of a run (:func:`run_updates`). A record is a candidate when what the MIS
maps now differs from what was last sent (:mod:`sync_core.store.sent`), when it was never
compared (synced before the product remembered what it sent: its customer's fields as read
stand for what was sent, the lazy first comparison), or when it is marked for a re-push. Its
customer is read by Id (one query per 1,000), and only the mapped fields that changed are sent,
as sparse updates carrying the Id and SyncToken, 30 to a batch request, and beside the batches
one by one (``POST /customer``) in the requests batches leave unused, each kind from workers of
its own (:mod:`sync_core.sync.lanes`). Nothing outside the
mapping is ever sent: balances, terms, addresses, other custom fields and finance's own lines in
Notes stay as they are.

An update never creates and never re-activates: a customer that is gone (610) or inactive, or
that is another record's, is reported and left alone. A stale SyncToken (5010: finance changed
the customer meanwhile) re-reads it and applies the change once more. A DisplayName change
follows the clash rules of :mod:`sync_core.sync.names`.

Updates need no claim: the record stays at 1 (it has its customer), the company's run lock
keeps any other run away, and an update is safe to repeat (the same fields, the same values;
the ``requestid`` comes from the records, their customers' SyncTokens and what is sent).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sync_core import defaults
from sync_core.database import write_transaction
from sync_core.domain.changes import order_of, sparse_update
from sync_core.domain.enrolment import counterpart
from sync_core.domain.fingerprint import Canonical, canonical_like, canonical_of_mapped
from sync_core.domain.identity import Verdict, identify, names_alike
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind, RecordRef, kind_named
from sync_core.domain.mapping import MappedCustomer, MappingOptions
from sync_core.domain.names import distinct_display_name, name_key
from sync_core.domain.standing import (
    CANNOT,
    CARRIED_ON,
    CHANGED,
    FIRST,
    UNCHANGED,
    classify,
)
from sync_core.domain.statuses import Outcome, SyncStatus
from sync_core.mis import enrolment, tracking
from sync_core.mis.linked import linked_pages
from sync_core.mis.reader import fetch_records
from sync_core.quickbooks import query as q
from sync_core.quickbooks.client import MAX_BATCH_ITEMS, BatchItemResult, QuickBooksClient
from sync_core.quickbooks.errors import (
    AuthenticationError,
    DuplicateNameError,
    NotFoundError,
    QuickBooksError,
    StaleObjectError,
)
from sync_core.quickbooks.limiter import Lane
from sync_core.quickbooks.ports import CallContext
from sync_core.store import record_state, sent
from sync_core.store.runs import RunError, RunHistory
from sync_core.sync.claim import Databases
from sync_core.sync.lanes import lane_widths, split_for_lanes
from sync_core.sync.names import NamesInFlight
from sync_core.sync.outcomes import REQUESTID_MAX, SINGLE_REQUESTID_MAX, Failed, errors_text
from sync_core.sync.request import Progress, SyncRequest

log = logging.getLogger(__name__)

READ_CHUNK = defaults.READ_PAGE  # customers read by Id per query (QuickBooks' most)
UPDATED, COMPARED, CONTINUED = "updated", "compared", "continued"  # baselines' sources
REMEDY = "Re-link or re-push it from the Reconcile page."

GONE = "610"
INACTIVE = "inactive"
NOT_THEIRS = "MIS-ID"


def stops_run(exc: QuickBooksError) -> bool:
    """QuickBooks cannot be used at all (the connection is gone, it is down or throttles
    without end): the run stops rather than failing record after record."""
    return bool(getattr(exc, "stops_run", isinstance(exc, AuthenticationError)))


# ---------------------------------------------------------------- the values of this stage


@dataclass(frozen=True)
class Candidate:
    """A synced record whose customer may have to change."""

    mapped: MappedCustomer
    qk_id: str
    baseline: Canonical | None  # what was last sent; None: compare every field with QuickBooks
    why: str  # "changed", "first comparison", "re-push", "continued"
    # a record to link to ``qk_id`` first (its applicant's or student's customer)
    continues_with: MappedCustomer | None = None

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.mapped.kind, self.mapped.row_id)


@dataclass(frozen=True)
class Planned:
    """An update to send: the customer as read, the fields to change and the sparse body."""

    candidate: Candidate
    customer: dict[str, Any]
    fields: tuple[str, ...]  # the canonical fields to change
    desired: Canonical
    body: dict[str, Any]
    display_name: str  # the name the customer holds after the update
    renamed_from: str | None = None  # the real name, when it is sent distinct
    attempt: int = 1

    @property
    def ref(self) -> RecordRef:
        return self.candidate.ref

    def item(self, bid: str) -> dict[str, Any]:
        customer = {
            **self.body,
            "Id": str(self.customer["Id"]),
            "SyncToken": str(self.customer.get("SyncToken", "0")),
            "sparse": True,
        }
        return {"bId": bid, "operation": "update", "Customer": customer}


@dataclass(frozen=True)
class Done:
    planned: Planned
    customer: dict[str, Any]  # as QuickBooks answered


@dataclass
class UpdateOutcome:
    updated: list[Done] = field(default_factory=list)
    unchanged: list[tuple[Candidate, Canonical]] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    fatal: Exception | None = None
    unsent: list[Planned] = field(default_factory=list)  # the run stopped before sending them

    def extend(self, other: UpdateOutcome) -> None:
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.unsent += other.unsent
        self.fatal = self.fatal or other.fatal


def failure(
    mapped: MappedCustomer,
    message: str,
    code: str | None,
    hint: str | None = REMEDY,
) -> Failed:
    return Failed(
        RecordRef(mapped.kind, mapped.row_id),
        mapped.identity,
        mapped.display_name,
        code,
        message,
        hint,
    )


def error_failure(mapped: MappedCustomer, qk_id: str, error: QuickBooksError | None) -> Failed:
    if isinstance(error, NotFoundError):
        return gone(mapped, qk_id)
    code = (error.code or error.kind) if error is not None else "internal"
    text = errors_text(error) if error is not None else "QuickBooks answered without a customer"
    hint = (error.what_to_do or None) if error is not None else None
    return failure(mapped, f"Customer {qk_id} was not updated: {text}", code, hint)


def gone(mapped: MappedCustomer, qk_id: str) -> Failed:
    return failure(
        mapped,
        f"Customer {qk_id} is no longer in QuickBooks (deleted or merged): not re-created.",
        GONE,
    )


# ---------------------------------------------------------------- reading customers


def read_customers(
    client: QuickBooksClient, ids: Iterable[str], context: CallContext | None = None
) -> dict[str, dict[str, Any]]:
    """Customers by Id, inactive ones too: one query per 1,000 Ids (reads are metered)."""
    wanted = [i for i in dict.fromkeys(ids) if i]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), READ_CHUNK):
        chunk = wanted[start : start + READ_CHUNK]
        where = f"{q.id_in(chunk)} AND Active IN (true, false)"
        page = client.query(q.select_customers(where, 1, q.MAX_RESULTS), context=context)
        found.update({str(c["Id"]): c for c in page.get("Customer") or []})
    return found


# ---------------------------------------------------------------- deciding what to send


def belongs(customer: dict[str, Any], candidate: Candidate) -> Failed | None:
    """None when the customer may be changed for this record: it is not gone, not inactive,
    and not another record's."""
    mapped, qk_id = candidate.mapped, candidate.qk_id
    if customer.get("Active") is False:
        return failure(
            mapped,
            f"Customer {qk_id} was made inactive in QuickBooks: not updated, not re-activated.",
            INACTIVE,
        )
    found = identify(customer, mapped)
    if found.verdict is Verdict.OTHER and candidate.continues_with is not None:
        theirs = identify(customer, candidate.continues_with)
        if theirs.verdict is Verdict.THIS or (
            theirs.verdict is Verdict.UNKNOWN and names_alike(customer, candidate.continues_with)
        ):
            return None  # the person's customer, as their other record's
    if found.verdict is Verdict.OTHER:
        return failure(
            mapped,
            f"Customer {qk_id} is {found.other} (by {found.how}), not this record: not updated.",
            NOT_THEIRS,
        )
    return None


def fields_to_send(candidate: Candidate, current: Canonical, desired: Canonical) -> list[str]:
    """The mapped fields that changed in the MIS since last sent (every mapped field for a
    first comparison or a re-push), less those QuickBooks already holds as the MIS says."""
    names = set(current) | set(desired)
    if candidate.baseline is not None:
        base = candidate.baseline
        names = {k for k in set(base) | set(desired) if base.get(k, "") != desired.get(k, "")}
    return [k for k in order_of(names) if current.get(k, "") != desired.get(k, "")]


def plan(
    candidate: Candidate,
    customer: dict[str, Any],
    attempt: int = 1,
    fields: Iterable[str] | None = None,
) -> Planned | Failed | Canonical:
    """The update of one record against its customer as read: a :class:`Planned` update, a
    :class:`Failed` (it may not or cannot be updated), or its canonical form (nothing to send).
    DisplayName is planned under the real name; :func:`choose_display_names` decides."""
    mapped = candidate.mapped
    problem = belongs(customer, candidate)
    if problem is not None:
        return problem
    desired = canonical_of_mapped(mapped)
    current = canonical_like(customer, mapped)
    changed = fields_to_send(candidate, current, desired)
    if fields is not None:  # a second try: only what the first was to change
        wanted = set(fields)
        changed = [k for k in changed if k in wanted]
    if not changed:
        return desired
    name = str(customer.get("DisplayName") or "")
    real = desired.get("DisplayName", "")
    update = sparse_update(mapped, customer, changed, real)
    if update.problem is not None:
        return failure(
            mapped,
            f"Customer {candidate.qk_id}: {update.problem}.",
            "2050",
            "Shorten finance's own text in the customer's Notes in QuickBooks, then update again.",
        )
    return Planned(
        candidate,
        customer,
        tuple(changed),
        desired,
        update.body,
        real if "DisplayName" in changed else name,
        attempt=attempt,
    )


def renamed(planned: Planned, name: str, renamed_from: str | None) -> Planned:
    body = dict(planned.body, DisplayName=name)
    return replace(planned, body=body, display_name=name, renamed_from=renamed_from)


def choose_display_names(
    client: QuickBooksClient,
    items: Sequence[Planned],
    in_flight: NamesInFlight,
    context: CallContext,
) -> tuple[list[Planned], list[Failed]]:
    """A changed DisplayName goes out as the real name when no other customer holds it (one
    query per 50 names), else as "John Doe (APP 12)"; both taken: the record fails readably."""
    renaming = [p for p in items if "DisplayName" in p.fields]
    if not renaming:
        return list(items), []
    names: list[str] = []
    for p in renaming:
        real = p.desired.get("DisplayName", "")
        names += [real, distinct_display_name(real, p.candidate.mapped.reference)]
    holders: dict[str, set[str]] = {}
    try:
        found = client.find_customers_by_display_name(names, context=context)
    except QuickBooksError as exc:
        if stops_run(exc):
            raise
        found = []  # no foresight this time: a 6240 still gets the distinct name
    for customer in found:
        key = name_key(str(customer.get("DisplayName", "")))
        holders.setdefault(key, set()).add(str(customer.get("Id")))
    chosen: list[Planned] = []
    failed: list[Failed] = []
    for p in items:
        if p not in renaming:
            chosen.append(p)
            continue
        own = str(p.customer.get("Id"))
        real = p.desired.get("DisplayName", "")
        distinct = distinct_display_name(real, p.candidate.mapped.reference)

        def free(name: str, own: str = own) -> bool:
            return not (holders.get(name_key(name), set()) - {own}) and name not in in_flight

        if name_key(real) == name_key(str(p.customer.get("DisplayName", ""))) or free(real):
            pick, renamed_from = real, None
        elif free(distinct) or name_key(distinct) == name_key(str(p.customer.get("DisplayName"))):
            pick, renamed_from = distinct, real
        else:
            failed.append(both_taken(p.candidate.mapped, real, distinct))
            continue
        in_flight.hold([pick])
        chosen.append(renamed(p, pick, renamed_from))
    return chosen, failed


def both_taken(mapped: MappedCustomer, real: str, distinct: str) -> Failed:
    return failure(
        mapped,
        f"Both {real!r} and {distinct!r} are taken by other QuickBooks customers, vendors or "
        "employees: the customer was not updated.",
        "6240",
        "Rename the other holder in QuickBooks, or correct the name in the MIS.",
    )


# ---------------------------------------------------------------- sending (worker threads)


def update_requestid(items: Sequence[Planned]) -> str:
    """The same records, customers at the same SyncTokens and the same changes -> the same
    requestid (within QuickBooks' 36 characters): a retried batch gets the first answer."""
    parts = sorted(
        f"{p.ref.kind}:{p.ref.row_id}:{p.customer.get('Id')}:{p.customer.get('SyncToken')}:"
        + json.dumps(p.body, sort_keys=True, ensure_ascii=False)
        for p in items
    )
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()
    return ("u-" + digest)[:REQUESTID_MAX]


def single_update_requestid(planned: Planned) -> str:
    """A single update's requestid, as a batch's but within QuickBooks' 50 characters and apart
    from any batch's ("us-"): a retried update gets the first answer."""
    part = update_requestid([planned])
    digest = hashlib.sha256(part.encode("utf-8")).hexdigest()
    return ("us-" + digest)[:SINGLE_REQUESTID_MAX]


def send_updates(
    client: QuickBooksClient, items: Sequence[Planned], context: CallContext
) -> UpdateOutcome:
    """One batch request of up to 30 sparse updates, and one more try of those QuickBooks
    found stale (5010: re-read, re-planned) or whose name was taken (6240: the distinct name).
    Never raises: a bug must not lose the batch."""
    return _guarded(items, lambda: _send(client, items, context))


def send_update_singles(
    client: QuickBooksClient, items: Sequence[Planned], context: CallContext
) -> UpdateOutcome:
    """Sparse updates one request each (``POST /customer``), one after the other, in the
    allowance batches leave (:attr:`Lane.SPARE`); their answers are handled as a batch's items
    are. When the run must stop, those not sent yet are left unsent. Never raises."""
    outcome = UpdateOutcome()
    for n, p in enumerate(items):
        if outcome.fatal is not None:
            outcome.unsent += items[n:]
            break
        outcome.extend(_guarded([p], partial(_send, client, [p], context, single=True)))
    return outcome


def _guarded(items: Sequence[Planned], send: Callable[[], UpdateOutcome]) -> UpdateOutcome:
    try:
        return send()
    except Exception as exc:
        log.exception("unexpected error sending a batch of %d updates", len(items))
        return UpdateOutcome(
            failed=[
                failure(
                    p.candidate.mapped,
                    f"Internal error: {errors_text(exc)}",
                    "internal",
                    "Update it again; report it if it recurs.",
                )
                for p in items
            ]
        )


def _single(
    client: QuickBooksClient, planned: Planned, context: CallContext
) -> dict[str, BatchItemResult]:
    """One sparse update by ``POST /customer``, answered as a batch of one: a refusal of the
    record is its item's fault; only what stops the run is raised."""
    customer = planned.item("0")["Customer"]
    try:
        answer = client.update_customer(
            customer.pop("Id"),
            customer.pop("SyncToken"),
            {k: v for k, v in customer.items() if k != "sparse"},
            requestid=single_update_requestid(planned),
            context=context,
            lane=Lane.SPARE,
        )
    except QuickBooksError as exc:
        if stops_run(exc):
            raise
        return {"0": BatchItemResult("0", error=exc)}
    return {"0": BatchItemResult("0", entity=answer)}


def _send(
    client: QuickBooksClient, items: Sequence[Planned], context: CallContext, single: bool = False
) -> UpdateOutcome:
    outcome = UpdateOutcome()
    batch = [p.item(str(n)) for n, p in enumerate(items)]
    try:
        if single:
            results = _single(client, items[0], context)
        else:
            results = client.batch(batch, requestid=update_requestid(items), context=context)
    except QuickBooksError as exc:
        if stops_run(exc):
            outcome.fatal = exc
            outcome.unsent = list(items)
            return outcome
        outcome.failed = [error_failure(p.candidate.mapped, p.candidate.qk_id, exc) for p in items]
        return outcome
    stale: list[Planned] = []
    again: list[Planned] = []
    for n, p in enumerate(items):
        result = results[str(n)]
        if result.ok and result.entity and result.entity.get("Id"):
            outcome.updated.append(Done(p, result.entity))
        elif isinstance(result.error, StaleObjectError) and p.attempt == 1:
            stale.append(p)
        elif (
            isinstance(result.error, DuplicateNameError)
            and p.attempt == 1
            and p.renamed_from is None
            and "DisplayName" in p.body
        ):
            real = p.display_name
            distinct = distinct_display_name(real, p.candidate.mapped.reference)
            again.append(replace(renamed(p, distinct, real), attempt=2))
        elif isinstance(result.error, StaleObjectError):
            outcome.failed.append(
                failure(
                    p.candidate.mapped,
                    f"Customer {p.candidate.qk_id} changed in QuickBooks again while it was "
                    "updated: not updated this time.",
                    "5010",
                    "Update it again: the next update reads the customer afresh.",
                )
            )
        elif isinstance(result.error, DuplicateNameError) and p.renamed_from is not None:
            outcome.failed.append(both_taken(p.candidate.mapped, p.renamed_from, p.display_name))
        else:
            outcome.failed.append(
                error_failure(p.candidate.mapped, p.candidate.qk_id, result.error)
            )
    if stale:
        outcome.extend(_reapply(client, stale, context, single))
    if again:
        outcome.extend(_send(client, again, context, single))
    return outcome


def _reapply(
    client: QuickBooksClient, stale: Sequence[Planned], context: CallContext, single: bool
) -> UpdateOutcome:
    """5010: the customers are read again and the same changes applied to them once more
    (only those QuickBooks does not hold already)."""
    outcome = UpdateOutcome()
    try:
        fresh = read_customers(client, [str(p.customer["Id"]) for p in stale], context)
    except QuickBooksError as exc:
        if stops_run(exc):
            outcome.fatal = exc
            outcome.unsent = list(stale)
            return outcome
        outcome.failed = [error_failure(p.candidate.mapped, p.candidate.qk_id, exc) for p in stale]
        return outcome
    again: list[Planned] = []
    for p in stale:
        customer = fresh.get(str(p.customer["Id"]))
        if customer is None:
            outcome.failed.append(gone(p.candidate.mapped, p.candidate.qk_id))
            continue
        decided = plan(p.candidate, customer, attempt=2, fields=p.fields)
        if isinstance(decided, Failed):
            outcome.failed.append(decided)
        elif isinstance(decided, Planned):
            if "DisplayName" in decided.fields:
                decided = renamed(decided, p.display_name, p.renamed_from)
            again.append(decided)
        else:
            outcome.unchanged.append((p.candidate, decided))
    if again:
        outcome.extend(_send(client, again, context, single))
    return outcome


# ---------------------------------------------------------------- the phase


PublishFn = Callable[..., bool]


@dataclass(frozen=True)
class Pools:
    batches: ThreadPoolExecutor
    singles: ThreadPoolExecutor | None  # None: no single lane (fewer than three workers)


def run_updates(
    dbs: Databases,
    client: QuickBooksClient,
    history: RunHistory,
    request: SyncRequest,
    progress: Progress,
    *,
    options: MappingOptions,
    workers: int,
    cancel_event: threading.Event,
    publish: PublishFn,
) -> tuple[Exception | None, bool]:
    """The run's update phase, after its creates: students and applicants carrying on each
    other's customer (SYNC_STUDENT_CUSTOMER=continue), then, when the request asks for updates
    (``include_updates`` or scope "updates"), every synced record that changed. Answers
    (fatal error, cancelled) as the engine's pump does; returns at once when it has nothing to
    do."""
    phase = UpdatePhase(dbs, client, history, progress, options, workers, cancel_event, publish)
    return phase.run(request)


class UpdatePhase:
    def __init__(
        self,
        dbs: Databases,
        client: QuickBooksClient,
        history: RunHistory,
        progress: Progress,
        options: MappingOptions,
        workers: int,
        cancel_event: threading.Event,
        publish: PublishFn,
    ) -> None:
        self.dbs = dbs
        self.client = client
        self.history = history
        self.progress = progress
        self.options = options
        self.workers = max(1, workers)
        self.cancel_event = cancel_event
        self.publish = publish
        self.in_flight = NamesInFlight()
        self.fatal: Exception | None = None
        self.cancelled = False

    @property
    def stopping(self) -> bool:
        return self.fatal is not None or self.cancelled or self.cancel_event.is_set()

    def run(self, request: SyncRequest) -> tuple[Exception | None, bool]:
        chunks: list[Iterator[list[Candidate]]] = []
        if self.options.continues_applicants:
            left = None if request.limit is None else max(request.limit - self.progress.done, 0)
            for kind in (STUDENT, APPLICANT):
                if kind in request.kinds:
                    chunks.append(self.continuations(kind, request, left))
        if request.wants_updates:
            for kind in request.update_kinds:
                chunks.append(self.changed(kind, request.row_ids(kind)))
        if not chunks:
            return None, False
        batch_width, single_width = lane_widths(self.workers)
        with (
            ThreadPoolExecutor(batch_width, thread_name_prefix="qbo-update") as batches,
            ThreadPoolExecutor(max(single_width, 1), thread_name_prefix="qbo-upd-one") as singles,
        ):
            pools = Pools(batches, singles if single_width else None)
            in_flight: dict[Future[UpdateOutcome], list[Planned]] = {}
            try:
                for source in chunks:
                    for chunk in source:
                        if self.stopping:
                            break
                        self.submit(pools, in_flight, self.decide(chunk))
                        self.drain(in_flight, keep=self.workers * 4)
                    if self.stopping:
                        break
            finally:
                self.drain(in_flight, keep=0)
        self.publish(self.progress, force=True)
        return self.fatal, self.cancelled or self.cancel_event.is_set()

    # -------------------------------------------------------- candidates

    def changed(self, kind: RecordKind, row_ids: Iterable[int] | None) -> Iterator[list[Candidate]]:
        """Synced records whose mapping differs from what was last sent, READ_CHUNK at a time;
        the unchanged ones are counted."""
        table = self.dbs.schema.customers(kind)
        for page in linked_pages(self.dbs.mis, table, READ_CHUNK, row_ids):
            if self.stopping:
                return
            qk_ids = dict(page)
            with self.dbs.mis.connect() as conn:
                records = fetch_records(conn, self.dbs.schema, kind, row_ids=list(qk_ids))
            with self.dbs.store.connect() as conn:
                known = sent.load(conn, kind.name, qk_ids)
            candidates: list[Candidate] = []
            failed: list[Failed] = []
            unchanged = 0
            rows = {r.row_id: r.row for r in records.records}
            for mapped in records.mapped(self.options):
                qk_id = qk_ids[mapped.row_id]
                before = known.get(mapped.row_id)
                state = classify(mapped, rows.get(mapped.row_id, {}), qk_id, before)
                if state == CANNOT:
                    failed.append(
                        failure(
                            mapped,
                            f"Cannot be updated: {mapped.error}",
                            "MIS",
                            "Correct the record in the MIS; its customer is left as it is.",
                        )
                    )
                elif state == UNCHANGED:
                    unchanged += 1
                elif state != CARRIED_ON:
                    baseline = before.fields if state == CHANGED and before is not None else None
                    candidates.append(Candidate(mapped, qk_id, baseline, state))
            self.progress.unchanged += unchanged
            if failed:
                self.progress.planned += len(failed)
                self.write(UpdateOutcome(failed=failed))
            if candidates:
                yield candidates
            elif self.publish(self.progress):
                self.cancelled = True

    def continuations(
        self, kind: RecordKind, request: SyncRequest, left: int | None
    ) -> Iterator[list[Candidate]]:
        """Records of ``kind`` waiting to carry on their counterpart's customer: linked to it
        (and the customer brought to the student's fields) instead of being created."""
        with self.dbs.mis.connect() as conn:
            waiting = enrolment.waiting_continuations(
                conn, self.dbs.schema, kind, request.statuses, request.row_ids(kind)
            )
        if left is not None:
            waiting = waiting[:left]
        other = STUDENT if kind is APPLICANT else APPLICANT
        for start in range(0, len(waiting), READ_CHUNK):
            if self.stopping:
                return
            chunk = waiting[start : start + READ_CHUNK]
            with self.dbs.mis.connect() as conn:
                mine = fetch_records(conn, self.dbs.schema, kind, row_ids=[r for r, _ in chunk])
                theirs = fetch_records(
                    conn, self.dbs.schema, other, row_ids=[c.row_id for _, c in chunk]
                )
            with self.dbs.store.connect() as conn:
                states = record_state.load(conn, kind, [r for r, _ in chunk])
            by_row = {m.row_id: m for m in mine.mapped(self.options)}
            others = {m.row_id: m for m in theirs.mapped(self.options)}
            rows = {r.row_id: r.row for r in mine.records}
            candidates: list[Candidate] = []
            waits: list[RunError] = []
            for row_id, found in chunk:
                mapped = by_row.get(row_id)
                state = states.get(row_id)
                if mapped is None or not mapped.sendable or not mapped.continues:
                    continue
                if state is not None and state["outcome_unknown"]:
                    continue  # an earlier attempt may have created it: the create path looks
                if counterpart(mapped, rows.get(row_id, {})) is None:
                    continue
                if found.qk_id and found.row_id in others:
                    candidates.append(
                        Candidate(mapped, found.qk_id, None, "continued", others[found.row_id])
                    )
                elif kind is STUDENT and found.pending:
                    waits.append(
                        RunError(
                            kind.name,
                            row_id,
                            mapped.identity,
                            mapped.display_name,
                            f"Waits for applicant {found.identity} to be synced: with "
                            "SYNC_STUDENT_CUSTOMER=continue this student carries on the "
                            "applicant's customer, so it is not created on its own.",
                            outcome=Outcome.WAITING,
                        )
                    )
            if waits:
                with write_transaction(self.dbs.store) as conn:
                    self.history.add_errors(conn, self.progress.run_id, waits)
            if candidates:
                yield candidates

    # -------------------------------------------------------- reading and deciding

    def context(self, refs: Iterable[RecordRef]) -> CallContext:
        return CallContext(run_id=self.progress.run_id, records=tuple(refs))

    def decide(self, candidates: list[Candidate]) -> list[Planned]:
        """Read the candidates' customers (one query per 1,000), link the continuations, and
        plan the updates; what needs nothing or cannot be done is written back at once."""
        self.progress.planned += len(candidates)
        context = self.context(c.ref for c in candidates)
        try:
            customers = read_customers(self.client, (c.qk_id for c in candidates), context)
        except QuickBooksError as exc:
            if stops_run(exc):
                self.fatal = exc
                self.progress.planned -= len(candidates)
                return []
            self.write(
                UpdateOutcome(failed=[error_failure(c.mapped, c.qk_id, exc) for c in candidates])
            )
            return []
        outcome = UpdateOutcome()
        planned: list[Planned] = []
        linked: list[tuple[Candidate, dict[str, Any]]] = []
        for candidate in candidates:
            customer = customers.get(candidate.qk_id)
            if customer is None:
                outcome.failed.append(self.missing(candidate))
                continue
            if candidate.continues_with is not None:
                problem = belongs(customer, candidate)
                if problem is not None:
                    outcome.failed.append(problem)
                    continue
                linked.append((candidate, customer))
                if candidate.mapped.kind == APPLICANT.name:
                    # the student's record drives the customer: the applicant is only linked,
                    # and the student's changes (its Notes now name the applicant) are sent
                    self.progress.done += 1
                    candidate = self.student_of(candidate)
            decided = plan(candidate, customer)
            if isinstance(decided, Failed):
                outcome.failed.append(decided)
            elif isinstance(decided, Planned):
                planned.append(decided)
            else:
                outcome.unchanged.append((candidate, decided))
        if linked:
            self.link(linked)
        try:
            chosen, clashes = choose_display_names(self.client, planned, self.in_flight, context)
        except QuickBooksError as exc:
            self.fatal = exc
            self.progress.planned -= len(planned)
            self.write(outcome)
            return []
        outcome.failed += clashes
        self.write(outcome)
        return chosen

    def student_of(self, candidate: Candidate) -> Candidate:
        """The student whose customer an applicant now carries on with: compared with what
        was last sent for it (its Notes gain the ApplicationID)."""
        student = candidate.continues_with
        assert student is not None
        with self.dbs.store.connect() as conn:
            before = sent.load(conn, student.kind, [student.row_id]).get(student.row_id)
        baseline = before.fields if before is not None and before.qk_id == candidate.qk_id else None
        self.progress.planned += 1
        return Candidate(student, candidate.qk_id, baseline, CHANGED if baseline else FIRST)

    def missing(self, candidate: Candidate) -> Failed:
        if candidate.continues_with is not None:
            whose = "applicant" if candidate.mapped.kind == STUDENT.name else "student"
            return failure(
                candidate.mapped,
                f"Its {whose}'s customer {candidate.qk_id} is not in QuickBooks: not linked, "
                "and not created on its own (SYNC_STUDENT_CUSTOMER=continue).",
                GONE,
                f"Re-link or re-push the {whose} from the Reconcile page.",
            )
        return gone(candidate.mapped, candidate.qk_id)

    def link(self, linked: Sequence[tuple[Candidate, dict[str, Any]]]) -> None:
        """Continuations: the record is now its counterpart's customer (status 1 with that Id),
        and remembers the customer as QuickBooks has it (the update then brings it to the
        student's fields)."""
        for kind in (APPLICANT, STUDENT):
            mine = [(c, x) for c, x in linked if c.mapped.kind == kind.name]
            if not mine:
                continue
            with write_transaction(self.dbs.mis) as conn:
                tracking.mark_synced(
                    conn,
                    self.dbs.schema.customers(kind),
                    [
                        tracking.Linked(c.mapped.row_id, c.qk_id, x.get("SyncToken"))
                        for c, x in mine
                    ],
                    self.progress.operator,
                )
            with write_transaction(self.dbs.store) as conn:
                record_state.record_synced(
                    conn,
                    kind,
                    [(c.mapped.row_id, str(x.get("DisplayName") or ""), None) for c, x in mine],
                )
                sent.remember(
                    conn,
                    kind.name,
                    [
                        sent.Baseline(
                            c.mapped.row_id, c.qk_id, canonical_like(x, c.mapped), CONTINUED
                        )
                        for c, x in mine
                    ],
                    self.progress.run_id,
                )
                self.history.add_errors(
                    conn,
                    self.progress.run_id,
                    [continued_entry(c, x) for c, x in mine],
                )
            self.progress.synced += len(mine)

    # -------------------------------------------------------- sending and writing back

    def submit(
        self,
        pools: Pools,
        in_flight: dict[Future[UpdateOutcome], list[Planned]],
        planned: list[Planned],
    ) -> None:
        """Full batches of 30 to the batch workers; the singles' share of the allowance, 30 at
        a time sent one by one, to the single workers."""
        alone = split_for_lanes(len(planned), self.client.limiter.limits) if pools.singles else 0
        lanes = (
            (pools.singles, send_update_singles, planned[:alone]),
            (pools.batches, send_updates, planned[alone:]),
        )
        for pool, send, items in lanes:
            for start in range(0, len(items), MAX_BATCH_ITEMS):
                chunk = items[start : start + MAX_BATCH_ITEMS]
                assert pool is not None
                future = pool.submit(send, self.client, chunk, self.context(p.ref for p in chunk))
                in_flight[future] = chunk

    def drain(self, in_flight: dict[Future[UpdateOutcome], list[Planned]], keep: int) -> None:
        """Write back finished batches until at most ``keep`` are in flight. When the run
        stops, batches not started yet are not sent; those on their way finish."""
        while in_flight and (len(in_flight) > keep or any(f.done() for f in in_flight)):
            if self.stopping:
                keep = 0
                for future in [f for f in in_flight if f.cancel()]:
                    self.forget(in_flight.pop(future))
                if not in_flight:
                    break
            done, _ = wait(
                in_flight, timeout=defaults.PROGRESS_INTERVAL_S, return_when=FIRST_COMPLETED
            )
            for future in done:
                chunk = in_flight.pop(future)
                outcome = future.result()
                self.in_flight.free(p.display_name for p in chunk if "DisplayName" in p.fields)
                self.fatal = self.fatal or outcome.fatal
                self.progress.planned -= len(outcome.unsent)
                self.write(outcome)
            if self.publish(self.progress):
                self.cancelled = True

    def forget(self, chunk: list[Planned]) -> None:
        """Planned but never sent (the run stops): nothing changed for them."""
        self.in_flight.free(p.display_name for p in chunk if "DisplayName" in p.fields)
        self.progress.planned -= len(chunk)

    def write(self, outcome: UpdateOutcome) -> None:
        """An outcome into the MIS (the new SyncToken; a continuation that failed to 2), the
        store (what was sent, the last error) and the run (entries and counts)."""
        for kind in (APPLICANT, STUDENT):
            done = [d for d in outcome.updated if d.planned.ref.kind == kind.name]
            same = [(c, x) for c, x in outcome.unchanged if c.ref.kind == kind.name]
            failed = [f for f in outcome.failed if f.ref.kind == kind.name]
            if not (done or same or failed):
                continue
            table = self.dbs.schema.customers(kind)
            # a record waiting to carry on a customer that cannot be had: failed (2); a synced
            # record stays at 1 (it has its customer), its last error kept in the store
            stuck = [f.ref.row_id for f in failed]
            with write_transaction(self.dbs.mis) as conn:
                tracking.mark_synced(
                    conn,
                    table,
                    [
                        tracking.Linked(
                            d.planned.ref.row_id, str(d.customer["Id"]), d.customer.get("SyncToken")
                        )
                        for d in done
                    ],
                    self.progress.operator,
                )
                if stuck:
                    tracking.set_status(
                        conn, table, stuck, SyncStatus.FAILED, only_from=SyncStatus.NOT_SYNCED
                    )
            with write_transaction(self.dbs.store) as conn:
                record_state.record_synced(
                    conn,
                    kind,
                    [
                        (
                            d.planned.ref.row_id,
                            str(d.customer.get("DisplayName") or d.planned.display_name),
                            d.planned.renamed_from,
                        )
                        for d in done
                    ],
                )
                record_state.record_failed(
                    conn,
                    kind,
                    [record_state.Failure(f.ref.row_id, f.code, f.message, f.hint) for f in failed],
                )
                sent.remember(
                    conn,
                    kind.name,
                    [
                        sent.Baseline(
                            d.planned.ref.row_id,
                            d.planned.candidate.qk_id,
                            d.planned.desired,
                            UPDATED,
                        )
                        for d in done
                    ]
                    + [
                        sent.Baseline(c.ref.row_id, c.qk_id, desired, COMPARED)
                        for c, desired in same
                    ],
                    self.progress.run_id,
                )
                self.history.add_errors(
                    conn,
                    self.progress.run_id,
                    [failed_entry(f) for f in failed] + [updated_entry(d) for d in done],
                )
        self.progress.done += len(outcome.updated) + len(outcome.unchanged) + len(outcome.failed)
        self.progress.updated += len(outcome.updated)
        self.progress.unchanged += len(outcome.unchanged)
        self.progress.failed += len(outcome.failed)
        self.progress.renamed += sum(1 for d in outcome.updated if d.planned.renamed_from)


# what a synced record is to the update phase
def failed_entry(f: Failed) -> RunError:
    return RunError(f.ref.kind, f.ref.row_id, f.identity, f.display_name, f.message, f.code, f.hint)


def updated_entry(done: Done) -> RunError:
    p = done.planned
    mapped = p.candidate.mapped
    fields = ", ".join(p.fields)
    renamed_note = (
        f" (sent as {p.display_name!r}: {p.renamed_from!r} is taken)" if p.renamed_from else ""
    )
    return RunError(
        mapped.kind,
        mapped.row_id,
        mapped.identity,
        p.display_name,
        f"Updated customer {p.candidate.qk_id} ({p.candidate.why}): {fields}{renamed_note}.",
        outcome=Outcome.UPDATED,
    )


def continued_entry(candidate: Candidate, customer: dict[str, Any]) -> RunError:
    mapped = candidate.mapped
    other = candidate.continues_with
    kind = kind_named(other.kind) if other is not None else None
    whose = f"{kind.name} {other.identity}" if kind is not None and other is not None else "the"
    return RunError(
        mapped.kind,
        mapped.row_id,
        mapped.identity,
        str(customer.get("DisplayName") or ""),
        f"Carries on {whose}'s customer {candidate.qk_id} (SYNC_STUDENT_CUSTOMER=continue): "
        "linked, not created as a second customer.",
        outcome=Outcome.CONTINUED,
    )
