"""The sync engine: claimed MIS records -> batched creates in QuickBooks -> statuses written back.

The path of one record:

1. **claim** (:mod:`status_writer`): status 3, attempt + 1, outcome marked unknown;
2. **map** (:mod:`mapping`): the exact payload, or a readable reason it cannot be sent;
3. **look before sending** (:mod:`reconcile`) when an earlier attempt's outcome is unknown;
4. **send** in a batch of up to 30 with a ``requestid`` derived from the records and their
   attempts, so a retried request returns QuickBooks' first answer instead of a second customer;
5. **name clash** (6240): adopt the existing customer if it is this record, otherwise send again
   as "John Doe (APP 1234)";
6. **write back**: 1 with ``qk_id`` / 2 with the error; 0 again if the run stopped before sending.

Records are claimed a step (``batch_size``) at a time and sent 30 per batch request from a pool
of workers as wide as the company's concurrency limit; the client's limiter paces them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from sync_core.database import write_transaction
from sync_core.domain.kinds import APPLICANT, KINDS, STUDENT, RecordKind
from sync_core.domain.mapping import MappedCustomer, MappingOptions, with_distinct_name
from sync_core.mis.reader import count_records, fetch_records
from sync_core.mis.tables import STATUS_FAILED, STATUS_NOT_SYNCED
from sync_core.quickbooks import query as q
from sync_core.quickbooks.client import (
    MAX_BATCH_ITEMS,
    CallContext,
    QuickBooksClient,
    batch_create_item,
)
from sync_core.quickbooks.errors import (
    AuthenticationError,
    DuplicateNameError,
    QuickBooksError,
    ValidationError,
)
from sync_core.store import runs as run_states
from sync_core.store.audit import RecordRef
from sync_core.store.locks import RunLock
from sync_core.store.runs import RunError, RunHistory, RunSummary
from sync_core.sync import write_back as status_writer
from sync_core.sync.existing import Lookup, find_existing, is_ours

SCOPES = ("applicants", "students", "all", "record")
RECOMMENDED_BATCH_SIZES = (10, 50, 100)
MAX_BATCH_SIZE = 500


@dataclass(frozen=True)
class SyncRequest:
    scope: str  # applicants / students / all / record
    operator: str
    batch_size: int = 50
    retry_failed: bool = False
    records: tuple[tuple[str, int], ...] = ()  # (kind, row_id) for scope "record"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if not self.operator or not self.operator.strip():
            raise ValueError("an operator name is required to push records")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch size must be 1..{MAX_BATCH_SIZE}")
        if self.scope == "record" and not self.records:
            raise ValueError("scope 'record' needs the records to push")

    @property
    def kinds(self) -> list[RecordKind]:
        if self.scope == "record":
            return [k for k in (APPLICANT, STUDENT) if any(r[0] == k.name for r in self.records)]
        return {"applicants": [APPLICANT], "students": [STUDENT]}.get(
            self.scope, [APPLICANT, STUDENT]
        )

    @property
    def statuses(self) -> tuple[int, ...]:
        if self.retry_failed or self.scope == "record":
            return (STATUS_NOT_SYNCED, STATUS_FAILED)
        return (STATUS_NOT_SYNCED,)

    def row_ids(self, kind: RecordKind) -> list[int] | None:
        if self.scope != "record":
            return None
        return [row_id for k, row_id in self.records if k == kind.name]


@dataclass
class _Item:
    mapped: MappedCustomer
    claim: status_writer.Claim
    prelinked: str | None = None  # a qk_id the MIS already holds (e.g. from an earlier system)

    @property
    def key(self) -> tuple[str, int]:
        return (self.mapped.kind, self.mapped.row_id)


@dataclass
class _ChunkOutcome:
    synced: list[tuple[_Item, dict[str, Any], bool]] = field(default_factory=list)  # adopted?
    failed: list[tuple[_Item, QuickBooksError | None, str, bool]] = field(default_factory=list)
    requeue: list[_Item] = field(default_factory=list)
    fatal: Exception | None = None


@dataclass
class Progress:
    """What the CLI and the dashboard show while a run goes on."""

    run_id: int
    scope: str
    operator: str
    planned: int = 0
    done: int = 0
    synced: int = 0
    failed: int = 0
    adopted: int = 0
    renamed: int = 0
    reconciled: int = 0
    released: int = 0
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
        return {k: getattr(self, k) for k in run_states.COUNTERS}


@dataclass(frozen=True)
class SyncResult:
    run: RunSummary

    @property
    def all_synced(self) -> bool:
        return self.run.state == run_states.COMPLETED and self.run.failed == 0


def batch_requestid(items: Sequence[_Item]) -> str:
    """The same records at the same attempts with the same names -> the same requestid."""
    parts = sorted(
        f"{i.mapped.kind}:{i.mapped.row_id}:{i.claim.attempt}:{i.mapped.display_name}"
        for i in items
    )
    return "b-" + hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:40]


class SyncEngine:
    def __init__(
        self,
        db: Engine,
        client: QuickBooksClient,
        *,
        mapping_options: MappingOptions | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel_event: threading.Event | None = None,
        workers: int | None = None,
        progress_interval_s: float = 1.0,
    ) -> None:
        self.db = db
        self.client = client
        self.options = mapping_options or MappingOptions()
        self.on_progress = on_progress
        self.cancel_event = cancel_event or threading.Event()
        self.workers = workers or client.limiter.limits.max_concurrent
        self.progress_interval_s = progress_interval_s
        self.history = RunHistory(db)
        self.lock = RunLock(db, self.history)

    # ------------------------------------------------------------ entry points

    def start(self, request: SyncRequest) -> int:
        """Take the company's run lock and create the run; raises SyncAlreadyRunning."""
        return self.lock.acquire(
            self.client.realm_id,
            operator=request.operator.strip(),
            scope=request.scope,
            batch_size=request.batch_size,
            retry_failed=request.retry_failed,
        )

    def run(self, request: SyncRequest) -> SyncResult:
        return self.execute(self.start(request), request)

    def execute(self, run_id: int, request: SyncRequest) -> SyncResult:
        """Do a started run to its end; always releases the lock and leaves nothing at 3."""
        progress = Progress(run_id=run_id, scope=request.scope, operator=request.operator)
        self._last_publish = 0.0
        self._names_in_flight: Counter[str] = Counter()  # names chosen, not yet in QuickBooks
        final_state, message = run_states.COMPLETED, None
        try:
            self._recover(progress)
            progress.planned = self._count_planned(request)
            self._publish(progress, force=True)
            fatal, cancelled = self._pump(request, progress)
            if fatal is not None:
                final_state = run_states.FAILED
                message = _describe(fatal)
            elif cancelled:
                final_state = run_states.CANCELLED
                message = "Cancelled by request; records not yet sent went back to not synced."
            elif progress.failed:
                final_state = run_states.COMPLETED_WITH_ERRORS
        except Exception as exc:  # the run fails as a whole; records are not lost
            final_state, message = run_states.FAILED, _describe(exc)
            raise
        finally:
            progress.finished = True
            try:
                self._release_leftovers(progress)
                self._publish(progress, force=True)
            finally:
                self.history.finish(run_id, final_state, message)
                self.lock.release(self.client.realm_id, run_id)
        summary = self.history.get(run_id)
        assert summary is not None
        return SyncResult(run=summary)

    # ------------------------------------------------------------ recovery

    def _recover(self, progress: Progress) -> None:
        """Records a dead run left at 3: adopt the customer if QuickBooks has it, else release."""
        for kind in KINDS.values():
            with self.db.connect() as conn:
                leftovers = status_writer.claimed_leftovers(conn, kind)
            for start in range(0, len(leftovers), 100):
                claims = leftovers[start : start + 100]
                items, invalid = self._map_claims(kind, claims)
                released = [i.mapped.row_id for i in items]
                adopted: list[status_writer.Synced] = []
                failed = list(invalid)
                errors: list[RunError] = []
                try:
                    existing = find_existing(
                        self.client,
                        [Lookup(i.mapped, _extra_names(i)) for i in items],
                        self._context(progress, items),
                    )
                except AuthenticationError:
                    raise
                except QuickBooksError as exc:
                    unchecked = [self._unchecked(i, exc) for i in items]
                    failed += unchecked
                    errors += [_run_error(kind.name, f) for f in unchecked]
                    released, existing = [], {}
                for item in items:
                    customer = existing.get(item.key)
                    if customer is not None:
                        released.remove(item.mapped.row_id)
                        adopted.append(_synced(item, customer))
                with write_transaction(self.db) as conn:
                    status_writer.mark_synced(conn, kind, adopted, progress.operator)
                    status_writer.mark_failed(conn, kind, failed)
                    progress.released += status_writer.release(conn, kind, released)
                    self.history.add_errors(conn, progress.run_id, errors)
                progress.reconciled += len(adopted)

    # ------------------------------------------------------------ the pump

    def _count_planned(self, request: SyncRequest) -> int:
        if request.scope == "record":
            return len(request.records)
        with self.db.connect() as conn:
            return sum(count_records(conn, k, request.statuses) for k in request.kinds)

    def _steps(self, request: SyncRequest, progress: Progress) -> Iterator[list[_Item]]:
        for kind in request.kinds:
            cursor = 0
            while True:
                with write_transaction(self.db) as conn:
                    claims = status_writer.claim(
                        conn,
                        kind,
                        statuses=request.statuses,
                        limit=request.batch_size,
                        after_row_id=cursor,
                        row_ids=request.row_ids(kind),
                        run_id=progress.run_id,
                    )
                if not claims:
                    break
                cursor = claims[-1].row_id
                yield self._prepare(kind, claims, progress)

    def _pump(self, request: SyncRequest, progress: Progress) -> tuple[Exception | None, bool]:
        steps = self._steps(request, progress)
        pending: deque[_Item] = deque()
        in_flight: dict[Future, list[_Item]] = {}
        buffer_target = max(self.workers * MAX_BATCH_ITEMS, request.batch_size)
        exhausted = cancelled = False
        fatal: Exception | None = None
        with ThreadPoolExecutor(self.workers, thread_name_prefix="qbo-batch") as pool:
            try:
                while True:
                    cancelled = cancelled or self.cancel_event.is_set()
                    stopping = cancelled or fatal is not None
                    while not exhausted and not stopping and len(pending) < buffer_target:
                        try:
                            step = next(steps, None)
                        except Exception as exc:  # e.g. the connection is lost: stop claiming,
                            fatal = exc  # but still write back what is in flight
                            break
                        if step is None:
                            exhausted = True
                        else:
                            pending.extend(step)
                    stopping = cancelled or fatal is not None
                    if stopping and pending:
                        self._release(pending, progress)
                        pending.clear()
                    while (
                        pending
                        and not stopping
                        and len(in_flight) < self.workers
                        and (len(pending) >= MAX_BATCH_ITEMS or exhausted)
                    ):
                        chunk = [
                            pending.popleft() for _ in range(min(MAX_BATCH_ITEMS, len(pending)))
                        ]
                        in_flight[pool.submit(self._send_chunk, chunk, progress)] = chunk
                    if not in_flight:
                        if pending:
                            continue
                        break
                    done, _ = wait(
                        in_flight, timeout=self.progress_interval_s, return_when=FIRST_COMPLETED
                    )
                    for future in done:
                        in_flight.pop(future)
                        outcome = future.result()
                        self._apply(outcome, progress)
                        pending.extendleft(reversed(outcome.requeue))
                        fatal = fatal or outcome.fatal
                    if self._publish(progress):
                        cancelled = True
                        self.cancel_event.set()
            finally:
                steps.close()
                if pending:
                    self._release(pending, progress)
        return fatal, cancelled

    # ------------------------------------------------------------ one step

    def _map_claims(
        self, kind: RecordKind, claims: Sequence[status_writer.Claim]
    ) -> tuple[list[_Item], list[status_writer.Failed]]:
        with self.db.connect() as conn:
            page = fetch_records(conn, kind, row_ids=[c.row_id for c in claims])
        mapped = {m.row_id: m for m in page.mapped(self.options)}
        qk_ids = {r.row_id: (r.qk_id or "").strip() or None for r in page.records}
        items, invalid = [], []
        for c in claims:
            m = mapped.get(c.row_id)
            if m is None:
                invalid.append(
                    status_writer.Failed(c.row_id, None, "The record is no longer in the MIS", None)
                )
            elif not m.sendable:
                invalid.append(
                    status_writer.Failed(
                        c.row_id,
                        "MIS",
                        m.error or "",
                        "Correct the record in the MIS, then retry it.",
                        display_name=m.display_name,
                        identity=m.identity,
                    )
                )
            else:
                items.append(_Item(m, c, qk_ids.get(c.row_id)))
        return items, invalid

    def _prepare(
        self, kind: RecordKind, claims: Sequence[status_writer.Claim], progress: Progress
    ) -> list[_Item]:
        """Map a claimed step; fail what cannot be sent; look up what may exist already."""
        items, failed = self._map_claims(kind, claims)
        errors = [_run_error(kind.name, f) for f in failed]
        adopted: list[status_writer.Synced] = []
        unsure = [i for i in items if i.claim.previously_unknown or i.prelinked]
        if unsure:
            try:
                existing = self._existing_customers(unsure, progress)
            except AuthenticationError:
                raise
            except QuickBooksError as exc:
                existing = {}
                for item in unsure:
                    items.remove(item)
                    f = self._unchecked(item, exc)
                    failed.append(f)
                    errors.append(_run_error(kind.name, f))
            for item in unsure:
                customer = existing.get(item.key)
                if customer is not None and item in items:
                    items.remove(item)
                    adopted.append(_synced(item, customer))
                    why = "its qk_id in the MIS" if item.prelinked else "an earlier attempt"
                    errors.append(_adopted_notice(item, customer, why))
        items = self._choose_names(items, progress, adopted, errors)
        with write_transaction(self.db) as conn:
            status_writer.mark_failed(conn, kind, failed)
            status_writer.mark_synced(conn, kind, adopted, progress.operator)
            status_writer.note_sending(
                conn, kind, {i.mapped.row_id: i.mapped.display_name for i in items}
            )
            self.history.add_errors(conn, progress.run_id, errors)
        progress.done += len(failed) + len(adopted)
        progress.failed += len(failed)
        progress.synced += len(adopted)
        progress.adopted += len(adopted)
        return items

    def _choose_names(
        self,
        items: list[_Item],
        progress: Progress,
        adopted: list[status_writer.Synced],
        errors: list[RunError],
    ) -> list[_Item]:
        """Send each record under a name QuickBooks will take the first time.

        A name already held in QuickBooks (one query per 50 names, which costs no batch
        request) or by a record of this run still on its way goes out as "John Doe (APP 1234)"
        at once, instead of failing with 6240 and costing a second batch slot; when the holder
        is this very record, it is adopted. A clash nobody could foresee (a vendor's or an
        employee's name, a concurrent edit) still comes back as 6240 and is resolved then.
        """
        if not items:
            return items
        try:
            holders = self.client.find_customers_by_display_name(
                [i.mapped.display_name for i in items], context=self._context(progress, items)
            )
        except AuthenticationError:
            raise
        except QuickBooksError:
            holders = []  # no foresight this time: the 6240 path still resolves clashes
        taken: dict[str, list[dict[str, Any]]] = {}
        for customer in holders:
            taken.setdefault(str(customer.get("DisplayName", "")).casefold(), []).append(customer)
        chosen = []
        for item in items:
            name = item.mapped.display_name.casefold()
            ours = next((c for c in taken.get(name, []) if is_ours(c, item.mapped)), None)
            if ours is not None:
                adopted.append(_synced(item, ours))
                errors.append(_adopted_notice(item, ours, "a look-up by its name"))
                continue
            if name in taken or self._names_in_flight[name]:
                item = _Item(with_distinct_name(item.mapped), item.claim, item.prelinked)
            self._names_in_flight[item.mapped.display_name.casefold()] += 1
            chosen.append(item)
        return chosen

    def _existing_customers(
        self, items: Sequence[_Item], progress: Progress
    ) -> dict[tuple[str, int], dict[str, Any]]:
        """Customers that already are these records: by the qk_id the MIS holds, else by name."""
        context = self._context(progress, items)
        existing: dict[tuple[str, int], dict[str, Any]] = {}
        prelinked = [i for i in items if i.prelinked]
        if prelinked:
            where = f"{q.id_in(i.prelinked for i in prelinked)} AND Active IN (true, false)"
            by_id = {str(c["Id"]): c for c in self.client.query_customers(where, context=context)}
            for item in prelinked:
                if item.prelinked in by_id:
                    existing[item.key] = by_id[item.prelinked]
        unsure = [i for i in items if i.claim.previously_unknown and i.key not in existing]
        if unsure:
            existing.update(
                find_existing(
                    self.client, [Lookup(i.mapped, _extra_names(i)) for i in unsure], context
                )
            )
        return existing

    def _unchecked(self, item: _Item, exc: QuickBooksError) -> status_writer.Failed:
        return status_writer.Failed(
            item.mapped.row_id,
            exc.code or exc.kind,
            f"Could not check QuickBooks for an earlier attempt: {_describe(exc)}",
            "Retry later: the record is checked in QuickBooks before it is sent again.",
            outcome_unknown=True,
            display_name=item.mapped.display_name,
            identity=item.mapped.identity,
        )

    def _context(self, progress: Progress, items: Sequence[_Item]) -> CallContext:
        return CallContext(
            run_id=progress.run_id,
            records=tuple(RecordRef(i.mapped.kind, i.mapped.row_id) for i in items),
        )

    # ------------------------------------------------------------ one batch (worker thread)

    def _send_chunk(self, chunk: list[_Item], progress: Progress) -> _ChunkOutcome:
        try:
            return self._send_chunk_unguarded(chunk, progress)
        except Exception as exc:  # a bug must not lose the batch: record it per record
            outcome = _ChunkOutcome()
            outcome.failed = [(i, None, f"Internal error: {_describe(exc)}", True) for i in chunk]
            return outcome

    def _send_chunk_unguarded(self, chunk: list[_Item], progress: Progress) -> _ChunkOutcome:
        outcome = _ChunkOutcome()
        context = self._context(progress, chunk)
        batch = [batch_create_item(str(n), item.mapped.payload) for n, item in enumerate(chunk)]
        try:
            results = self.client.batch(batch, requestid=batch_requestid(chunk), context=context)
        except AuthenticationError as exc:
            outcome.failed = [(i, exc, _describe(exc), False) for i in chunk]
            outcome.fatal = exc
            return outcome
        except QuickBooksError as exc:
            unknown = not isinstance(exc, ValidationError)
            outcome.failed = [(i, exc, _describe(exc), unknown) for i in chunk]
            return outcome

        clashes: list[_Item] = []
        for n, item in enumerate(chunk):
            result = results[str(n)]
            if result.ok and result.entity and result.entity.get("Id"):
                outcome.synced.append((item, result.entity, False))
            elif isinstance(result.error, DuplicateNameError):
                clashes.append(item)
            else:
                error = result.error
                unknown = error is None or error.retryable
                message = _describe(error) if error else "QuickBooks answered without a customer"
                outcome.failed.append((item, error, message, unknown))
        if clashes:
            self._resolve_clashes(clashes, context, outcome)
        return outcome

    def _resolve_clashes(
        self, clashes: list[_Item], context: CallContext, outcome: _ChunkOutcome
    ) -> None:
        """6240: adopt the holder if it is this record; else make the name distinct and resend."""
        try:
            existing = find_existing(self.client, [Lookup(i.mapped) for i in clashes], context)
        except QuickBooksError as exc:
            for item in clashes:
                message = (
                    f"The name {item.mapped.display_name!r} is taken in QuickBooks and its "
                    f"holder could not be checked: {_describe(exc)}"
                )
                outcome.failed.append((item, exc, message, False))
            if isinstance(exc, AuthenticationError):
                outcome.fatal = exc
            return
        for item in clashes:
            customer = existing.get(item.key)
            if customer is not None:
                outcome.synced.append((item, customer, True))
            elif item.mapped.renamed_from is None:
                outcome.requeue.append(_Item(with_distinct_name(item.mapped), item.claim))
            else:
                message = (
                    f"Both {item.mapped.renamed_from!r} and {item.mapped.display_name!r} are "
                    "taken by other QuickBooks customers, vendors or employees"
                )
                error = DuplicateNameError(message, code="6240")
                outcome.failed.append((item, error, message, False))

    # ------------------------------------------------------------ write-back (main thread)

    def _apply(self, outcome: _ChunkOutcome, progress: Progress) -> None:
        for item in [i for i, *_ in outcome.synced] + [i for i, *_ in outcome.failed]:
            self._names_in_flight[item.mapped.display_name.casefold()] -= 1
        for item in outcome.requeue:  # renamed: its old name is free, its new one held
            self._names_in_flight[(item.mapped.renamed_from or "").casefold()] -= 1
            self._names_in_flight[item.mapped.display_name.casefold()] += 1
        self._names_in_flight += Counter()  # drop names no longer held
        errors: list[RunError] = []
        by_kind: dict[str, tuple[list, list]] = {k: ([], []) for k in KINDS}
        for item, customer, adopted in outcome.synced:
            by_kind[item.mapped.kind][0].append(_synced(item, customer))
            if adopted:
                errors.append(_adopted_notice(item, customer, "a name clash"))
                progress.adopted += 1
            elif item.mapped.renamed_from:
                errors.append(
                    RunError(
                        item.mapped.kind,
                        item.mapped.row_id,
                        item.mapped.identity,
                        item.mapped.display_name,
                        f"Sent as {item.mapped.display_name!r}: the name "
                        f"{item.mapped.renamed_from!r} belongs to another QuickBooks customer, "
                        "vendor or employee (QuickBooks requires unique names).",
                        "6240",
                        None,
                        run_states.OUTCOME_RENAMED,
                    )
                )
                progress.renamed += 1
        for item, error, message, unknown in outcome.failed:
            hint = error.hint if error is not None else "Retry the record; report it if it recurs."
            failed = status_writer.Failed(
                item.mapped.row_id,
                (error.code or error.kind) if error is not None else "internal",
                message,
                hint,
                outcome_unknown=unknown,
                display_name=item.mapped.display_name,
                identity=item.mapped.identity,
            )
            by_kind[item.mapped.kind][1].append(failed)
            errors.append(_run_error(item.mapped.kind, failed))
        with write_transaction(self.db) as conn:
            for name, (synced, failed) in by_kind.items():
                status_writer.mark_synced(conn, KINDS[name], synced, progress.operator)
                status_writer.mark_failed(conn, KINDS[name], failed)
            self.history.add_errors(conn, progress.run_id, errors)
        progress.done += len(outcome.synced) + len(outcome.failed)
        progress.synced += len(outcome.synced)
        progress.failed += len(outcome.failed)

    def _release_leftovers(self, progress: Progress) -> None:
        """The safety net when a run ends on an error: whatever it still holds at 3 goes back to
        0. Their outcome stays "unknown" (they may have been sent), so whoever takes them next
        looks in QuickBooks before sending."""
        with write_transaction(self.db) as conn:
            for kind in KINDS.values():
                progress.released += status_writer.release_run_leftovers(
                    conn, kind, progress.run_id
                )

    def _release(self, items: Sequence[_Item], progress: Progress) -> None:
        for item in items:
            self._names_in_flight[item.mapped.display_name.casefold()] -= 1
        with write_transaction(self.db) as conn:
            for kind in KINDS.values():
                ids = [i.mapped.row_id for i in items if i.mapped.kind == kind.name]
                progress.released += status_writer.release(conn, kind, ids)

    def _publish(self, progress: Progress, force: bool = False) -> bool:
        """Persist progress and heartbeat at most every interval; answers "cancel requested"."""
        now = time.monotonic()
        if not force and now - self._last_publish < self.progress_interval_s:
            return False
        self._last_publish = now
        cancel = self.history.update_progress(
            progress.run_id, progress.counters(), round(progress.records_per_s, 2)
        )
        if not self.lock.heartbeat(self.client.realm_id, progress.run_id) and not progress.finished:
            cancel = True  # another process took the lock over: stop sending at once
        if self.on_progress is not None:
            self.on_progress(progress)
        return cancel


# ---------------------------------------------------------------- helpers


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, QuickBooksError):
        return exc.describe()
    return f"{type(exc).__name__}: {exc}"


def _extra_names(item: _Item) -> tuple[str, ...]:
    return (item.claim.sent_display_name,) if item.claim.sent_display_name else ()


def _synced(item: _Item, customer: dict[str, Any]) -> status_writer.Synced:
    return status_writer.Synced(
        row_id=item.mapped.row_id,
        qk_id=str(customer["Id"]),
        display_name=str(customer.get("DisplayName") or item.mapped.display_name),
        renamed_from=item.mapped.renamed_from,
    )


def _run_error(kind: str, failed: status_writer.Failed) -> RunError:
    return RunError(
        kind,
        failed.row_id,
        failed.identity or str(failed.row_id),
        failed.display_name,
        failed.message,
        failed.code,
        failed.hint,
    )


def _adopted_notice(item: _Item, customer: dict[str, Any], why: str) -> RunError:
    return RunError(
        item.mapped.kind,
        item.mapped.row_id,
        item.mapped.identity,
        str(customer.get("DisplayName") or item.mapped.display_name),
        f"Already in QuickBooks as customer {customer.get('Id')} (found after {why}): "
        "linked, not created again.",
        None,
        None,
        run_states.OUTCOME_ADOPTED,
    )
