"""Give the MIS customer tables what sync needs, idempotently, never touching existing data.

A small explicit step rather than Alembic: we do not own the MIS schema, so there is no version
history of ours to replay and no version table we should add to someone else's database. Two
additive, introspected operations: add a missing tracking column (the status, who pushed and
when, and a QuickBooks Id column only where the table has none), and add an index on the status
column. Names are compared without regard to case, so the earlier system's ``QuickBk_status``
is the status column. Each operation is checked against the live schema before it runs and
tolerates another process doing the same at the same moment.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from sync_core import defaults
from sync_core.database import is_denied
from sync_core.domain.errors import SchemaProblem
from sync_core.domain.records import PUSHED_BY, PUSHED_DATE, QUICKBOOKS_ID, STATUS
from sync_core.mis.schema import CUSTOMER_SPECS, ID_COLUMN_NAMES, live_columns


def tracking_column(name: str) -> sa.Column[Any]:
    """A fresh Column for a tracking column the product adds where it is missing."""
    if name == STATUS:
        return sa.Column(STATUS, sa.Integer, server_default=sa.text("0"))
    if name == PUSHED_BY:
        return sa.Column(PUSHED_BY, sa.String(200), server_default=defaults.PUSHED_BY)
    if name == PUSHED_DATE:
        return sa.Column(PUSHED_DATE, sa.DateTime)
    return sa.Column(QUICKBOOKS_ID, sa.String(255))


def _live_columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"].lower() for c in live_columns(sa.inspect(engine), table)}


def _add_column_ddl(engine: sa.Engine, table: str, column: sa.Column[Any]) -> str:
    holder = sa.Table(table, sa.MetaData(), column)
    ddl = sa.schema.CreateColumn(holder.c[column.name]).compile(dialect=engine.dialect)
    return f"ALTER TABLE {engine.dialect.identifier_preparer.quote(table)} ADD COLUMN {ddl}"


def _add_column(engine: sa.Engine, table: str, column: sa.Column[Any]) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(_add_column_ddl(engine, table, column))


def _refused(engine: sa.Engine, grant: str, table: str, statement: str) -> SchemaProblem:
    """The account lacks a grant: say which, and the statement a DBA can run instead."""
    database = engine.url.database or "the MIS database"
    user = engine.url.username or "the product's account"
    return SchemaProblem(
        f"The MIS account may not {grant} {table} (the {grant} grant is missing), so the "
        "tracking columns sync needs cannot be added",
        what_to_do=f"Ask a DBA to run: {statement}; or to GRANT {grant} ON {database}.{table} "
        f"TO {user}. Nothing else in the MIS is changed.",
    )


def _status_column(engine: sa.Engine, table: str) -> str:
    columns = live_columns(sa.inspect(engine), table)
    return next(c["name"] for c in columns if c["name"].lower() == STATUS.lower())


def has_status_index(engine: sa.Engine, table: str) -> bool:
    """An index whose first column is the status column (in whatever case)."""
    return any(
        ix["column_names"] and (ix["column_names"][0] or "").lower() == STATUS.lower()
        for ix in sa.inspect(engine).get_indexes(table)
    )


def ensure_tracking_columns(engine: sa.Engine) -> list[str]:
    """Add what is missing; answers what was done (empty when nothing was). Safe to rerun."""
    actions: list[str] = []
    tables = {t.lower(): t for t in sa.inspect(engine).get_table_names()}
    for kind_name, spec in CUSTOMER_SPECS.items():
        table = tables.get(spec.name.lower())
        if table is None:
            continue  # inspect_schema says so, naming the table
        present = _live_columns(engine, table)
        wanted = [STATUS, PUSHED_BY, PUSHED_DATE]
        if not any(n in present for n in ID_COLUMN_NAMES[kind_name]):
            wanted.append(QUICKBOOKS_ID)
        for name in wanted:
            if name.lower() in present:
                continue
            try:
                _add_column(engine, table, tracking_column(name))
                actions.append(f"added column {table}.{name}")
            except DatabaseError as exc:
                # another process may have added it first; only a still-missing column is an error
                if name.lower() in _live_columns(engine, table):
                    continue
                if is_denied(exc):
                    ddl = _add_column_ddl(engine, table, tracking_column(name))
                    raise _refused(engine, "ALTER", table, ddl) from None
                raise
        if not has_status_index(engine, table):
            status = _status_column(engine, table)
            holder = sa.Table(table, sa.MetaData(), sa.Column(status, sa.Integer))
            index = sa.Index(f"ix_{table}_qb_status", holder.c[status])
            try:
                index.create(engine)
                actions.append(f"created index {index.name}")
            except DatabaseError as exc:
                if has_status_index(engine, table):
                    continue
                if is_denied(exc):
                    ddl = str(sa.schema.CreateIndex(index).compile(dialect=engine.dialect))
                    raise _refused(engine, "INDEX", table, ddl) from None
                raise
    return actions
