"""What the QuickBooks adapter needs from outside, and the values it hands over.

The adapter knows no storage: tokens are kept, and calls audited, by whoever implements
:class:`TokenRepository` and :class:`Auditor` (the product's store does). Tokens and secrets
travel as :class:`~sync_core.domain.secret.Secret` so that no log line or error can show one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sync_core.domain.clock import utcnow
from sync_core.domain.kinds import RecordRef
from sync_core.domain.secret import Secret


@dataclass(frozen=True)
class TokenSet:
    access_token: Secret
    access_expires_at: dt.datetime
    refresh_token: Secret
    refresh_expires_at: dt.datetime | None = None

    @classmethod
    def from_answer(
        cls,
        access_token: str,
        expires_in: int | float | None,
        refresh_token: str,
        refresh_expires_in: int | float | None,
        now: dt.datetime | None = None,
    ) -> TokenSet:
        now = now or utcnow()
        return cls(
            access_token=Secret(access_token),
            access_expires_at=now + dt.timedelta(seconds=float(expires_in or 3600)),
            refresh_token=Secret(refresh_token),
            refresh_expires_at=(
                now + dt.timedelta(seconds=float(refresh_expires_in))
                if refresh_expires_in
                else None
            ),
        )


@dataclass(frozen=True)
class StoredConnection:
    environment: str
    realm_id: str
    tokens: TokenSet
    version: int
    connected_at: dt.datetime | None
    refreshed_at: dt.datetime | None
    last_error: str | None
    refresh_refused_at: dt.datetime | None = None  # Intuit refused the refresh token


@dataclass(frozen=True)
class RefreshClaim:
    """The connection as a process found it when it asked to refresh: ``granted`` when it
    now holds the refresh lease (and must finish or release it)."""

    current: StoredConnection | None
    granted: bool


class TokenRepository(Protocol):
    """Where the connection to one QuickBooks environment is kept. Every method is one short
    transaction: none is ever open while a caller talks to Intuit."""

    environment: str

    def load(self) -> StoredConnection | None: ...

    def save_connection(self, realm_id: str, tokens: TokenSet) -> StoredConnection: ...

    def claim_refresh(self, rejected: str, lease: dt.timedelta, holder: str) -> RefreshClaim:
        """Read the connection; grant ``holder`` the refresh lease unless the stored access
        token is already another than ``rejected`` and fresh, or another holder's lease runs."""
        ...

    def finish_refresh(self, tokens: TokenSet, holder: str) -> StoredConnection:
        """Store the tokens a refresh answered and end the lease."""
        ...

    def release_refresh(self, holder: str, refused: str | None = None) -> None:
        """End the lease without new tokens; ``refused``: Intuit refused the refresh token."""
        ...

    def disconnect(self) -> None:
        """Forget the tokens, remembering that an operator disconnected."""
        ...

    def disconnected_at(self) -> dt.datetime | None: ...

    def remember_state(self, state: str) -> None:
        """Keep the CSRF ``state`` of an authorisation started now."""
        ...

    def consume_state(self, state: str, max_age: dt.timedelta) -> bool:
        """Forget ``state``; answers whether it was issued within ``max_age``."""
        ...


@dataclass(frozen=True)
class CallContext:
    """What an audited call is about: the run and the MIS records."""

    run_id: int | None = None
    records: tuple[RecordRef, ...] = ()


@dataclass(frozen=True)
class AuditEntry:
    """One HTTP call to QuickBooks, as the audit trail keeps it: never a token, header or
    payload."""

    operation: str
    records: tuple[RecordRef, ...] = ()
    requestid: str | None = None
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    intuit_tid: str | None = None
    duration_ms: int | None = None
    attempt: int = 1
    run_id: int | None = None
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))


class Auditor(Protocol):
    def record(self, entry: AuditEntry) -> Any: ...


class WindowStore(Protocol):
    """Sliding windows of request timestamps that every process of the product shares."""

    def take(self, key: str, limit: int, window_s: float, now: float) -> float:
        """Stamp one request in ``key``'s window if fewer than ``limit`` are in it (answers 0),
        else answer how many seconds until a place frees (nothing is stamped)."""
        ...

    def take_all(self, windows: Sequence[tuple[str, int]], window_s: float, now: float) -> float:
        """Stamp one request in every ``(key, limit)`` window at once if each has room (answers
        0), else answer how many seconds until all may have a place (nothing is stamped). The
        stamp is the time the places are had (``now`` at the earliest): a request leaves right
        after, so QuickBooks never counts it much later than it is stamped here."""
        ...

    def stamps(self, key: str, window_s: float, now: float) -> list[float]:
        """The timestamps in ``key``'s window now."""
        ...


class TokenProvider(Protocol):
    """What the client asks for before each call (the OAuth connection answers)."""

    def access_token(self) -> str: ...

    def refresh_access_token(self, rejected: str) -> str: ...


__all__ = [
    "AuditEntry",
    "Auditor",
    "CallContext",
    "RefreshClaim",
    "StoredConnection",
    "TokenProvider",
    "TokenRepository",
    "TokenSet",
    "WindowStore",
]
