"""The sync scope (:mod:`sync_core.domain.scope`) as SQL on the MIS as found."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from sync_core.domain.kinds import APPLICANT
from sync_core.domain.scope import ScopeRules
from sync_core.mis.schema import CustomerTable, MisSchema


def scope_condition(rules: ScopeRules, table: CustomerTable) -> sa.ColumnElement[bool] | None:
    """The condition a record must meet to be synced; None when every record does. A record
    whose date or status is empty is outside a scope that asks for one."""
    if table.kind is not APPLICANT:
        return None
    parts: list[sa.ColumnElement[bool]] = []
    if rules.applicants_from is not None and table.has("appl_date"):
        # compared with the date as text: MySQL converts it, and SQLite (the demo) keeps dates
        # as text, with or without a time
        start = sa.literal(rules.applicants_from.isoformat(), sa.String())
        parts.append(table.table.c.appl_date >= start)
    if rules.application_statuses and table.has("status"):
        parts.append(table.table.c.status.in_(sorted(rules.application_statuses)))
    return sa.and_(*parts) if parts else None


def scope_warnings(rules: ScopeRules, table: CustomerTable) -> list[str]:
    if table.kind is not APPLICANT:
        return []
    lines = []
    if rules.applicants_from is not None and not table.has("appl_date"):
        lines.append(f"{table.name} has no column appl_date: the applicants-from date is ignored")
    if rules.application_statuses and not table.has("status"):
        lines.append(f"{table.name} has no column status: the status filter is ignored")
    return lines


def with_scope(schema: MisSchema, rules: ScopeRules) -> MisSchema:
    """The schema whose customer tables carry the scope's condition."""
    return dataclasses.replace(
        schema,
        applicants=dataclasses.replace(
            schema.applicants, in_scope=scope_condition(rules, schema.applicants)
        ),
        students=dataclasses.replace(
            schema.students, in_scope=scope_condition(rules, schema.students)
        ),
    )
