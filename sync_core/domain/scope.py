"""Which records the office wants in QuickBooks at all: the sync scope.

Every applicant row stays in the MIS forever, so an office sets a cut-off (the earlier system
synced applicants from 2024-09-01 on) and which application statuses count. Records outside the
scope are counted and shown, never synced; records already synced stay what they are. The SQL
condition is :func:`sync_core.mis.scope.scope_condition`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ScopeRules:
    applicants_from: dt.date | None = None  # applicants whose appl_date is on or after this
    application_statuses: tuple[int, ...] = ()  # applicants whose status is one of these

    @property
    def limits_applicants(self) -> bool:
        return self.applicants_from is not None or bool(self.application_statuses)

    def describe(self) -> list[str]:
        lines = []
        if self.applicants_from is not None:
            lines.append(f"applicants who applied on or after {self.applicants_from:%Y-%m-%d}")
        if self.application_statuses:
            statuses = ", ".join(str(s) for s in self.application_statuses)
            lines.append(f"applicants whose application status is {statuses}")
        return lines or ["every applicant and every student"]
