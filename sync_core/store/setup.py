"""Create the product's own tables where they are missing, and add the columns a newer version
of the product declares to tables an older one created (additive only, like the MIS's tracking
columns: a column is never changed or dropped)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from sync_core.database import is_denied
from sync_core.domain.errors import SchemaProblem
from sync_core.store import (  # noqa: F401  (their tables)
    api_keys,
    notifications,
    rate_windows,
    schedules,
    sent,
)
from sync_core.store.tables import (
    audit_log,
    audit_records,
    metadata,
    record_states,
    run_errors,
    runs,
    sync_locks,
)

# What the product recorded about syncing (not its configuration: the QuickBooks connection,
# API keys, schedules and users are kept): cleared when the embedded demo is reset.
SYNC_STATE_TABLES: tuple[sa.Table, ...] = (
    audit_records,
    audit_log,
    run_errors,
    runs,
    sync_locks,
    record_states,
    sent.record_sent,
    rate_windows.rate_guards,
    rate_windows.rate_stamps,
    notifications.notifications,
)


def ensure_tables(engine: sa.Engine) -> list[str]:
    """Answers what was created (empty when nothing was). Safe to rerun, and to run from two
    processes at once."""
    existing = {t.lower() for t in sa.inspect(engine).get_table_names()}
    missing = [t for t in metadata.sorted_tables if t.name.lower() not in existing]
    if missing:
        try:
            metadata.create_all(engine, tables=missing, checkfirst=True)
        except DatabaseError as exc:
            if not is_denied(exc):
                raise
            database = engine.url.database or "the database"
            raise SchemaProblem(
                f"The account may not CREATE the product's tables in {database} (the CREATE "
                "grant is missing)",
                what_to_do=f"Ask a DBA to GRANT CREATE, INDEX ON {database}.* for the "
                "qbsync_ tables, or set SYNC_DATABASE_URL to a database of the product's own "
                "(then the MIS only gains its tracking columns).",
            ) from None
    actions = [f"created table {t.name}" for t in missing]
    return actions + _add_missing_columns(
        engine, [t for t in metadata.sorted_tables if t not in missing]
    )


def _add_missing_columns(engine: sa.Engine, tables: list[sa.Table]) -> list[str]:
    inspector = sa.inspect(engine)
    actions = []
    for table in tables:
        present = {c["name"].lower() for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name.lower() in present:
                continue
            ddl = sa.schema.CreateColumn(column).compile(dialect=engine.dialect)
            quoted = engine.dialect.identifier_preparer.quote(table.name)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {ddl}")
            except DatabaseError:
                fresh = {c["name"].lower() for c in sa.inspect(engine).get_columns(table.name)}
                if column.name.lower() not in fresh:  # not another process adding it first
                    raise
                continue
            actions.append(f"added column {table.name}.{column.name}")
    return actions
