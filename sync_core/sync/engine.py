"""The sync engine: runs the stages over a run's records and keeps the run's promises.

The path of one record: **claim** (:mod:`.claim`) -> **map** (:mod:`.prepare`) -> **look before
sending** (:mod:`.existing`) when an earlier attempt's outcome is unknown or the MIS holds its
Id -> **choose a name** (:mod:`.names`) -> **send** in a batch of up to 30 (:mod:`.send`) ->
**write back** (:mod:`.write_back`). Before any of it, records a dead run left behind are
**recovered** (:mod:`.recover`).

Records are claimed a step (``batch_size``) at a time and sent by two lanes of workers, together
no wider than the company's concurrency limit (:func:`lane_widths`): batch requests of 30, and
single creates that spend the allowance of ordinary requests batches leave unused (QuickBooks
allows 40 batch requests in its 500 a minute: 1,200 records by batch, up to 460 more one by
one). The batch lane gets the records first; the single lane takes what waits while every batch
worker is busy, or waiting for the batch window. The client's limiter paces both, and a request
waiting for its window holds no concurrency slot, so a slow single never holds up a batch. Both
lanes send claimed records marked "maybe sent" with a requestid of their own (:mod:`.send`): a
crash is recovered the same way for either.

The promises: one run per company (the lock), nothing left at 3 when a run ends, and never a
second customer for a record.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from sync_core import defaults
from sync_core.domain.kinds import RecordKind
from sync_core.domain.mapping import MappingOptions
from sync_core.domain.statuses import RunState, Scope
from sync_core.mis import tracking
from sync_core.quickbooks.client import MAX_BATCH_ITEMS, QuickBooksClient
from sync_core.quickbooks.errors import AuthenticationError, QuickBooksError, ThrottledError
from sync_core.quickbooks.limiter import estimate_eta_s
from sync_core.quickbooks.ports import CallContext
from sync_core.store.locks import RunLock
from sync_core.store.record_state import Attempt
from sync_core.store.runs import RunHistory
from sync_core.sync import claim
from sync_core.sync.claim import Databases
from sync_core.sync.existing import find_existing
from sync_core.sync.lanes import lane_widths
from sync_core.sync.names import NamesInFlight, choose_names
from sync_core.sync.outcomes import Linked, Pending, StepOutcome, errors_text, tally
from sync_core.sync.prepare import map_claimed
from sync_core.sync.recover import link_unlinked, recover, unchecked
from sync_core.sync.request import Progress, SyncRequest, SyncResult
from sync_core.sync.send import send_chunk, send_single
from sync_core.sync.update import run_updates
from sync_core.sync.write_back import note_sending, write_back

CANCELLED_MESSAGE = "Cancelled by request; records not yet sent went back to not synced."
STOPPED = (
    " The sync stopped: records not sent went back to not synced (those whose answer never "
    "came are looked up in QuickBooks before they are sent again)."
)


def stopped_message(exc: Exception) -> str:
    """The run's one message when a fault stopped it: what went wrong, then what became of the
    records."""
    if isinstance(exc, AuthenticationError):
        lead = "The QuickBooks connection no longer works: "
    elif isinstance(exc, ThrottledError):
        lead = "QuickBooks kept refusing requests as too many: "
    else:
        lead = "QuickBooks could not be reached or failed: "
    return lead + errors_text(exc) + STOPPED


TAKEN_OVER = (
    "This run stopped answering (its heartbeat went stale) and another process took the "
    "company's sync over; its records were checked by the next run."
)


class SyncEngine:
    def __init__(
        self,
        dbs: Databases,
        client: QuickBooksClient,
        *,
        history: RunHistory,
        lock: RunLock,
        mapping_options: MappingOptions | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel_event: threading.Event | None = None,
        workers: int | None = None,
        progress_interval_s: float = defaults.PROGRESS_INTERVAL_S,
    ) -> None:
        self.dbs = dbs
        self.client = client
        self.history = history
        self.lock = lock
        self.options = mapping_options or MappingOptions()
        self.on_progress = on_progress
        self.cancel_event = cancel_event or threading.Event()
        self.workers = workers or client.limiter.limits.max_concurrent
        self.progress_interval_s = progress_interval_s
        self._last_publish = 0.0
        self._in_flight = NamesInFlight()
        self._lock_lost = False

    # ------------------------------------------------------------ entry points

    def start(self, request: SyncRequest) -> int:
        """Take the company's run lock and create the run; raises SyncAlreadyRunning."""
        return self.lock.acquire(
            self.client.realm_id,
            operator=request.operator.strip(),
            scope=request.scope,
            batch_size=request.batch_size,
            retry_failed=request.retry_failed,
            record_limit=request.limit,
        )

    def run(self, request: SyncRequest) -> SyncResult:
        return self.execute(self.start(request), request)

    def execute(self, run_id: int, request: SyncRequest) -> SyncResult:
        """Do a started run to its end; always releases the lock and leaves nothing at 3."""
        progress = Progress(run_id=run_id, scope=request.scope, operator=request.operator)
        self._last_publish = 0.0
        self._in_flight = NamesInFlight()
        self._lock_lost = False
        final_state, message = RunState.COMPLETED, None
        try:
            recover(self.dbs, self.client, self.history, progress, self.options)
            link_unlinked(self.dbs, self.client, self.history, progress, self.options)
            progress.planned = self._count_planned(request)
            self._publish(progress, force=True)
            fatal, cancelled = self._pump(request, progress)
            if fatal is None and not cancelled and not self._lock_lost:
                # students carrying on their applicant's customer (continue), and the changes
                # of synced records when the request asks for updates
                fatal, cancelled = run_updates(
                    self.dbs,
                    self.client,
                    self.history,
                    request,
                    progress,
                    options=self.options,
                    workers=self.workers,
                    cancel_event=self.cancel_event,
                    publish=self._publish,
                )
            everything_done = progress.remaining == 0 and progress.released == 0
            if fatal is not None:
                final_state, message = RunState.FAILED, stopped_message(fatal)
            elif self._lock_lost:
                final_state, message = RunState.INTERRUPTED, TAKEN_OVER
            elif cancelled and not everything_done:  # a cancel after the last record: done
                final_state, message = RunState.CANCELLED, CANCELLED_MESSAGE
            elif progress.failed:
                final_state = RunState.COMPLETED_WITH_ERRORS
        except QuickBooksError as exc:
            if not exc.stops_run:
                final_state, message = RunState.FAILED, errors_text(exc)
                raise
            final_state, message = RunState.FAILED, stopped_message(exc)
        except Exception as exc:  # the run fails as a whole; records are not lost
            final_state, message = RunState.FAILED, errors_text(exc)
            raise
        except KeyboardInterrupt:  # Ctrl-C in a terminal without the CLI's signal handling
            final_state, message = RunState.CANCELLED, CANCELLED_MESSAGE
            raise
        finally:
            progress.finished = True
            try:
                progress.released += claim.release_run_leftovers(self.dbs, run_id)
                self._publish(progress, force=True)
            finally:
                self.history.finish(run_id, final_state, message)
                self.lock.release(self.client.realm_id, run_id)
        summary = self.history.get(run_id)
        assert summary is not None
        return SyncResult(run=summary)

    # ------------------------------------------------------------ the pump

    def _count_planned(self, request: SyncRequest) -> int:
        if request.scope is Scope.RECORD:
            return len(request.records)
        with self.dbs.mis.connect() as conn:
            waiting = sum(
                tracking.count_records(conn, self.dbs.schema.customers(k), request.statuses)
                for k in request.kinds
            )
        return waiting if request.limit is None else min(waiting, request.limit)

    def _steps(
        self, request: SyncRequest, progress: Progress
    ) -> Generator[list[Pending], None, None]:
        """Claimed, mapped and looked-up records, a step at a time."""
        left = request.limit  # "the next N": never more, also when cancelled
        for kind in request.kinds:
            cursor = 0
            while left is None or left > 0:
                step = request.batch_size if left is None else min(request.batch_size, left)
                attempts = claim.claim_step(
                    self.dbs,
                    kind,
                    statuses=request.statuses,
                    limit=step,
                    after_row_id=cursor,
                    row_ids=request.row_ids(kind),
                    run_id=progress.run_id,
                )
                if not attempts:
                    break
                cursor = attempts[-1].row_id
                if left is not None:
                    left -= len(attempts)
                yield self._prepare(kind, attempts, progress)

    def _prepare(
        self, kind: RecordKind, attempts: list[Attempt], progress: Progress
    ) -> list[Pending]:
        """Map a claimed step; fail what cannot be sent; adopt what exists already; name the
        rest. Writes back what is decided here."""
        items, invalid = map_claimed(self.dbs, kind, attempts, self.options)
        outcome = StepOutcome(failed=list(invalid))
        unsure = [p for p in items if p.attempt.previously_unknown or p.prelinked]
        if unsure:
            try:
                existing, conflicts = find_existing(
                    self.client, unsure, self._context(progress, unsure)
                )
            except QuickBooksError as exc:
                if exc.stops_run:
                    raise
                existing, conflicts = {}, [unchecked(p, exc) for p in unsure]
            outcome.failed += conflicts
            for p in unsure:
                if p.ref in existing:
                    why = "its QuickBooks Id in the MIS" if p.prelinked else "an earlier attempt"
                    outcome.linked.append(Linked(p, existing[p.ref], why))
            settled = set(existing) | {f.ref for f in conflicts}
            items = [p for p in items if p.ref not in settled]
        chosen, adopted = choose_names(
            self.client, items, self._in_flight, self._context(progress, items)
        )
        outcome.linked += adopted
        write_back(self.dbs, self.history, progress.run_id, progress.operator, outcome)
        note_sending(self.dbs, kind, chosen)
        tally(progress, outcome)
        return chosen

    def _pump(self, request: SyncRequest, progress: Progress) -> tuple[Exception | None, bool]:
        steps = self._steps(request, progress)
        pending: deque[Pending] = deque()
        in_flight: dict[Future[StepOutcome], bool] = {}  # future -> is a batch
        batch_width, single_width = lane_widths(self.workers)
        buffer_target = max(self.workers * MAX_BATCH_ITEMS, request.batch_size)
        exhausted = cancelled = False
        fatal: Exception | None = None
        with (
            ThreadPoolExecutor(batch_width, thread_name_prefix="qbo-batch") as batches,
            ThreadPoolExecutor(max(single_width, 1), thread_name_prefix="qbo-single") as singles,
        ):
            try:
                while True:
                    cancelled = cancelled or self.cancel_event.is_set()
                    if not exhausted and not cancelled and fatal is None:
                        exhausted, fatal = self._fill(steps, pending, buffer_target)
                    stopping = cancelled or fatal is not None
                    if stopping and pending:
                        self._release(list(pending), progress)
                        pending.clear()
                    busy = sum(in_flight.values())
                    while (
                        pending
                        and not stopping
                        and busy < batch_width
                        and (len(pending) >= MAX_BATCH_ITEMS or exhausted)
                    ):
                        chunk = [
                            pending.popleft() for _ in range(min(MAX_BATCH_ITEMS, len(pending)))
                        ]
                        context = self._context(progress, chunk)
                        in_flight[batches.submit(send_chunk, self.client, chunk, context)] = True
                        busy += 1
                    alone = len(in_flight) - busy
                    while pending and not stopping and alone < single_width:
                        one = pending.popleft()
                        context = self._context(progress, [one])
                        in_flight[singles.submit(send_single, self.client, one, context)] = False
                        alone += 1
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
                    self._release(list(pending), progress)
        return fatal, cancelled

    @staticmethod
    def _fill(
        steps: Iterator[list[Pending]], pending: deque[Pending], target: int
    ) -> tuple[bool, Exception | None]:
        """Claim steps until ``target`` records wait; answers (exhausted, fatal error)."""
        while len(pending) < target:
            try:
                step = next(steps, None)
            except Exception as exc:  # e.g. the connection is lost: stop claiming, but still
                return False, exc  # write back what is in flight
            if step is None:
                return True, None
            pending.extend(step)
        return False, None

    def _apply(self, outcome: StepOutcome, progress: Progress) -> None:
        """Write back a batch's outcome (main thread)."""
        self._in_flight.free(x.pending.mapped.display_name for x in outcome.linked)
        self._in_flight.free(f.display_name for f in outcome.failed if f.display_name)
        if outcome.returned:
            self._release(outcome.returned, progress)
        if outcome.maybe_sent:
            self._in_flight.free(p.mapped.display_name for p in outcome.maybe_sent)
            progress.released += claim.release_maybe_sent(
                self.dbs, [p.ref for p in outcome.maybe_sent]
            )
        for p in outcome.requeue:  # renamed: its old name is free, its new one held
            self._in_flight.free([p.mapped.renamed_from or ""])
            self._in_flight.hold([p.mapped.display_name])
        write_back(self.dbs, self.history, progress.run_id, progress.operator, outcome)
        tally(progress, outcome)

    def _release(self, items: list[Pending], progress: Progress) -> None:
        self._in_flight.free(p.mapped.display_name for p in items)
        progress.released += claim.release(self.dbs, [p.ref for p in items])

    def _context(self, progress: Progress, items: list[Pending]) -> CallContext:
        return CallContext(run_id=progress.run_id, records=tuple(p.ref for p in items))

    def _publish(self, progress: Progress, force: bool = False) -> bool:
        """Persist progress and heartbeat at most every interval; answers "cancel requested"."""
        now = time.monotonic()
        if not force and now - self._last_publish < self.progress_interval_s:
            return False
        self._last_publish = now
        limiter = self.client.limiter
        waiting = limiter.waiting_s()
        eta = estimate_eta_s(limiter, progress.remaining, progress.records_per_s, MAX_BATCH_ITEMS)
        cancel = self.history.update_progress(
            progress.run_id,
            progress.counters(),
            round(progress.records_per_s, 2),
            waiting_s=round(waiting, 1) if waiting else None,
            eta_s=round(eta, 1) if eta is not None and not progress.finished else None,
        )
        if not self.lock.heartbeat(self.client.realm_id, progress.run_id) and not progress.finished:
            self._lock_lost = True  # another process took the lock over: stop sending at once
            cancel = True
        if self.on_progress is not None:
            self.on_progress(progress)
        return cancel
