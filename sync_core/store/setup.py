"""Create the product's own tables where they are missing (``CREATE TABLE IF NOT EXISTS``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from sync_core.database import is_denied
from sync_core.domain.errors import SchemaProblem
from sync_core.store import api_keys, notifications, schedules  # noqa: F401  (their tables)
from sync_core.store.tables import metadata


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
    return [f"created table {t.name}" for t in missing]
