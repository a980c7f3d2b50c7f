"""The seed's seven endpoints, under ``/api/v1/sync/customers``: analyze, preview of applicants
and of students, sync applicants / students / all, status.

A sync is started, not awaited: 202 with the run's id and URL (``Location``), 409 naming who
holds the lock when a sync is running, 200 with ``nothing_to_sync`` when no record waits (no run
is recorded then).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from sync_core import defaults
from sync_core.api import convert, models
from sync_core.api.auth import get_service, operator, viewer
from sync_core.api.errors import ApiProblem, run_url
from sync_core.domain.access import Actor
from sync_core.domain.statuses import Scope
from sync_core.service.facade import SyncService
from sync_core.service.schedules import Schedules
from sync_core.service.sync_options import prepare_request

router = APIRouter(prefix="/api/v1/sync/customers", tags=["customers (the seed's API)"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": models.ErrorEnvelope, "description": "no API key, or not a valid one"},
    422: {"model": models.ErrorEnvelope, "description": "a parameter is refused (named)"},
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": models.ErrorEnvelope, "description": "a viewer key"},
    409: {"model": models.ErrorEnvelope, "description": "another sync is running (who, since)"},
    502: {"model": models.ErrorEnvelope, "description": "QuickBooks refused or failed"},
    503: {"model": models.ErrorEnvelope, "description": "QuickBooks not connected, MIS down"},
}

LimitParam = Query(
    defaults.PREVIEW_LIMIT,
    ge=1,
    le=defaults.PREVIEW_MAX_LIMIT,
    description=f"records to return (default {defaults.PREVIEW_LIMIT}, "
    f"max {defaults.PREVIEW_MAX_LIMIT})",
)
OffsetParam = Query(
    0,
    ge=0,
    le=10_000_000,
    description="records to skip (default 0; the deeper, the slower: prefer after)",
)
AfterParam = Query(
    None,
    ge=0,
    description="the page after this row id: the previous page's next_after (each page as "
    "fast at any depth; not with offset)",
)


@router.get(
    "/analyze",
    response_model=models.Envelope[models.Analysis],
    responses=ERRORS,
    summary="Counts of synced / not synced / failed / in progress, per kind and overall",
)
def analyze(
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.Analysis]:
    return models.Envelope(data=convert.analysis(service.analyze()))


def _preview(
    service: SyncService, kind: str, limit: int, offset: int, after: int | None
) -> models.Preview:
    result = service.preview(kind, limit=limit, offset=offset, after=after)
    return convert.preview(result, by_keyset=after is not None)


@router.get(
    "/preview/applicants",
    response_model=models.Envelope[models.Preview],
    responses=ERRORS,
    summary="The Customer payloads the next sync would send for applicants",
)
def preview_applicants(
    limit: int = LimitParam,
    offset: int = OffsetParam,
    after: int | None = AfterParam,
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.Preview]:
    return models.Envelope(data=_preview(service, "applicants", limit, offset, after))


@router.get(
    "/preview/students",
    response_model=models.Envelope[models.Preview],
    responses=ERRORS,
    summary="The Customer payloads the next sync would send for students",
)
def preview_students(
    limit: int = LimitParam,
    offset: int = OffsetParam,
    after: int | None = AfterParam,
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.Preview]:
    return models.Envelope(data=_preview(service, "students", limit, offset, after))


def start(
    service: SyncService, actor: Actor, scope: Scope, body: models.SyncBody, response: Response
) -> models.Envelope[models.SyncStarted]:
    prepared = prepare_request(
        scope,
        actor.name,
        batch_size=body.batch_size,
        retry_failed=body.retry_failed,
        limit=body.limit,
        include_updates=body.include_updates,
    )
    run_id = service.start_sync(prepared.request, actor)
    started = models.SyncStarted(
        nothing_to_sync=run_id is None,
        run_id=run_id,
        run_url=run_url(run_id),
        state="running" if run_id is not None else None,
        scope=str(scope),
        batch_size=body.batch_size,
        operator=actor.name,
        limit=body.limit if prepared.limit_applied else None,
        notes=prepared.notes,
        message=f"Run {run_id} started by {actor.name}."
        if run_id is not None
        else "Nothing to sync: no record of this scope waits; no run was recorded.",
    )
    if run_id is not None:
        response.status_code = 202
        response.headers["Location"] = f"/api/v1/sync/runs/{run_id}"
    return models.Envelope(data=started)


SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    **CHANGE_ERRORS,
    202: {
        "model": models.Envelope[models.SyncStarted],
        "description": "started: follow run_url",
    },
}


@router.post(
    "/applicants",
    response_model=models.Envelope[models.SyncStarted],
    responses=SYNC_RESPONSES,
    summary="Start a sync of applicants (answers at once: 202 with the run, 200 if nothing waits)",
)
def sync_applicants(
    response: Response,
    body: models.SyncBody | None = None,
    actor: Actor = Depends(operator),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.SyncStarted]:
    return start(service, actor, Scope.APPLICANTS, body or models.SyncBody(), response)


@router.post(
    "/students",
    response_model=models.Envelope[models.SyncStarted],
    responses=SYNC_RESPONSES,
    summary="Start a sync of students",
)
def sync_students(
    response: Response,
    body: models.SyncBody | None = None,
    actor: Actor = Depends(operator),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.SyncStarted]:
    return start(service, actor, Scope.STUDENTS, body or models.SyncBody(), response)


@router.post(
    "/updates",
    response_model=models.Envelope[models.SyncStarted],
    responses=SYNC_RESPONSES,
    summary="Start a sync of changes only: records already in QuickBooks whose MIS data changed "
    "get sparse updates of the mapped fields; nothing is created",
)
def sync_updates(
    response: Response,
    body: models.SyncBody | None = None,
    actor: Actor = Depends(operator),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.SyncStarted]:
    return start(service, actor, Scope.UPDATES, body or models.SyncBody(), response)


@router.post(
    "/all",
    response_model=models.Envelope[models.SyncStarted],
    responses=SYNC_RESPONSES,
    summary="Start a sync of applicants and students (or one of them: sync_applicants / "
    "sync_students)",
)
def sync_all(
    response: Response,
    body: models.SyncAllBody | None = None,
    actor: Actor = Depends(operator),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.SyncStarted]:
    body = body or models.SyncAllBody()
    if body.sync_applicants and body.sync_students:
        scope = Scope.ALL
    elif body.sync_applicants:
        scope = Scope.APPLICANTS
    elif body.sync_students:
        scope = Scope.STUDENTS
    else:
        raise ApiProblem(
            422,
            "invalid",
            "Invalid request: sync_applicants, sync_students: at least one must be true",
            "Set sync_applicants or sync_students (or both, the default) to true.",
            fields=[
                {"field": "sync_applicants", "message": "at least one must be true"},
                {"field": "sync_students", "message": "at least one must be true"},
            ],
        )
    fields = models.SyncBody.model_fields
    plain = models.SyncBody(**{k: getattr(body, k) for k in fields})
    return start(service, actor, scope, plain, response)


@router.get(
    "/status",
    response_model=models.Envelope[models.Status],
    responses=ERRORS,
    summary="The QuickBooks connection (never a token), counts, the running sync, the last "
    "runs and the schedules",
)
def status(
    response: Response,
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.Status]:
    active = service.active_run()
    response.headers["Cache-Control"] = "no-store"
    return models.Envelope(
        data=models.Status(
            connection=convert.connection(service.connection_status()),
            bootstrap_error=service.bootstrap_error,
            counts=convert.analysis(service.analyze()),
            running=convert.run(active) if active is not None else None,
            last_runs=[convert.run(r) for r in service.runs(limit=5)],
            schedules=[convert.schedule(v) for v in Schedules(service).views()],
        )
    )
