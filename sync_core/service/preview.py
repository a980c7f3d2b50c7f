"""Preview: the exact Customer payloads the next sync would send, a page at a time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

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
    offset: int  # 0 on keyset pages (asked by ``after`` / ``before`` / ``last``)
    total: int  # how many records match, on all pages
    items: list[PreviewItem]
    # Keyset paging: ask the next page ``after=next_after`` (None: nothing after this page) and
    # the previous one ``before=previous_before`` (None: nothing before it). Each page costs the
    # same at any depth; a record inserted or changed between two pages is neither skipped nor
    # shown twice (it appears where its row id puts it, if it still waits).
    next_after: int | None = None
    previous_before: int | None = None


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
    after: int | None = None,
    before: int | None = None,
    last: bool = False,
    total: int | None = None,
    options: MappingOptions | None = None,
    statuses: Iterable[int] = (SyncStatus.NOT_SYNCED,),
) -> Preview:
    """Not-yet-synced records of ``kind`` with their source row, payload and warnings.

    A page is the records after row id ``after``, before row id ``before``, the ``last`` page
    (the last ``limit`` records), or (the seed's way, which costs more the deeper it goes) the
    records after ``offset`` others. ``total`` is the count of matching records when the caller
    knows it (from an analysis): given, the page makes no count of its own.
    """
    if offset < 0:
        raise InvalidRequest("offset must not be negative")
    if sum((offset > 0, after is not None, before is not None, last)) > 1:
        raise InvalidRequest("give one of offset, after, before or last")
    limit = clamp_limit(limit)
    statuses = tuple(statuses)
    page = fetch_records(
        conn,
        schema,
        kind,
        statuses=statuses,
        limit=limit + 1,  # one more than shown: is there a page beyond this one?
        offset=offset,
        after=after,
        before=before,
        from_end=last,
    )
    records = page.records
    backwards = before is not None or last
    more = len(records) > limit
    if more:  # the extra record is the one furthest from where the page starts
        records = records[1:] if backwards else records[:limit]
    shown = replace(page, records=records)
    items = [
        PreviewItem(source=record, mapped=mapped)
        for record, mapped in zip(shown.records, shown.mapped(options), strict=True)
    ]
    if total is None:
        total = count_records(conn, schema.customers(kind), statuses)
    first_id = records[0].row_id if records else None
    last_id = records[-1].row_id if records else None
    if backwards:
        next_after = last_id if before is not None else None
        previous_before = first_id if more else None
    else:
        next_after = last_id if more else None
        previous_before = first_id if (after is not None or offset > 0) else None
    return Preview(
        kind=kind,
        limit=limit,
        offset=offset,
        total=total,
        items=items,
        next_after=next_after,
        previous_before=previous_before,
    )
