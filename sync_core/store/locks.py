"""One sync at a time per QuickBooks company, whoever starts it (browser, CLI, cron).

The lock is a row per realm in ``qbsync_sync_lock``, taken inside a locked transaction together
with the new run's row, so two starts at the same moment cannot both win. A holder proves it is
alive by its heartbeat; a lock whose process is gone (same host, pid dead) or whose heartbeat is
older than ``STALE_AFTER`` is taken over, and its run is marked interrupted.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sync_core import defaults
from sync_core.database import write_transaction
from sync_core.domain.clock import utcnow
from sync_core.domain.errors import SyncAlreadyRunning
from sync_core.domain.statuses import Scope
from sync_core.store.runs import RunHistory
from sync_core.store.tables import sync_locks

STALE_AFTER = dt.timedelta(seconds=defaults.RUN_STALE_AFTER_S)
HOST = socket.gethostname()

__all__ = ["HOST", "STALE_AFTER", "LockHolder", "RunLock", "SyncAlreadyRunning"]


@dataclass(frozen=True)
class LockHolder:
    run_id: int
    operator: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    host: str | None
    pid: int | None


def _holder_of(row) -> LockHolder | None:
    if row is None or row["run_id"] is None:
        return None
    return LockHolder(
        row["run_id"],
        row["operator"],
        row["started_at"],
        row["heartbeat_at"] or row["started_at"],
        row["host"],
        row["pid"],
    )


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a killed child not yet reaped is a zombie: it exists but is not running
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def holder_alive(holder: LockHolder, now: dt.datetime) -> bool:
    if holder.host == HOST and holder.pid is not None and not process_alive(holder.pid):
        return False
    return now - holder.heartbeat_at < STALE_AFTER


class RunLock:
    def __init__(self, engine: Engine, history: RunHistory) -> None:
        self.engine = engine
        self.history = history

    def acquire(
        self,
        realm_id: str,
        *,
        operator: str,
        scope: Scope,
        batch_size: int,
        retry_failed: bool,
        record_limit: int | None = None,
    ) -> int:
        """Take the lock and create the run; answers the run id or raises SyncAlreadyRunning."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sync_locks.insert().values(realm_id=realm_id))
        except IntegrityError:
            pass  # the realm's row exists already
        with write_transaction(self.engine) as conn:
            stmt = sa.select(sync_locks).where(sync_locks.c.realm_id == realm_id)
            if conn.dialect.name != "sqlite":
                stmt = stmt.with_for_update()
            row = conn.execute(stmt).mappings().one()
            now = utcnow()
            holder = _holder_of(row)
            if holder is not None:
                if holder_alive(holder, now):
                    raise SyncAlreadyRunning(holder.operator, holder.started_at, holder.run_id)
                self.history.mark_interrupted(conn, holder.run_id)
            run_id = self.history.create(
                conn,
                realm_id=realm_id,
                scope=scope,
                operator=operator,
                batch_size=batch_size,
                retry_failed=retry_failed,
                record_limit=record_limit,
                host=HOST,
                pid=os.getpid(),
            )
            conn.execute(
                sync_locks.update()
                .where(sync_locks.c.realm_id == realm_id)
                .values(
                    run_id=run_id,
                    operator=operator,
                    started_at=now,
                    heartbeat_at=now,
                    host=HOST,
                    pid=os.getpid(),
                )
            )
        return run_id

    def heartbeat(self, realm_id: str, run_id: int) -> bool:
        """Answers False when this run no longer holds the lock (it was taken over)."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                sync_locks.update()
                .where(sync_locks.c.realm_id == realm_id, sync_locks.c.run_id == run_id)
                .values(heartbeat_at=utcnow())
            ).rowcount
        return changed == 1

    def release(self, realm_id: str, run_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sync_locks.update()
                .where(sync_locks.c.realm_id == realm_id, sync_locks.c.run_id == run_id)
                .values(run_id=None, heartbeat_at=None)
            )
