"""Slow reads computed in the background, once at a time, shared by every browser session of the
dashboard's process.

A page asks for the value and gets at once what is known (maybe nothing yet, maybe an older
value) while a thread computes a newer one; the page shows it on a later rerun (a fragment that
polls). No script run waits for the computation, so it costs no page its first paint, and ten
operators opening the Overview at once start one scan, not ten.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger("dashboard")
T = TypeVar("T")


@dataclass(frozen=True)
class Known(Generic[T]):
    """What a page can show now."""

    value: T | None  # None before the first computation ended
    computed_at: dt.datetime | None  # UTC, when the value was computed
    busy: bool  # a computation is going on (the value may be older than the data)
    error: BaseException | None  # the last computation's failure (the value is older)


@dataclass
class _Entry:
    value: Any = None
    version: Hashable = None
    computed_at: dt.datetime | None = None
    finished: float = 0.0  # time.monotonic() at the end of the last computation
    took: float = 0.0  # seconds the last computation took
    stale: bool = False
    generation: int = 0  # counts invalidations: one during a computation makes its value stale
    thread: threading.Thread | None = None
    error: BaseException | None = None


class Background(Generic[T]):
    """``compute(*args)`` kept per ``key`` (a configuration) and ``version`` (the data's).

    A value is recomputed when the version changed, when it was marked stale
    (:meth:`invalidate`), or when it is older than ``max_age_s`` and ``age_factor`` times the
    last computation's duration (a scan of 40 s is not repeated every minute)."""

    def __init__(
        self, compute: Callable[..., T], *, max_age_s: float, age_factor: float = 10.0
    ) -> None:
        self._compute = compute
        self._max_age_s = max_age_s
        self._age_factor = age_factor
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable, *args: Any, hold: bool = False) -> Known[T]:
        """What is known for ``key`` now; starts a computation when the value is missing or out
        of date and none is going on. ``hold``: keep showing an existing value however old
        (e.g. while a run changes the data every second), but compute a missing one."""
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            busy = entry.thread is not None
            if not busy and self._due(entry, version, hold):
                entry.thread = threading.Thread(
                    target=self._run,
                    args=(entry, version, entry.generation, args),
                    name="dashboard-background",
                    daemon=True,
                )
                entry.thread.start()
                busy = True
            return Known(entry.value, entry.computed_at, busy, entry.error)

    def invalidate(self) -> None:
        """Every value is out of date (a run ended, an operator asked to recount): computed
        again on the next :meth:`get`; the old one is shown meanwhile."""
        with self._lock:
            for entry in self._entries.values():
                entry.stale = True
                entry.generation += 1

    def wait(self, key: Hashable, timeout: float) -> bool:
        """For tests and tools: wait for the computation of ``key`` going on, if any."""
        with self._lock:
            thread = self._entries.get(key, _Entry()).thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _due(self, entry: _Entry, version: Hashable, hold: bool) -> bool:
        if entry.computed_at is None:
            return entry.error is None or time.monotonic() - entry.finished > self._max_age_s
        if hold:
            return False
        age = time.monotonic() - entry.finished
        too_old = age > max(self._max_age_s, self._age_factor * entry.took)
        return entry.stale or entry.version != version or too_old

    def _run(
        self, entry: _Entry, version: Hashable, generation: int, args: tuple[Any, ...]
    ) -> None:
        started = time.monotonic()
        value: Any = None
        error: BaseException | None = None
        try:
            value = self._compute(*args)
        except Exception as exc:  # shown by the page that asks next
            log.exception("background computation failed")
            error = exc
        finished = time.monotonic()
        with self._lock:
            entry.thread = None
            entry.finished = finished
            entry.took = finished - started
            entry.error = error
            if error is None:
                entry.value = value
                entry.version = version
                entry.computed_at = dt.datetime.now(dt.UTC)
                entry.stale = entry.generation != generation  # invalidated meanwhile
