"""A sync request as the API and schedules ask for it, with the options this version may lack.

"Run limits" (at most N records per run) and "include updates" are being added to
:class:`~sync_core.sync.request.SyncRequest`; until a field of that name exists, the option is
not applied and the caller is told so in ``notes`` (never silently dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sync_core.domain.errors import InvalidRequest
from sync_core.domain.statuses import Scope
from sync_core.sync.request import SyncRequest

LIMIT_FIELD = "limit"
UPDATES_FIELD = "include_updates"


def request_supports(name: str) -> bool:
    return name in {f.name for f in fields(SyncRequest)}


@dataclass(frozen=True)
class PreparedRequest:
    request: SyncRequest
    notes: list[str] = field(default_factory=list)  # options asked for and not applied
    limit_applied: bool = False
    updates_applied: bool = False


def prepare_request(
    scope: Scope | str,
    operator: str,
    *,
    batch_size: int,
    retry_failed: bool = False,
    limit: int | None = None,
    include_updates: bool = False,
) -> PreparedRequest:
    """Raises InvalidRequest (from SyncRequest) for a bad scope or batch size."""
    extra: dict[str, Any] = {}
    notes: list[str] = []
    limit_applied = updates_applied = False
    if limit is not None:
        if request_supports(LIMIT_FIELD):
            extra[LIMIT_FIELD] = limit
            limit_applied = True
        else:
            notes.append(
                f"limit {limit} is not applied: this version syncs every waiting record of the "
                "scope"
            )
    if include_updates:
        if request_supports(UPDATES_FIELD):
            extra[UPDATES_FIELD] = True
            updates_applied = True
        else:
            notes.append("include_updates is not applied: this version sends new records only")
    try:
        scope = Scope(scope)
    except ValueError:
        raise InvalidRequest(f"scope must be one of {', '.join(Scope)}") from None
    request = SyncRequest(
        scope=scope,
        operator=operator,
        batch_size=batch_size,
        retry_failed=retry_failed,
        **extra,
    )
    return PreparedRequest(request, notes, limit_applied, updates_applied)
