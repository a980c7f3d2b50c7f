"""A sync request as the API and schedules ask for it: a scope by name, checked once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sync_core.domain.errors import InvalidRequest
from sync_core.domain.statuses import Scope
from sync_core.sync.request import SyncRequest


@dataclass(frozen=True)
class PreparedRequest:
    request: SyncRequest
    notes: list[str] = field(default_factory=list)  # said to the caller with the run
    limit_applied: bool = False


def prepare_request(
    scope: Scope | str,
    operator: str,
    *,
    batch_size: int,
    retry_failed: bool = False,
    limit: int | None = None,
    include_updates: bool = False,
) -> PreparedRequest:
    """Raises InvalidRequest (from SyncRequest) for a bad scope, batch size or limit."""
    try:
        scope = Scope(scope)
    except ValueError:
        raise InvalidRequest(f"scope must be one of {', '.join(Scope)}") from None
    request = SyncRequest(
        scope=scope,
        operator=operator,
        batch_size=batch_size,
        retry_failed=retry_failed,
        limit=limit,
        include_updates=include_updates,
    )
    return PreparedRequest(request, limit_applied=limit is not None)
