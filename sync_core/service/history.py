"""The run history as the dashboard reads it: runs apart from pushes of chosen records, runs
by operator, scope and outcome, and who started runs.

(Functions over the facade's public attributes, for the dashboard; to be folded into the facade.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sync_core.domain.statuses import RunState, Scope
from sync_core.store.runs import RunSummary

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService


def last_runs(service: SyncService, limit: int = 5) -> list[RunSummary]:
    """The last syncs of applicants, students or both (not pushes of chosen records)."""
    return service.history.search(limit=limit, exclude_scopes=(Scope.RECORD,))


def last_pushes(service: SyncService, limit: int = 5) -> list[RunSummary]:
    """The last runs of chosen records: one record pushed on its own, or a selection."""
    return service.history.search(limit=limit, scopes=(Scope.RECORD,))


def find_runs(
    service: SyncService,
    *,
    operator: str | None = None,
    scopes: Iterable[Scope | str] | None = None,
    states: Iterable[RunState | str] | None = None,
    limit: int = 200,
) -> list[RunSummary]:
    """Runs newest first; each filter left None lets every run through."""
    return service.history.search(limit=limit, operator=operator, scopes=scopes, states=states)


def operators(service: SyncService) -> list[str]:
    """Everyone who started a run: people, API keys (by name) and schedules."""
    return service.history.operators()
