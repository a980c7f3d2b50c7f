"""Runs that also send the changes of synced records (``include_updates``, scope "updates"), and
students carrying on their applicant's customer (SYNC_STUDENT_CUSTOMER=continue).

The update phase is :func:`sync_core.sync.update.run_updates`, run after a run's creates. Until
:meth:`SyncEngine.execute <sync_core.sync.engine.SyncEngine.execute>` calls it itself and the
facade's mapping options carry SYNC_STUDENT_CUSTOMER, the functions here build the engine that
does (the CLI and the tests use them); afterwards they are the facade's own ``run_sync`` /
``start_sync`` and this module's engine subclass goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from sync_core.domain.access import Actor, Role, require
from sync_core.domain.errors import NotFound
from sync_core.domain.kinds import RecordKind, kind_named
from sync_core.domain.statuses import Scope
from sync_core.quickbooks.client import RetryPolicy
from sync_core.service import background
from sync_core.service.changes import mapping_options
from sync_core.service.records import PushOutcome, PushStatus
from sync_core.store.locks import RunLock
from sync_core.sync.engine import SyncEngine
from sync_core.sync.request import Progress, SyncRequest, SyncResult
from sync_core.sync.update import run_updates

if TYPE_CHECKING:  # the facade will call these modules: no import cycle
    from sync_core.service.facade import SyncService


class EngineWithUpdates(SyncEngine):
    """The engine, its update phase run after the creates. (Interim: once SyncEngine.execute
    calls :func:`run_updates` itself this class goes; were both to run, the second pass would
    find nothing left to send.)"""

    def _pump(self, request: SyncRequest, progress: Progress) -> tuple[Exception | None, bool]:
        fatal, cancelled = super()._pump(request, progress)
        if fatal is None and not cancelled:
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
        return fatal, cancelled


def sync_engine(
    service: SyncService,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    cancel_event: threading.Event | None = None,
    retry: RetryPolicy | None = None,
) -> SyncEngine:
    return EngineWithUpdates(
        service.databases,
        service.client(retry),
        history=service.history,
        lock=RunLock(service.store_engine, service.history),
        mapping_options=mapping_options(service),
        on_progress=on_progress,
        cancel_event=cancel_event,
    )


def _made_by(request: SyncRequest, actor: Actor) -> SyncRequest:
    require(actor, Role.OPERATOR, "push records to QuickBooks")
    return replace(request, operator=actor.name)


def nothing_to_do(service: SyncService, request: SyncRequest) -> bool:
    """No record waits to be created and no update was asked for. (A run with updates always
    runs: comparing is its work, and its line in the history says what it found.)"""
    return not request.wants_updates and service.nothing_to_sync(request)


def run_sync(
    service: SyncService,
    request: SyncRequest,
    actor: Actor,
    on_progress: Callable[[Progress], None] | None = None,
    cancel_event: threading.Event | None = None,
    retry: RetryPolicy | None = None,
) -> SyncResult | None:
    """A run in this thread to its end, with its update phase; None when there is nothing to
    do (no run is recorded)."""
    request = _made_by(request, actor)
    if nothing_to_do(service, request):
        return None
    engine = sync_engine(service, on_progress=on_progress, cancel_event=cancel_event, retry=retry)
    return engine.run(request)


def start_sync(service: SyncService, request: SyncRequest, actor: Actor) -> int | None:
    """The same in the background of this process (the dashboard); answers the run id at once,
    None when there is nothing to do, or raises SyncAlreadyRunning."""
    request = _made_by(request, actor)
    if nothing_to_do(service, request):
        return None
    cancel = threading.Event()
    return background.start(sync_engine(service, cancel_event=cancel), request, cancel)


def update_record(
    service: SyncService, kind: RecordKind | str, row_id: int, actor: Actor
) -> PushOutcome:
    """Send one synced record's changes now (a run of one record, updates only)."""
    kind = kind_named(kind)
    detail = service.record(kind, row_id)
    if detail is None:
        raise NotFound(f"No {kind.name} with row id {row_id} in the MIS")
    if not detail.is_synced:
        return service.push_record(kind, row_id, actor)
    request = SyncRequest(
        scope=Scope.RECORD,
        operator=actor.name or "-",
        batch_size=1,
        records=((kind.name, row_id),),
        include_updates=True,
    )
    result = run_sync(service, request, actor)
    assert result is not None  # a run with updates always runs
    entries = service.run_entries(result.run.id)
    after = service.record(kind, row_id)
    failed = [e for e in entries if e["outcome"] == "failed"]
    if failed:
        return PushOutcome(
            PushStatus.FAILED, failed[-1]["message"], run_id=result.run.id, detail=after
        )
    message = (
        f"Customer {detail.source.qk_id} updated in QuickBooks."
        if result.run.updated
        else f"Customer {detail.source.qk_id} already holds what the MIS says: nothing to send."
    )
    return PushOutcome(
        PushStatus.SYNCED, message, qk_id=detail.source.qk_id, run_id=result.run.id, detail=after
    )
