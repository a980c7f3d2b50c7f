"""Preview: the exact Customer payloads the next sync would send, a page at a time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from sync_core import defaults
from sync_core.domain.errors import InvalidRequest
from sync_core.domain.kinds import RecordKind
from sync_core.domain.mapping import MappedCustomer, MappingOptions
from sync_core.domain.records import SourceRecord
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.reader import fetch_records
from sync_core.mis.schema import MisSchema
from sync_core.mis.tracking import count_records

DEFAULT_LIMIT = defaults.PREVIEW_LIMIT
MAX_LIMIT = defaults.PREVIEW_MAX_LIMIT


@dataclass(frozen=True)
class PreviewItem:
    source: SourceRecord
    mapped: MappedCustomer


@dataclass(frozen=True)
class Preview:
    kind: RecordKind
    limit: int
    offset: int
    total: int  # how many records match, on all pages
    items: list[PreviewItem]


def clamp_limit(limit: int | None) -> int:
    """The seed's rule: default 10, at most 100; less than 1 is an error."""
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise InvalidRequest("limit must be at least 1")
    return min(limit, MAX_LIMIT)


def preview(
    conn: Connection,
    schema: MisSchema,
    kind: RecordKind,
    *,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
    options: MappingOptions | None = None,
    statuses: Iterable[int] = (SyncStatus.NOT_SYNCED,),
) -> Preview:
    """Not-yet-synced records of ``kind`` with their source row, payload and warnings."""
    if offset < 0:
        raise InvalidRequest("offset must not be negative")
    limit = clamp_limit(limit)
    statuses = tuple(statuses)
    page = fetch_records(conn, schema, kind, statuses=statuses, limit=limit, offset=offset)
    items = [
        PreviewItem(source=record, mapped=mapped)
        for record, mapped in zip(page.records, page.mapped(options), strict=True)
    ]
    total = count_records(conn, schema.customers(kind), statuses)
    return Preview(kind=kind, limit=limit, offset=offset, total=total, items=items)
