"""The embedded default: a demo MIS database created on first use (and, later, the simulator)."""

from __future__ import annotations

import os
from pathlib import Path

from sync_core.database import create_db_engine
from sync_core.settings import Settings


def ensure_demo_database(settings: Settings) -> Path:
    """Create and fill the demo SQLite MIS the first time it is needed; return its path.

    It is built under a temporary name and moved into place, so a dashboard and a CLI starting
    together never see a half-filled database.
    """
    from sync_core.demo_data import create_demo_database
    from sync_core.migrations import ensure_schema

    path = settings.demo_database_path
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    engine = create_db_engine(f"sqlite:///{partial}")
    try:
        create_demo_database(engine)
        ensure_schema(engine)
    finally:
        engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    if path.exists():  # another process won the race; keep theirs
        partial.unlink(missing_ok=True)
    else:
        os.replace(partial, path)
    return path
