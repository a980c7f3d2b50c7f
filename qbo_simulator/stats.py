"""What the simulator saw and did: the API request log and fault counters."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_LOGGED_REQUESTS = 100_000


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    params: dict[str, str]
    status: int
    realm: str | None
    time: float
    had_authorization: bool
    dropped: bool = False
    replayed: bool = False
    duration_ms: float = 0.0

    @property
    def query(self) -> dict[str, str]:
        """Alias of `params`: the request's query-string parameters."""
        return self.params

    @property
    def minorversion(self) -> str | None:
        return self.params.get("minorversion")

    @property
    def requestid(self) -> str | None:
        return self.params.get("requestid")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SimulatorState:
    customers: list[dict[str, Any]]
    customer_count: int
    requests: list[RequestRecord]
    throttled_count: int = 0
    server_errors_sent: int = 0
    dropped_responses: int = 0
    refreshes: int = 0
    requestid_replays: int = 0
    unauthorized_count: int = 0
    api_down_answers: int = 0
    token_endpoint_down_answers: int = 0
    discovery_fetches: int = 0
    total_requests: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)

    def to_dict(self, recent: int = 200) -> dict[str, Any]:
        """JSON form for the admin endpoint: request counts plus only the last `recent` records."""
        return {
            "customers": self.customers,
            "customer_count": self.customer_count,
            "request_count": self.total_requests,
            "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
            "recent_requests": [r.to_dict() for r in self.requests[-recent:]],
            "throttled_count": self.throttled_count,
            "server_errors_sent": self.server_errors_sent,
            "dropped_responses": self.dropped_responses,
            "refreshes": self.refreshes,
            "requestid_replays": self.requestid_replays,
            "unauthorized_count": self.unauthorized_count,
            "api_down_answers": self.api_down_answers,
            "token_endpoint_down_answers": self.token_endpoint_down_answers,
            "discovery_fetches": self.discovery_fetches,
        }


COUNTERS = (
    "throttled_count",
    "server_errors_sent",
    "dropped_responses",
    "refreshes",
    "requestid_replays",
    "unauthorized_count",
    "api_down_answers",
    "token_endpoint_down_answers",
    "discovery_fetches",
)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._log: deque[RequestRecord] = deque(maxlen=MAX_LOGGED_REQUESTS)
            self._counters: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._total = 0

    def bump(self, counter: str) -> None:
        with self._lock:
            self._counters[counter] += 1

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._log.append(rec)
            self._statuses[rec.status] += 1
            self._total += 1

    def snapshot(self, customers: list[dict[str, Any]], customer_count: int) -> SimulatorState:
        with self._lock:
            return SimulatorState(
                customers=customers,
                customer_count=customer_count,
                requests=list(self._log),
                total_requests=self._total,
                status_counts=dict(self._statuses),
                **{name: self._counters[name] for name in COUNTERS},
            )
