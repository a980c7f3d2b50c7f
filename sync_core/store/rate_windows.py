"""QuickBooks' request windows in the product's database, so that every process of the product
(the dashboard, the CLI, the API, a schedule) draws from one allowance per company.

Each request leaves a timestamp row; a window is the rows of its key younger than its length.
Taking a place is one short transaction serialised on the keys' guard rows (``FOR UPDATE`` on
MySQL/MariaDB, the write lock on SQLite): prune the expired stamps, count, stamp every window of
the request at once or say how long to wait.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sync_core.database import write_transaction
from sync_core.store.tables import MYSQL_TABLE_ARGS, metadata

rate_guards = sa.Table(
    "qbsync_rate_guard",
    metadata,
    sa.Column("window_key", sa.String(100), primary_key=True),
    **MYSQL_TABLE_ARGS,
)

rate_stamps = sa.Table(
    "qbsync_rate_stamp",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("window_key", sa.String(100), nullable=False),
    sa.Column("at", sa.Double, nullable=False),  # seconds since the epoch (wall clock)
    sa.Index("ix_qbsync_rate_stamp_key_at", "window_key", "at"),
    **MYSQL_TABLE_ARGS,
)


class DatabaseWindows:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._guarded: set[str] = set()

    def _guard(self, key: str) -> None:
        if key in self._guarded:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(rate_guards.insert().values(window_key=key))
        except IntegrityError:
            pass  # it exists already
        self._guarded.add(key)

    def take(self, key: str, limit: int, window_s: float, now: float) -> float:
        return self.take_all([(key, limit)], window_s, now)

    def take_all(self, windows: Sequence[tuple[str, int]], window_s: float, now: float) -> float:
        for key, _ in windows:
            self._guard(key)
        keys = sorted(key for key, _ in windows)  # one order for every process: no deadlock
        with write_transaction(self.engine) as conn:
            guard = sa.select(rate_guards.c.window_key).where(rate_guards.c.window_key.in_(keys))
            if conn.dialect.name != "sqlite":
                guard = guard.order_by(rate_guards.c.window_key).with_for_update()
            conn.execute(guard).all()
            now = max(now, time.time())  # the places are had now, however long the lock took
            wait = 0.0
            for key, limit in windows:
                conn.execute(
                    rate_stamps.delete().where(
                        rate_stamps.c.window_key == key, rate_stamps.c.at <= now - window_s
                    )
                )
                count = conn.execute(
                    sa.select(sa.func.count()).where(rate_stamps.c.window_key == key)
                ).scalar_one()
                if count >= limit:
                    oldest = conn.execute(
                        sa.select(rate_stamps.c.at)
                        .where(rate_stamps.c.window_key == key)
                        .order_by(rate_stamps.c.at)
                        .offset(count - limit)
                        .limit(1)
                    ).scalar_one()
                    wait = max(wait, float(oldest) + window_s - now)
            if wait > 0:
                return wait
            conn.execute(rate_stamps.insert(), [{"window_key": k, "at": now} for k, _ in windows])
        return 0.0

    def stamps(self, key: str, window_s: float, now: float) -> list[float]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(rate_stamps.c.at).where(
                    rate_stamps.c.window_key == key, rate_stamps.c.at > now - window_s
                )
            )
            return [float(r[0]) for r in rows]
