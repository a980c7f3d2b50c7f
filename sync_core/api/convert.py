"""Library values -> the API's models (plain JSON-safe values; times as UTC)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

from sync_core.api import models
from sync_core.api.errors import run_url
from sync_core.quickbooks.oauth import ConnectionStatus
from sync_core.service.analysis import SyncAnalysis
from sync_core.service.preview import Preview
from sync_core.service.run_pages import EntryPage
from sync_core.service.schedules import ScheduleView
from sync_core.store.runs import RunSummary


def jsonable(value: Any) -> Any:
    """A MIS value as JSON: text stays text, numbers numbers, dates ISO, bytes decoded."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def analysis(result: SyncAnalysis) -> models.Analysis:
    return models.Analysis.model_validate(result.as_dict())


def preview(result: Preview, by_keyset: bool = False) -> models.Preview:
    shown = len(result.items)
    end = result.offset + shown
    return models.Preview(
        kind=result.kind.plural,  # type: ignore[arg-type]
        total_not_synced=result.total,
        limit=result.limit,
        offset=result.offset,
        next_offset=end if end < result.total and shown and not by_keyset else None,
        next_after=result.next_after,
        records=[
            models.PreviewRecord(
                row_id=item.source.row_id,
                identity=item.mapped.identity,
                reference=item.mapped.reference,
                display_name=item.mapped.display_name,
                payload=jsonable(item.mapped.payload),
                fields=dict(item.mapped.fields),
                placement=dict(item.mapped.placement),
                warnings=list(item.mapped.warnings),
                error=item.mapped.error,
                source=jsonable(item.source.row),
            )
            for item in result.items
        ],
    )


def run(summary: RunSummary) -> models.Run:
    data = summary.as_dict()
    data.pop("host", None)  # where it runs is the server's business
    data.pop("pid", None)
    data["url"] = run_url(summary.id)
    data["progress"] = round(summary.progress, 4)
    data["scope"] = str(summary.scope)
    data["state"] = str(summary.state)
    data["limit"] = summary.record_limit
    return models.Run.model_validate(data)


def entries(page: EntryPage) -> models.EntryPage:
    end = page.offset + len(page.items)
    return models.EntryPage(
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next_offset=end if end < page.total and page.items else None,
        outcome=str(page.outcome) if page.outcome else None,
        items=[
            models.RunEntry(
                id=e["id"],
                at=e["at"],
                kind=e["kind"],
                row_id=e["row_id"],
                identity=e["identity"],
                display_name=e.get("display_name"),
                outcome=str(e.get("outcome") or "failed"),
                code=e.get("code"),
                message=e["message"],
                hint=e.get("hint"),
            )
            for e in page.items
        ],
    )


def connection(status: ConnectionStatus) -> models.Connection:
    return models.Connection.model_validate(status.as_dict())


def schedule(view: ScheduleView) -> models.ScheduleInfo:
    return models.ScheduleInfo.model_validate(view.as_dict())
