"""One synced record's changes sent now. Runs with updates (``include_updates``, scope
"updates") are the facade's ``run_sync`` / ``start_sync``: the engine runs its update phase
(:func:`sync_core.sync.update.run_updates`) after the creates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_core.domain.access import Actor
from sync_core.domain.errors import NotFound
from sync_core.domain.kinds import RecordKind, kind_named
from sync_core.domain.statuses import Scope
from sync_core.service.records import PushOutcome, PushStatus
from sync_core.sync.request import SyncRequest

if TYPE_CHECKING:  # the facade will call these modules: no import cycle
    from sync_core.service.facade import SyncService


def update_record(
    service: SyncService, kind: RecordKind | str, row_id: int, actor: Actor
) -> PushOutcome:
    """Send one synced record's changes now (a run of one record, updates only)."""
    kind = kind_named(kind)
    detail = service.record(kind, row_id)
    if detail is None:
        raise NotFound(f"No {kind.name} with row id {row_id} in the MIS")
    if not detail.is_synced:
        return service.push_record(kind, row_id, actor)
    request = SyncRequest(
        scope=Scope.RECORD,
        operator=actor.name or "-",
        batch_size=1,
        records=((kind.name, row_id),),
        include_updates=True,
    )
    result = service.run_sync(request, actor)
    assert result is not None  # a run with updates always runs
    entries = service.run_entries(result.run.id)
    after = service.record(kind, row_id)
    failed = [e for e in entries if e["outcome"] == "failed"]
    if failed:
        return PushOutcome(
            PushStatus.FAILED, failed[-1]["message"], run_id=result.run.id, detail=after
        )
    message = (
        f"Customer {detail.source.qk_id} updated in QuickBooks."
        if result.run.updated
        else f"Customer {detail.source.qk_id} already holds what the MIS says: nothing to send."
    )
    return PushOutcome(
        PushStatus.SYNCED, message, qk_id=detail.source.qk_id, run_id=result.run.id, detail=after
    )
