"""One record at a time: everything about it, and what pushing it alone did."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sync_core.domain.kinds import RecordKind
from sync_core.domain.mapping import MappedCustomer
from sync_core.domain.records import SourceRecord
from sync_core.domain.statuses import SyncStatus


@dataclass(frozen=True)
class RecordDetail:
    kind: RecordKind
    source: SourceRecord
    mapped: MappedCustomer
    state: dict[str, Any] | None  # attempts, last error, name sent, ...
    audit: list[dict[str, Any]]
    run_errors: list[dict[str, Any]]

    @property
    def status(self) -> SyncStatus:
        return self.source.status

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def is_synced(self) -> bool:
        return self.status is SyncStatus.SYNCED

    @property
    def last_error(self) -> str | None:
        if not self.state or not self.state.get("error_message"):
            return None
        code = self.state.get("error_code")
        return f"{self.state['error_message']}" + (f" (code {code})" if code else "")


class PushStatus(StrEnum):
    SYNCED = "synced"
    FAILED = "failed"
    ALREADY_SYNCED = "already synced"
    NOT_FOUND = "not found"


@dataclass(frozen=True)
class PushOutcome:
    status: PushStatus
    message: str
    qk_id: str | None = None
    run_id: int | None = None
    detail: RecordDetail | None = None
