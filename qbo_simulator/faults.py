"""Injected faults (latency, server errors, dropped answers, throttle storms) and QBO throttling."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from .config import Faults, SimulatorConfig

T = TypeVar("T")


class FaultInjector:
    """Holds the current Faults and the seeded random streams that decide them.

    Each kind of decision has its own stream, so for a given seed and request sequence the
    server-error decisions do not shift when, say, a batch answer gets shuffled.
    """

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.set(faults or Faults())

    @property
    def faults(self) -> Faults:
        return self._faults

    def set(self, faults: Faults) -> None:
        seed = faults.seed if faults.seed is not None else random.randrange(2**32)
        with self._lock:
            self._faults = faults
            self._since = time.monotonic()
            self._rng = {
                name: random.Random(f"{seed}:{name}")
                for name in ("error", "drop", "latency", "shuffle")
            }

    def update(self, **changes: Any) -> Faults:
        faults = replace(self._faults, **changes)
        self.set(faults)
        return faults

    def _draw(self, stream: str, fn: Callable[[random.Random], T]) -> T:
        with self._lock:
            return fn(self._rng[stream])

    def server_error(self) -> int | None:
        rate = self._faults.server_error_rate
        if rate <= 0 or self._draw("error", lambda r: r.random()) >= rate:
            return None
        return self._draw("error", lambda r: r.choice((500, 503)))

    def drop(self) -> bool:
        rate = self._faults.drop_after_commit_rate
        return rate > 0 and self._draw("drop", lambda r: r.random()) < rate

    def latency_s(self) -> float:
        f = self._faults
        jitter = self._draw("latency", lambda r: r.random()) * f.latency_jitter_ms
        return max(0.0, f.latency_ms + jitter) / 1000.0

    def shuffle(self, items: list[T]) -> None:
        self._draw("shuffle", lambda r: r.shuffle(items))

    def storm_active(self) -> bool:
        f = self._faults
        if f.throttle_storm:
            return True
        every, duration = f.throttle_storm_every_s, f.throttle_storm_duration_s
        if not every or not duration:
            return False
        # The first storm starts one period after the faults were set.
        elapsed = time.monotonic() - self._since
        return elapsed >= every and (elapsed % every) < duration


class Throttler:
    """Per-realm sliding windows of ``config.limit_window_s`` (60 s, like QuickBooks) for all API
    requests and, separately, batch POSTs; plus an in-flight limit. A refused request is not
    counted anywhere."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._requests: dict[str, deque[float]] = defaultdict(deque)
        self._batches: dict[str, deque[float]] = defaultdict(deque)
        self._in_flight: dict[str, int] = defaultdict(int)

    def acquire(self, realm: str, is_batch: bool) -> bool:
        now = time.monotonic()
        cfg = self.config
        with self._lock:
            if cfg.throttling:
                requests = self._prune(self._requests[realm], now)
                batches = self._prune(self._batches[realm], now)
                if (
                    len(requests) >= cfg.requests_per_minute
                    or (is_batch and len(batches) >= cfg.batch_requests_per_minute)
                    or self._in_flight[realm] >= cfg.max_concurrent
                ):
                    return False
                requests.append(now)
                if is_batch:
                    batches.append(now)
            self._in_flight[realm] += 1
            return True

    def release(self, realm: str) -> None:
        with self._lock:
            self._in_flight[realm] = max(0, self._in_flight[realm] - 1)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._batches.clear()

    def _prune(self, window: deque[float], now: float) -> deque[float]:
        while window and now - window[0] >= self.config.limit_window_s:
            window.popleft()
        return window
