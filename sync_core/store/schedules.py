"""Scheduled syncs (``qbsync_schedule``): what to sync when, and what each schedule did last.

Times are naive UTC, as in every table of ours. A schedule's fire is *claimed* by moving
``last_fire_at`` forward in one conditional UPDATE, so of two processes that see the same fire
due, exactly one runs it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sync_core.store.tables import MYSQL_TABLE_ARGS, metadata

NAME_MAX = 100
OUTCOME_MAX = 1000

schedules = sa.Table(
    "qbsync_schedule",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False, unique=True),
    sa.Column("cron", sa.String(100), nullable=False),
    sa.Column("scope", sa.String(20), nullable=False),  # applicants / students / all
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("record_limit", sa.Integer),  # at most this many records per run; NULL: all
    sa.Column("retry_failed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("include_updates", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(200)),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("updated_by", sa.String(200)),
    # fires at or before this are never run: set when created, enabled, or its timing changes
    sa.Column("active_since", sa.DateTime, nullable=False),
    sa.Column("last_fire_at", sa.DateTime),  # the last fire claimed (run, skipped or empty)
    sa.Column("last_outcome", sa.String(OUTCOME_MAX)),
    sa.Column("last_outcome_at", sa.DateTime),
    sa.Column("last_run_id", sa.Integer),
    **MYSQL_TABLE_ARGS,
)


@dataclass(frozen=True)
class ScheduleSpec:
    """What an administrator sets."""

    name: str
    cron: str
    scope: str
    batch_size: int
    record_limit: int | None = None
    retry_failed: bool = False
    include_updates: bool = False


@dataclass(frozen=True)
class Schedule(ScheduleSpec):
    id: int = 0
    enabled: bool = True
    created_at: dt.datetime | None = None
    created_by: str | None = None
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    active_since: dt.datetime | None = None
    last_fire_at: dt.datetime | None = None
    last_outcome: str | None = None
    last_outcome_at: dt.datetime | None = None
    last_run_id: int | None = None

    @classmethod
    def from_row(cls, row: sa.RowMapping) -> Schedule:
        values: dict[str, Any] = {f.name: row[f.name] for f in fields(cls)}
        values["retry_failed"] = bool(values["retry_failed"])
        values["include_updates"] = bool(values["include_updates"])
        values["enabled"] = bool(values["enabled"])
        return cls(**values)

    @property
    def spec(self) -> ScheduleSpec:
        return ScheduleSpec(**{f.name: getattr(self, f.name) for f in fields(ScheduleSpec)})


class ScheduleNameTaken(Exception):
    """Another schedule has this name."""


def _spec_values(spec: ScheduleSpec) -> dict[str, Any]:
    return {f.name: getattr(spec, f.name) for f in fields(ScheduleSpec)}


class ScheduleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def all(self) -> list[Schedule]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schedules).order_by(schedules.c.name)).mappings()
            return [Schedule.from_row(r) for r in rows]

    def get(self, schedule_id: int) -> Schedule | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(schedules).where(schedules.c.id == schedule_id))
                .mappings()
                .first()
            )
        return Schedule.from_row(row) if row is not None else None

    def add(self, spec: ScheduleSpec, by: str, now: dt.datetime, enabled: bool = True) -> int:
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    schedules.insert().values(
                        **_spec_values(spec),
                        enabled=enabled,
                        created_at=now,
                        created_by=by,
                        active_since=now,
                    )
                )
        except IntegrityError:
            raise ScheduleNameTaken(spec.name) from None
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def update(
        self, schedule_id: int, spec: ScheduleSpec, by: str, now: dt.datetime, *, retime: bool
    ) -> bool:
        """Change what a schedule does; ``retime``: its timing changed, so fires before now are
        not owed (a new cron expression must not fire at once for a time it never had)."""
        values: dict[str, Any] = {**_spec_values(spec), "updated_at": now, "updated_by": by}
        if retime:
            values["active_since"] = now
        try:
            with self.engine.begin() as conn:
                changed = conn.execute(
                    schedules.update().where(schedules.c.id == schedule_id).values(**values)
                ).rowcount
        except IntegrityError:
            raise ScheduleNameTaken(spec.name) from None
        return changed == 1

    def set_enabled(self, schedule_id: int, enabled: bool, by: str, now: dt.datetime) -> bool:
        values: dict[str, Any] = {"enabled": enabled, "updated_at": now, "updated_by": by}
        if enabled:
            values["active_since"] = now  # fires missed while disabled are not owed
        with self.engine.begin() as conn:
            changed = conn.execute(
                schedules.update().where(schedules.c.id == schedule_id).values(**values)
            ).rowcount
        return changed == 1

    def delete(self, schedule_id: int) -> bool:
        with self.engine.begin() as conn:
            changed = conn.execute(schedules.delete().where(schedules.c.id == schedule_id)).rowcount
        return changed == 1

    def claim(self, schedule_id: int, fire: dt.datetime) -> bool:
        """Take the fire at ``fire`` for this process: True for exactly one claimer."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                schedules.update()
                .where(
                    schedules.c.id == schedule_id,
                    schedules.c.enabled == sa.true(),
                    sa.or_(schedules.c.last_fire_at.is_(None), schedules.c.last_fire_at < fire),
                )
                .values(last_fire_at=fire)
            ).rowcount
        return changed == 1

    def record_outcome(
        self, schedule_id: int, outcome: str, at: dt.datetime, run_id: int | None = None
    ) -> None:
        values: dict[str, Any] = {"last_outcome": outcome[:OUTCOME_MAX], "last_outcome_at": at}
        if run_id is not None:
            values["last_run_id"] = run_id
        with self.engine.begin() as conn:
            conn.execute(schedules.update().where(schedules.c.id == schedule_id).values(**values))
