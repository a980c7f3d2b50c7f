"""Create the product's own tables where they are missing (``CREATE TABLE IF NOT EXISTS``)."""

from __future__ import annotations

import sqlalchemy as sa

from sync_core.store.tables import metadata


def ensure_tables(engine: sa.Engine) -> list[str]:
    """Answers what was created (empty when nothing was). Safe to rerun, and to run from two
    processes at once."""
    existing = {t.lower() for t in sa.inspect(engine).get_table_names()}
    missing = [t for t in metadata.sorted_tables if t.name.lower() not in existing]
    if missing:
        metadata.create_all(engine, tables=missing, checkfirst=True)
    return [f"created table {t.name}" for t in missing]
