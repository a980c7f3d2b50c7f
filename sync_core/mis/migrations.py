"""Bring a MIS database up to what sync needs, idempotently, without touching existing data.

A small explicit step rather than Alembic: we do not own the MIS schema, so there is no version
history of ours to replay and no version table we should add to someone else's database. What we
need is two additive, introspected operations on the MIS (add a missing tracking column, add the
status index) plus ``CREATE TABLE IF NOT EXISTS`` for our own ``qbsync_`` tables. Each is checked
against the live schema before it runs and tolerates a concurrent process doing the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from sync_core.mis import tables as mis_tables
from sync_core.store import tables as app_tables


class SchemaError(RuntimeError):
    """The database is not a MIS database sync can work with."""


@dataclass
class MigrationReport:
    actions: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def _add_column(engine: Engine, table: sa.Table, column: sa.Column) -> None:
    holder = sa.Table(table.name, sa.MetaData(), column)
    ddl = sa.schema.CreateColumn(holder.c[column.name]).compile(dialect=engine.dialect)
    table_name = engine.dialect.identifier_preparer.quote(table.name)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {ddl}")


def _has_status_index(inspector: sa.Inspector, table: sa.Table) -> bool:
    return any(
        ix["column_names"] and ix["column_names"][0] == "QuickBk_Status"
        for ix in inspector.get_indexes(table.name)
    )


def ensure_schema(engine: Engine) -> MigrationReport:
    """Add missing tracking columns and the status index; create our tables. Safe to rerun."""
    report = MigrationReport()
    inspector = sa.inspect(engine)
    existing_tables = set(inspector.get_table_names())
    missing = [t.name for t in mis_tables.CUSTOMER_TABLES if t.name not in existing_tables]
    if missing:
        url = engine.url.render_as_string(hide_password=True)
        raise SchemaError(
            f"{', '.join(missing)} not found in {url}: is MIS_DATABASE_URL the MIS database?"
        )

    for table in mis_tables.CUSTOMER_TABLES:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in mis_tables.tracking_columns():
            if column.name in present:
                continue
            try:
                _add_column(engine, table, column)
                report.actions.append(f"added column {table.name}.{column.name}")
            except DatabaseError:
                # another process may have added it first; only a still-missing column is an error
                fresh = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
                if column.name not in fresh:
                    raise

        inspector = sa.inspect(engine)
        if not _has_status_index(inspector, table):
            index = mis_tables.status_index(table)
            try:
                index.create(engine)
                report.actions.append(f"created index {index.name}")
            except DatabaseError:
                if not _has_status_index(sa.inspect(engine), table):
                    raise

    missing_ours = [t for t in app_tables.metadata.sorted_tables if t.name not in existing_tables]
    if missing_ours:
        app_tables.metadata.create_all(engine, tables=missing_ours, checkfirst=True)
        report.actions.extend(f"created table {t.name}" for t in missing_ours)
    return report
