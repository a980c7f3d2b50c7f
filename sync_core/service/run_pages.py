"""A run's per-record entries a page at a time, with their total (the API's paged errors).

The facade answers a run's entries up to a limit, newest or oldest first; the API pages through
them with an offset and says how many there are. (To be folded into the facade.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sync_core.domain.statuses import Outcome
from sync_core.store.tables import run_errors

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService


@dataclass(frozen=True)
class EntryPage:
    total: int
    limit: int
    offset: int
    outcome: Outcome | None
    items: list[dict[str, Any]]


def run_entry_page(
    service: SyncService,
    run_id: int,
    *,
    outcome: Outcome | None = None,
    limit: int = 100,
    offset: int = 0,
) -> EntryPage:
    """Oldest first, so pages stay put while a live run adds entries at the end."""
    where = [run_errors.c.run_id == run_id]
    if outcome is not None:
        where.append(run_errors.c.outcome == outcome)
    with service.store_engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(run_errors).where(*where))
        count = int(total.scalar_one())
        rows = conn.execute(
            sa.select(run_errors)
            .where(*where)
            .order_by(run_errors.c.id)
            .limit(limit)
            .offset(offset)
        ).mappings()
        items = [dict(r) for r in rows]
    return EntryPage(count, limit, offset, outcome, items)
