"""Runs that live in the background of a long-lived process (the dashboard's server), not in a
page script: a browser can navigate away, reload, or open a second window and find the same run
in the run history, where the engine publishes its progress."""

from __future__ import annotations

import logging
import threading

from sync_core.database import log_failure
from sync_core.sync.engine import SyncEngine
from sync_core.sync.request import SyncRequest

log = logging.getLogger(__name__)

_threads: dict[int, threading.Thread] = {}
_cancel_events: dict[int, threading.Event] = {}
_lock = threading.Lock()


def start(engine: SyncEngine, request: SyncRequest, cancel: threading.Event) -> int:
    """Start a run in a background thread; answers its id at once.

    The company's run lock is taken here, before the thread starts, so a second start (another
    browser, the CLI, a double click) is refused with SyncAlreadyRunning right away.
    """
    run_id = engine.start(request)

    def work() -> None:
        try:
            engine.execute(run_id, request)
        except Exception:  # the run is already marked failed with the reason; keep the server up
            log_failure(log, "sync run %s failed", run_id)
        finally:
            with _lock:
                _threads.pop(run_id, None)
                _cancel_events.pop(run_id, None)

    thread = threading.Thread(target=work, name=f"sync-run-{run_id}", daemon=True)
    with _lock:
        _threads[run_id] = thread
        _cancel_events[run_id] = cancel
    thread.start()
    return run_id


def cancel(run_id: int) -> bool:
    """Stop a run of this process at once (others see the request in the run history)."""
    with _lock:
        event = _cancel_events.get(run_id)
    if event is not None:
        event.set()
    return event is not None


def wait_for(run_id: int, timeout: float | None = None) -> bool:
    """For tests and the CLI: wait until a background run of this process ends."""
    with _lock:
        thread = _threads.get(run_id)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()
