"""The ``serve`` process's background work: fire due schedules and send notifications, in one
thread beside the API, until the process stops.

On stop, a sync this process is running is asked to stop after its current step (its records
go back to "not synced"), so a restart leaves nothing claimed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sync_core.domain.access import Actor, Role
from sync_core.domain.clock import utcnow
from sync_core.service import background
from sync_core.service.notifications import Notifier
from sync_core.service.schedules import Schedules
from sync_core.store.locks import HOST

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService

log = logging.getLogger(__name__)

TICK_S = 15.0  # the longest sleep between two looks at schedules and notifications
STOP_WAIT_S = 30.0  # how long a stopping process waits for its run to wind down


class ServeLoop:
    def __init__(
        self,
        service: SyncService,
        *,
        tick_s: float = TICK_S,
        schedules: bool = True,
        notifications: bool = True,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.service = service
        self.tick_s = tick_s
        self.schedules = Schedules(service) if schedules else None
        self.notifier = Notifier(service) if notifications else None
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: dt.datetime | None = None) -> None:
        """One look: due schedules first (a missed fire runs at start), then notices."""
        now = now or self.clock()
        if self.schedules is not None:
            try:
                self.schedules.run_due(now)
            except Exception as exc:
                log.warning("scheduled syncs could not be checked (%s)", type(exc).__name__)
        if self.notifier is not None:
            self.notifier.check(now)  # never raises

    def _sleep_s(self, now: dt.datetime) -> float:
        wait = self.tick_s
        if self.schedules is not None:
            try:
                upcoming = self.schedules.next_wakeup(now)
            except Exception:
                upcoming = None
            if upcoming is not None:
                wait = min(wait, max((upcoming - now).total_seconds() + 0.5, 0.5))
        return wait

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.clock()
            self.tick(now)
            self._stop.wait(self._sleep_s(self.clock()))

    def start(self) -> ServeLoop:
        self._thread = threading.Thread(target=self._run, name="serve-loop", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        stop_own_run(self.service, wait_s)


def stop_own_run(service: SyncService, wait_s: float = STOP_WAIT_S) -> int | None:
    """Cancel the sync this process runs (started by the API or a schedule); answers its id."""
    try:
        active = service.active_run()
    except Exception:
        return None
    if active is None or active.pid != os.getpid() or active.host != HOST:
        return None
    log.info("stopping: cancelling run %s of this process", active.id)
    service.cancel_sync(active.id, Actor("API server shutdown", Role.ADMIN, "api"))
    background.wait_for(active.id, timeout=wait_s)
    return active.id
