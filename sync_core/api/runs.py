"""Beyond the seed: runs (progress, counts, per-record entries, paged), cancelling a run,
pushing one record, the schedules, and a health check."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from sync_core.api import convert, models
from sync_core.api.auth import get_service, operator, viewer
from sync_core.api.customers import CHANGE_ERRORS, ERRORS
from sync_core.api.errors import ApiProblem, run_url
from sync_core.domain.access import Actor
from sync_core.domain.errors import NotFound
from sync_core.domain.statuses import Outcome
from sync_core.service.facade import SyncService
from sync_core.service.records import PushStatus
from sync_core.service.run_pages import run_entry_page
from sync_core.service.schedules import Schedules

router = APIRouter(prefix="/api/v1/sync", tags=["runs, records, schedules"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": models.ErrorEnvelope, "description": "no such run or record"}
}
MAX_ID = 2**31 - 1
RunId = Path(ge=1, le=MAX_ID, description="the run's id")


def _run_or_404(service: SyncService, run_id: int) -> models.Run:
    found = service.run(run_id)
    if found is None:
        raise NotFound(f"No run {run_id}", what_to_do="GET /api/v1/sync/runs lists the runs.")
    return convert.run(found)


@router.get(
    "/runs",
    response_model=models.Envelope[models.RunList],
    responses=ERRORS,
    summary="The latest runs, newest first (any origin: dashboard, CLI, API, schedule)",
)
def runs(
    limit: int = Query(20, ge=1, le=200, description="how many runs (default 20, max 200)"),
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.RunList]:
    return models.Envelope(data=models.RunList(runs=[convert.run(r) for r in service.runs(limit)]))


@router.get(
    "/runs/{run_id}",
    response_model=models.Envelope[models.RunDetail],
    responses={**ERRORS, **NOT_FOUND},
    summary="One run: state, progress, counts, and its per-record entries (errors and notices), "
    "a page at a time",
)
def run(
    response: Response,
    run_id: int = RunId,
    outcome: Literal["failed", "renamed", "adopted"] | None = Query(
        None, description="only entries of this outcome (default: all)"
    ),
    limit: int = Query(100, ge=1, le=1000, description="entries per page (default 100)"),
    offset: int = Query(0, ge=0, le=10_000_000, description="entries to skip"),
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.RunDetail]:
    found = _run_or_404(service, run_id)
    page = run_entry_page(
        service,
        run_id,
        outcome=Outcome(outcome) if outcome else None,
        limit=limit,
        offset=offset,
    )
    response.headers["Cache-Control"] = "no-store"
    return models.Envelope(data=models.RunDetail(run=found, entries=convert.entries(page)))


@router.post(
    "/runs/{run_id}/cancel",
    response_model=models.Envelope[models.CancelResult],
    responses={**CHANGE_ERRORS, **NOT_FOUND},
    status_code=202,
    summary="Ask a running sync to stop after its current step (wherever it runs)",
)
def cancel(
    run_id: int = RunId,
    actor: Actor = Depends(operator),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.CancelResult]:
    found = _run_or_404(service, run_id)
    if found.state != "running":
        raise ApiProblem(
            409,
            "conflict",
            f"Run {run_id} is not running (it is {found.state})",
            "Only a running sync can be cancelled.",
        )
    requested = service.cancel_sync(run_id, actor)
    return models.Envelope(
        data=models.CancelResult(
            run_id=run_id,
            cancel_requested=requested,
            state="running" if requested else found.state,
            message=f"Cancel requested by {actor.name}: the run stops after the batches in "
            "flight; records not yet sent go back to not synced."
            if requested
            else f"Run {run_id} ended before the cancel arrived.",
        )
    )


@router.post(
    "/records/{kind}/{row_id}/push",
    response_model=models.Envelope[models.PushResult],
    responses={**CHANGE_ERRORS, **NOT_FOUND},
    summary="Push one record now (a run of one record); answers when it is done",
)
def push(
    kind: Literal["applicant", "student", "applicants", "students"] = Path(
        description="applicant or student"
    ),
    row_id: int = Path(ge=1, le=MAX_ID, description="the record's row id in the MIS"),
    actor: Actor = Depends(operator),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[models.PushResult]:
    outcome = service.push_record(kind, row_id, actor)
    if outcome.status is PushStatus.NOT_FOUND:
        raise NotFound(outcome.message)
    return models.Envelope(
        success=outcome.status in (PushStatus.SYNCED, PushStatus.ALREADY_SYNCED),
        data=models.PushResult(
            kind=kind.removesuffix("s"),
            row_id=row_id,
            status=str(outcome.status),
            message=outcome.message,
            qk_id=outcome.qk_id,
            run_id=outcome.run_id,
            run_url=run_url(outcome.run_id),
        ),
    )


@router.get(
    "/schedules",
    response_model=models.Envelope[list[models.ScheduleInfo]],
    responses=ERRORS,
    summary="The scheduled syncs (set on the dashboard's Schedules page), next and last fires",
)
def schedules(
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[list[models.ScheduleInfo]]:
    return models.Envelope(data=[convert.schedule(v) for v in Schedules(service).views()])


@router.get(
    "/check",
    response_model=models.Envelope[dict[str, Any]],
    responses=ERRORS,
    summary="What the product finds in the MIS: tables and columns, grants, counts, problems "
    "with what to do (read only; as `python -m sync_core check`)",
)
def check(
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[dict[str, Any]]:
    from sync_core.service.check import run_check  # the check is its own use case

    return models.Envelope(data=convert.jsonable(run_check(service.settings).as_dict()))


@router.get(
    "/reconcile",
    response_model=models.Envelope[dict[str, Any]],
    responses=ERRORS,
    summary="Read every QuickBooks customer (one read call per 1,000) and classify each MIS "
    "record and customer, as `python -m sync_core reconcile --json`: counts, read calls, and "
    "the findings of each category (the matching ones only when asked). Nothing is changed.",
)
def reconcile(
    include_matching: bool = False,
    _actor: Actor = Depends(viewer),  # noqa: B008
    service: SyncService = Depends(get_service),  # noqa: B008
) -> models.Envelope[dict[str, Any]]:
    from sync_core.service.reconcile import Category, reconcile

    data = reconcile(service).as_dict()
    if not include_matching:
        data["findings"].pop(Category.MATCHING, None)
    return models.Envelope(data=convert.jsonable(data))


health_router = APIRouter(tags=["health"])


@health_router.get(
    "/api/v1/health",
    response_model=models.Envelope[models.Health],
    responses={503: {"model": models.ErrorEnvelope, "description": "the database is down"}},
    summary="For load balancers and monitors: no key needed, no data",
)
def health(service: SyncService = Depends(get_service)) -> models.Envelope[models.Health]:  # noqa: B008
    try:
        service.active_run()  # one read of our tables: the database answers
    except Exception:
        raise ApiProblem(
            503, "unavailable", "The database does not answer", "Check the database server."
        ) from None
    return models.Envelope(data=models.Health())
