"""Keep each QuickBooks company (realm) under its request limits, so a long sync sees no 429.

QuickBooks allows about 500 requests a minute per company, 10 at a time, and about 40 batch
requests a minute. The sliding windows come from pyrate-limiter; the concurrency cap is a
semaphore. The windows are counted over 60 s plus a margin: a request is stamped when it leaves
here but counted by QuickBooks when it arrives, so without a margin a delayed request could land
in QuickBooks' window as the 501st.

One limiter per realm per process (:func:`limiter_for`), shared by every client of that realm:
a sync, a single-record retry and the dashboard's lookups all draw from the same allowance.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyrate_limiter import InMemoryBucket, Limiter, Rate

from sync_core import defaults


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int = defaults.REQUESTS_PER_MINUTE
    batch_requests_per_minute: int = defaults.BATCH_REQUESTS_PER_MINUTE
    max_concurrent: int = defaults.MAX_CONCURRENT
    window_margin_s: float = defaults.LIMIT_WINDOW_MARGIN_S
    window_s: float = defaults.LIMIT_WINDOW_S  # QuickBooks' "per minute"; tests shrink it

    @property
    def window_ms(self) -> int:
        return int((self.window_s + self.window_margin_s) * 1000)

    @property
    def records_per_minute_ceiling(self) -> int:
        """What batches of 30 can reach at most under these limits."""
        return int(self.batch_requests_per_minute * defaults.MAX_BATCH_ITEMS * 60 / self.window_s)


class RealmLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._requests = Limiter(
            InMemoryBucket([Rate(limits.requests_per_minute, limits.window_ms)])
        )
        self._batches = Limiter(
            InMemoryBucket([Rate(limits.batch_requests_per_minute, limits.window_ms)])
        )
        self._slots = threading.BoundedSemaphore(limits.max_concurrent)

    @contextmanager
    def slot(self, *, batch: bool = False) -> Iterator[None]:
        """Hold one concurrent slot and one place in the window(s) for one HTTP request.

        The concurrency slot is taken first, so a request is stamped in the window only when
        it is about to leave, never while it queues for a slot.
        """
        with self._slots:
            if batch:
                self._batches.try_acquire("batch", blocking=True)
            self._requests.try_acquire("request", blocking=True)
            yield


_registry: dict[tuple[str, Limits], RealmLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(realm_id: str, limits: Limits) -> RealmLimiter:
    with _registry_lock:
        key = (realm_id, limits)
        if key not in _registry:
            _registry[key] = RealmLimiter(limits)
        return _registry[key]
