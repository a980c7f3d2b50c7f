"""A MIS record as read, ready for mapping: its row (with the column names the mapping knows),
its identity, and the lookups that page of records needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sync_core.domain.kinds import RecordKind, RecordRef
from sync_core.domain.lookups import Lookups
from sync_core.domain.mapping import MappedCustomer, MappingOptions, map_record
from sync_core.domain.statuses import SyncStatus

# The keys under which a row carries the tracking columns, whatever the MIS calls them.
STATUS = "QuickBk_Status"
QUICKBOOKS_ID = "qk_id"
PUSHED_BY = "pushed_by"
PUSHED_DATE = "pushed_date"


@dataclass(frozen=True)
class SourceRecord:
    kind: str
    row_id: int
    identity: str
    row: dict[str, Any]  # the MIS row as read; students carry "registration" (or None)

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.kind, self.row_id)

    @property
    def status(self) -> SyncStatus:
        return SyncStatus.of(self.row.get(STATUS))

    @property
    def qk_id(self) -> str | None:
        value = self.row.get(QUICKBOOKS_ID)
        text = "" if value is None else str(value).strip()
        return None if text in ("", "0") else text  # an INT column's 0 means "none"

    @property
    def pushed_by(self) -> str | None:
        return self.row.get(PUSHED_BY)

    @property
    def pushed_date(self) -> dt.datetime | None:
        return self.row.get(PUSHED_DATE)


@dataclass(frozen=True)
class RecordPage:
    kind: RecordKind
    records: list[SourceRecord]
    lookups: Lookups = field(default_factory=Lookups)
    # row id -> why the record cannot be sent though its own fields are fine (an identity
    # another record of the MIS shares)
    unsendable: Mapping[int, str] = field(default_factory=dict)

    def mapped(self, options: MappingOptions | None = None) -> list[MappedCustomer]:
        mapped = [map_record(self.kind, r.row, self.lookups, options) for r in self.records]
        if not self.unsendable:
            return mapped
        return [
            replace(m, error=self.unsendable[m.row_id])
            if m.error is None and m.row_id in self.unsendable
            else m
            for m in mapped
        ]
