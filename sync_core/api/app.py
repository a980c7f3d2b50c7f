"""The REST API: ``create_app(service_factory)`` -> a FastAPI app (OpenAPI at /docs).

The app holds no state of its own: every route calls the one :class:`SyncService` the factory
makes (once, on first use), so a run started here is the same run the dashboard and the CLI
see, under the same company lock.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from sync_core.api import customers, errors, runs
from sync_core.service.facade import SyncService

DESCRIPTION = """
Push the MIS's applicants and students into QuickBooks Online as Customers, and watch it.

**Auth**: every endpoint but `/api/v1/health` needs `Authorization: Bearer <API key>`.
Keys are made by an administrator on the server:
`python -m sync_core api-key create --name "Admissions portal" --role operator`.
A *viewer* key reads (GET); an *operator* key also starts and cancels syncs and pushes
records. The key's name is recorded as the operator of its runs (`pushed_by`).

**Answers**: `{"success": true, "data": {...}}`; errors
`{"success": false, "error": {"category", "message", "what_to_do"}}` with 401 (no or bad key),
403 (role), 404, 409 (another sync runs: `error.running` says who), 422 (`error.fields` names
each refused field), 502/503 (QuickBooks or the database).

**Syncs** are started, not awaited: 202 with `run_id` and `run_url`; follow the run with
`GET /api/v1/sync/runs/{id}`. Times are UTC.
"""


class ServiceHolder:
    """Makes the service on first use, once, whichever request comes first."""

    def __init__(self, factory: Callable[[], SyncService]) -> None:
        self._factory = factory
        self._service: SyncService | None = None
        self._lock = threading.Lock()

    def get(self) -> SyncService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = self._factory()
        return self._service


def create_app(
    service_factory: Callable[[], SyncService],
    *,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """``on_shutdown`` runs when the server stops (``serve`` stops its schedules there and
    cancels its own run), before the process exits."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            await run_in_threadpool(on_shutdown)

    app = FastAPI(
        lifespan=lifespan,
        title="MIS → QuickBooks customer sync",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = ServiceHolder(service_factory)
    errors.install(app)
    app.include_router(customers.router)
    app.include_router(runs.router)
    app.include_router(runs.health_router)
    return app
