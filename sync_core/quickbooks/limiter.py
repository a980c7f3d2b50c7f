"""Keep each QuickBooks company (realm) under its request limits, so a long sync sees no 429.

QuickBooks allows about 500 requests a minute per company (batch requests included), 10 at a
time, and about 40 batch requests a minute. Each limit is a sliding window of timestamps, counted
over 60 s plus a margin: a request is stamped when it leaves here but counted by QuickBooks when
it arrives, so without a margin a delayed request could land in QuickBooks' window as the 501st.

The windows live where every process of the product sees them (the product's database, through
:class:`~sync_core.quickbooks.ports.WindowStore`), so the dashboard, the CLI and the API share one
allowance and a restarted process does not start with an empty window. (pyrate-limiter, which
this replaced, keeps its buckets in one process or in stores MySQL is not among.) The
concurrency cap (10 at a time) is per process: a second process is a one-record retry or a
schedule, far from 10 requests in flight.

QuickBooks' 500 include the batch requests, so the 500 are split in two windows: 40 for batch
requests (their own limit) and the other 460 for everything else, so that no kind of request
can crowd the other out. A third window counts all 500, as QuickBooks does (a process of an
older version that shares the database counts only that one). Each request is a
:class:`Lane`: a batch request; an ordinary request (a look-up, a read, an update); or a *spare*
one, a single create or update that only spends what the look-ups leave: spare requests stop a
tenth short of the 460 (:data:`~sync_core.defaults.SPARE_LEAVES_FOR_LOOKUPS`), so the look-ups
that feed the batches always get through. A request waiting for room in a window holds no
concurrency slot: a batch waiting for its window never blocks a single create, nor the other
way round.

The limiter also answers how long a request waits now and when a number of records can all
have been sent: the run's progress shows "waiting for QuickBooks' limit" and an ETA from that
schedule, not from the last second's rate.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sync_core import defaults
from sync_core.quickbooks.ports import WindowStore

REQUESTS = "requests"  # every request, batches included: QuickBooks' 500
BATCHES = "batches"  # batch requests: QuickBooks' 40
OTHERS = "others"  # every request but batches: the 500 less the 40


class Lane(enum.Enum):
    """What kind of request asks for a place: which windows it is counted in."""

    BATCH = "batch"  # a batch request
    REQUEST = "request"  # any other request: a look-up, a read, a one-record push
    SPARE = "spare"  # a single create/update of a run: only what the look-ups leave


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int = defaults.REQUESTS_PER_MINUTE
    batch_requests_per_minute: int = defaults.BATCH_REQUESTS_PER_MINUTE
    max_concurrent: int = defaults.MAX_CONCURRENT
    window_margin_s: float = defaults.LIMIT_WINDOW_MARGIN_S
    window_s: float = defaults.LIMIT_WINDOW_S  # QuickBooks' "per minute"; tests shrink it

    @property
    def counted_window_s(self) -> float:
        return self.window_s + self.window_margin_s

    @property
    def others_per_window(self) -> int:
        """The requests that are not batch requests: the 500 less the 40 (all of them when
        limits shrunk for a test leave none)."""
        others = self.requests_per_minute - self.batch_requests_per_minute
        return others if others > 0 else self.requests_per_minute

    @property
    def spare_per_window(self) -> int:
        """How many of those single creates/updates may take: all but a share left to the
        look-ups a run needs to feed its batches (all when that would leave none)."""
        others = self.others_per_window
        spare = others - math.ceil(others * defaults.SPARE_LEAVES_FOR_LOOKUPS)
        return spare if spare > 0 else others

    @property
    def records_per_window(self) -> int:
        """Records a window can carry at most: full batches plus single creates."""
        return self.batch_requests_per_minute * defaults.MAX_BATCH_ITEMS + self.spare_per_window

    @property
    def records_per_minute_ceiling(self) -> int:
        """What batches of 30 and single creates can reach at most under these limits."""
        return int(self.records_per_window * 60 / self.window_s)

    def windows_of(self, lane: Lane) -> tuple[tuple[str, int], ...]:
        """(window, limit) a request of ``lane`` takes a place in, the one that binds first."""
        if lane is Lane.BATCH:
            return ((BATCHES, self.batch_requests_per_minute), (REQUESTS, self.requests_per_minute))
        others = self.others_per_window if lane is Lane.REQUEST else self.spare_per_window
        return ((OTHERS, others), (REQUESTS, self.requests_per_minute))


class MemoryWindows:
    """Windows of one process (tests, and a client nobody gave a shared store)."""

    def __init__(self) -> None:
        self._stamps: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _window(self, key: str, window_s: float, now: float) -> deque[float]:
        stamps = self._stamps.setdefault(key, deque())
        while stamps and stamps[0] <= now - window_s:
            stamps.popleft()
        return stamps

    def take(self, key: str, limit: int, window_s: float, now: float) -> float:
        return self.take_all([(key, limit)], window_s, now)

    def take_all(self, windows: Sequence[tuple[str, int]], window_s: float, now: float) -> float:
        with self._lock:
            now = max(now, time.time())
            found = [(self._window(key, window_s, now), limit) for key, limit in windows]
            wait = max(
                (s[len(s) - limit] + window_s - now for s, limit in found if len(s) >= limit),
                default=0.0,
            )
            if wait > 0:
                return wait
            for stamps, _ in found:
                stamps.append(now)
            return 0.0

    def stamps(self, key: str, window_s: float, now: float) -> list[float]:
        with self._lock:
            return list(self._window(key, window_s, now))


class RealmLimiter:
    def __init__(
        self, limits: Limits, windows: WindowStore | None = None, realm_id: str = ""
    ) -> None:
        self.limits = limits
        self.windows: WindowStore = windows or MemoryWindows()
        self.realm_id = realm_id
        self._slots = threading.BoundedSemaphore(limits.max_concurrent)
        self._waiting_until = 0.0
        self._waiting_lock = threading.Lock()

    def _key(self, kind: str) -> str:
        return f"{self.realm_id}:{kind}"

    @contextmanager
    def slot(self, lane: Lane = Lane.REQUEST) -> Iterator[None]:
        """Hold one concurrent slot and a place in every window of ``lane`` for one request.

        The places are stamped all at once, only while the request holds its concurrency slot,
        just before it leaves (never while it queues). When a window is full, the slot is given
        back while the request waits: the slot is for requests on their way, not for those
        waiting.
        """
        windows = [(self._key(kind), limit) for kind, limit in self.limits.windows_of(lane)]
        span = self.limits.counted_window_s
        while True:
            self._slots.acquire()
            try:
                wait = self.windows.take_all(windows, span, time.time())
            except BaseException:
                self._slots.release()
                raise
            if wait <= 0:
                break
            self._slots.release()
            with self._waiting_lock:
                self._waiting_until = max(self._waiting_until, time.time() + wait)
            time.sleep(min(wait, 1.0))  # short naps: another process may free a place first
        try:
            yield
        finally:
            self._slots.release()

    def waiting_s(self) -> float:
        """How long requests of this process wait for the limit now (0 when none waits)."""
        with self._waiting_lock:
            return max(0.0, self._waiting_until - time.time())

    def batches_ready_in_s(self, batches: int) -> float:
        """When ``batches`` more batch requests can all have left, by the windows as they are
        (in seconds from now): the limiter's schedule."""
        if batches <= 0:
            return 0.0
        limit = self.limits.batch_requests_per_minute
        window = self.limits.counted_window_s
        now = time.time()
        stamps = sorted(self.windows.stamps(self._key(BATCHES), window, now))
        free_now = max(limit - len(stamps), 0)
        if batches <= free_now:
            return 0.0
        # the k-th request beyond the free places waits for the k-th oldest stamp to expire,
        # then for stamps of its own window: each full window lets ``limit`` more go
        beyond = batches - free_now
        rounds, index = divmod(beyond - 1, limit)
        frees_at = stamps[index] + window if index < len(stamps) else now
        return max(frees_at - now, 0.0) + rounds * window


_registry: dict[tuple[str, Limits, int], RealmLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(realm_id: str, limits: Limits, windows: WindowStore | None = None) -> RealmLimiter:
    """One limiter per realm, limits and window store in a process, shared by its clients."""
    with _registry_lock:
        key = (realm_id, limits, id(windows))
        if key not in _registry:
            _registry[key] = RealmLimiter(limits, windows, realm_id)
        return _registry[key]


def estimate_eta_s(
    limiter: RealmLimiter, remaining: int, records_per_s: float, per_batch: int
) -> float | None:
    """The ETA of ``remaining`` records: the later of the limiter's schedule and the pace the
    run has shown over its whole length (network and QuickBooks' own speed). Batches carry
    their share of the records, single creates the rest, in step with them."""
    if remaining <= 0:
        return 0.0
    limits = limiter.limits
    by_batch = limits.batch_requests_per_minute * per_batch
    share = by_batch / max(by_batch + limits.spare_per_window, 1)
    batches = math.ceil(remaining * share / per_batch)
    schedule = limiter.waiting_s() + limiter.batches_ready_in_s(batches)
    pace = remaining / records_per_s if records_per_s > 0 else None
    return max(schedule, pace) if pace is not None else (schedule or None)
