"""What the API accepts and answers: the seed's fields, typed, so /docs documents each one.

Every answer is the seed's envelope ``{"success": true, "data": {...}}``; every error is
``{"success": false, "error": {"category", "message", "what_to_do", ...}}``. Times are UTC
(ISO 8601 with ``Z``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sync_core import defaults


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


UtcTime = Annotated[dt.datetime, AfterValidator(_as_utc)]
T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T


# ---------------------------------------------------------------- errors


class FieldProblem(BaseModel):
    field: str = Field(description="the parameter or body field, e.g. batch_size")
    message: str


class LockHolder(BaseModel):
    operator: str = Field(description="who started the running sync")
    started_at: UtcTime | None
    run_id: int | None
    run_url: str | None


class ErrorBody(BaseModel):
    category: str = Field(
        description="invalid, unauthenticated, permission, not_found, conflict, quickbooks, "
        "unavailable, configuration or internal"
    )
    message: str
    what_to_do: str | None = None
    fields: list[FieldProblem] | None = Field(
        default=None, description="for 422: each field refused"
    )
    running: LockHolder | None = Field(
        default=None, description="for 409: the sync holding the lock"
    )


class ErrorEnvelope(BaseModel):
    success: Literal[False] = False
    error: ErrorBody


# ---------------------------------------------------------------- analysis


class Counts(BaseModel):
    total: int
    not_synced: int
    synced: int
    failed: int
    in_progress: int
    progress_pct: float = Field(description="synced / total, rounded down to 0.1")


class OverallCounts(BaseModel):
    total_customers: int
    total_not_synced: int
    total_synced: int
    total_failed: int
    total_in_progress: int
    progress_pct: float


class Analysis(BaseModel):
    applicants: Counts
    students: Counts
    overall: OverallCounts


# ---------------------------------------------------------------- preview


class PreviewRecord(BaseModel):
    row_id: int = Field(description="the MIS row's primary key (used by .../records/.../push)")
    identity: str = Field(description="ApplicationID or RegNo")
    reference: str = Field(description='"APP 1234" / "REG 2021/BIT/001"')
    display_name: str
    payload: dict[str, Any] = Field(description="exactly the Customer sent to QuickBooks")
    fields: dict[str, str] = Field(description="the seed's custom fields of the record")
    placement: dict[str, str] = Field(description="where each field goes: Notes or CustomField")
    warnings: list[str]
    error: str | None = Field(description="set when the record cannot be sent at all")
    source: dict[str, Any] = Field(description="the MIS row as read")


class Preview(BaseModel):
    kind: Literal["applicants", "students"]
    total_not_synced: int
    limit: int
    offset: int
    next_offset: int | None = Field(
        description="offset of the next page; null on the last (and on pages asked by after)"
    )
    next_after: int | None = Field(
        default=None,
        description="row id to pass as after for the next page (as fast at any depth); "
        "null on the last",
    )
    records: list[PreviewRecord]


# ---------------------------------------------------------------- syncing


class SyncBody(BaseModel):
    """The seed's body; every field optional."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(
        default=defaults.BATCH_SIZE,
        ge=1,
        le=defaults.MAX_BATCH_SIZE,
        description="records per step: 10-20 to test, 50 regularly, 100 for bulk",
    )
    retry_failed: bool = Field(default=False, description="also retry records that failed before")
    limit: int | None = Field(
        default=None, ge=1, description="at most this many records in this run (when supported)"
    )
    include_updates: bool = Field(
        default=False, description="also push changed, already-synced records (when supported)"
    )


class SyncAllBody(SyncBody):
    sync_applicants: bool = True
    sync_students: bool = True


class SyncStarted(BaseModel):
    nothing_to_sync: bool = Field(description="true: no record waited, no run was created")
    run_id: int | None
    run_url: str | None = Field(description="GET it to follow the run")
    state: str | None = Field(description='"running" when a run was started')
    scope: str
    batch_size: int
    operator: str = Field(description="the API key's name, recorded as pushed_by")
    limit: int | None = Field(description="the run limit applied, if any")
    notes: list[str] = Field(description="options asked for and not applied by this version")
    message: str


class Run(BaseModel):
    id: int
    url: str
    realm_id: str
    scope: str
    operator: str
    batch_size: int
    retry_failed: bool
    state: str = Field(
        description="running, completed, completed with errors, cancelled, failed, interrupted"
    )
    started_at: UtcTime
    finished_at: UtcTime | None
    heartbeat_at: UtcTime | None
    cancel_requested: bool
    planned: int
    done: int
    remaining: int
    progress: float = Field(description="done / planned, 0..1")
    synced: int
    failed: int
    adopted: int = Field(description="already in QuickBooks: linked, not created again")
    renamed: int = Field(description="sent under a distinct name (name taken)")
    updated: int = Field(0, description="already in QuickBooks: their changes were sent")
    unchanged: int = Field(0, description="already in QuickBooks: compared, nothing to send")
    reconciled: int = Field(description="left in flight by an earlier run, checked in QuickBooks")
    released: int = Field(description="left in flight by an earlier run, put back to not synced")
    records_per_s: float | None
    eta_s: float | None
    limit: int | None = Field(None, description="the next N: the most records this run sends")
    waiting_s: float | None = Field(
        None, description="seconds the run is waiting for QuickBooks' limit now"
    )
    message: str | None


class RunEntry(BaseModel):
    id: int
    at: UtcTime
    kind: str
    row_id: int
    identity: str
    display_name: str | None
    outcome: str = Field(description="failed, renamed or adopted")
    code: str | None = Field(description="QuickBooks' error code, if any")
    message: str
    hint: str | None = Field(description="what to do")


class EntryPage(BaseModel):
    total: int
    limit: int
    offset: int
    next_offset: int | None
    outcome: str | None
    items: list[RunEntry]


class RunDetail(BaseModel):
    run: Run
    entries: EntryPage


class RunList(BaseModel):
    runs: list[Run]


class CancelResult(BaseModel):
    run_id: int
    cancel_requested: bool
    state: str
    message: str


class PushResult(BaseModel):
    kind: str
    row_id: int
    status: str = Field(description="synced, failed, already synced")
    message: str
    qk_id: str | None = Field(description="the QuickBooks Customer Id")
    run_id: int | None
    run_url: str | None


# ---------------------------------------------------------------- status


class Connection(BaseModel):
    connected: bool
    environment: str
    realm_id: str | None
    access_token_expires_at: UtcTime | None
    refresh_token_expires_at: UtcTime | None
    connected_at: UtcTime | None
    refreshed_at: UtcTime | None
    last_error: str | None


class ScheduleInfo(BaseModel):
    id: int
    name: str
    cron: str = Field(description="five fields, UTC")
    scope: str
    batch_size: int
    limit: int | None
    retry_failed: bool
    include_updates: bool
    enabled: bool
    next_fire_at: UtcTime | None
    last_fire_at: UtcTime | None
    last_outcome: str | None
    last_outcome_at: UtcTime | None
    last_run_id: int | None


class Status(BaseModel):
    connection: Connection
    bootstrap_error: str | None
    counts: Analysis
    running: Run | None
    last_runs: list[Run]
    schedules: list[ScheduleInfo]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
