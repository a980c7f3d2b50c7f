"""Notifications sent (``qbsync_notification``): each event is told once, whichever process
sees it first and however often it is seen again (a failed run, a token about to expire, the
daily summary). An event is claimed by inserting its key; the loser of a race gets False."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sync_core.store.tables import MYSQL_TABLE_ARGS, metadata

KEY_MAX = 200

notifications = sa.Table(
    "qbsync_notification",
    metadata,
    sa.Column("event_key", sa.String(KEY_MAX), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("claimed_at", sa.DateTime, nullable=False),
    sa.Column("title", sa.String(300)),
    sa.Column("targets", sa.Integer),  # how many targets it was sent to
    sa.Column("delivered", sa.Integer),  # how many took it
    **MYSQL_TABLE_ARGS,
)


class NotificationLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim(self, event_key: str, kind: str, title: str, now: dt.datetime) -> bool:
        """True when this caller is the first to tell of ``event_key``."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    notifications.insert().values(
                        event_key=event_key[:KEY_MAX], kind=kind, claimed_at=now, title=title[:300]
                    )
                )
        except IntegrityError:
            return False
        return True

    def record_delivery(self, event_key: str, targets: int, delivered: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                notifications.update()
                .where(notifications.c.event_key == event_key[:KEY_MAX])
                .values(targets=targets, delivered=delivered)
            )

    def recent(self, limit: int = 20) -> list[dict[str, object]]:
        stmt = sa.select(notifications).order_by(notifications.c.claimed_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]
