"""Run history: who synced what and when, how it went, and each record's error in that run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync_core.domain.clock import utcnow
from sync_core.domain.statuses import RUN_COUNTERS, Outcome, RunState, Scope
from sync_core.store.tables import run_errors, runs


@dataclass(frozen=True)
class RunSummary:
    id: int
    realm_id: str
    scope: Scope
    operator: str
    batch_size: int
    retry_failed: bool
    state: RunState
    started_at: dt.datetime
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    cancel_requested: bool
    planned: int
    done: int
    synced: int
    failed: int
    adopted: int
    renamed: int
    reconciled: int
    released: int
    records_per_s: float | None
    record_limit: int | None  # "the next N": the most records this run may send
    waiting_s: float | None  # how long the run is waiting for QuickBooks' limit now
    eta_s: float | None  # to the end, at the pace the limiter allows (published by the run)
    message: str | None
    host: str | None
    pid: int | None
    updated: int = 0  # synced records whose changes were sent (a run with updates)
    unchanged: int = 0  # synced records compared with nothing to send

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | sa.RowMapping) -> RunSummary:
        values = {f.name: row[f.name] for f in fields(cls)}
        values.update(scope=Scope(values["scope"]), state=RunState(values["state"]))
        return cls(**values)

    @property
    def is_running(self) -> bool:
        return self.state is RunState.RUNNING

    @property
    def remaining(self) -> int:
        return max(self.planned - self.done, 0)

    @property
    def progress(self) -> float:
        return min(self.done / self.planned, 1.0) if self.planned else 1.0

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(remaining=self.remaining)
        return data


@dataclass(frozen=True)
class RunError:
    kind: str
    row_id: int
    identity: str
    display_name: str | None
    message: str
    code: str | None = None
    hint: str | None = None
    outcome: Outcome = Outcome.FAILED


class RunHistory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        conn: Connection,
        *,
        realm_id: str,
        scope: Scope,
        operator: str,
        batch_size: int,
        retry_failed: bool,
        host: str,
        pid: int,
        record_limit: int | None = None,
    ) -> int:
        now = utcnow()
        result = conn.execute(
            runs.insert().values(
                realm_id=realm_id,
                scope=scope,
                operator=operator,
                batch_size=batch_size,
                retry_failed=retry_failed,
                record_limit=record_limit,
                state=RunState.RUNNING,
                started_at=now,
                heartbeat_at=now,
                host=host,
                pid=pid,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def update_progress(
        self,
        run_id: int,
        counters: Mapping[str, int],
        records_per_s: float | None,
        *,
        waiting_s: float | None = None,
        eta_s: float | None = None,
    ) -> bool:
        """Persist counts; answers whether someone asked this run to stop."""
        values = {k: int(v) for k, v in counters.items() if k in RUN_COUNTERS}
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    **values,
                    records_per_s=records_per_s,
                    waiting_s=waiting_s,
                    eta_s=eta_s,
                    heartbeat_at=utcnow(),
                )
            )
            return bool(
                conn.execute(
                    sa.select(runs.c.cancel_requested).where(runs.c.id == run_id)
                ).scalar_one()
            )

    def finish(self, run_id: int, state: RunState, message: str | None = None) -> None:
        """The run's end; a run another process already marked interrupted stays so."""
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == RunState.RUNNING)
                .values(state=state, finished_at=utcnow(), message=message)
            )

    def mark_interrupted(self, conn: Connection, run_id: int) -> None:
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id, runs.c.state == RunState.RUNNING)
            .values(
                state=RunState.INTERRUPTED,
                finished_at=utcnow(),
                message="The process running this sync stopped before it finished; "
                "the next run checked its records in QuickBooks.",
            )
        )

    def request_cancel(self, run_id: int) -> bool:
        with self.engine.begin() as conn:
            changed = conn.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == RunState.RUNNING)
                .values(cancel_requested=True)
            ).rowcount
        return bool(changed)

    def add_errors(self, conn: Connection, run_id: int, errors: Iterable[RunError]) -> None:
        now = utcnow()
        rows = [
            {
                "run_id": run_id,
                "at": now,
                "kind": e.kind,
                "row_id": e.row_id,
                "identity": e.identity[:200],
                "display_name": (e.display_name or "")[:500],
                "code": (e.code or "")[:20] or None,
                "message": e.message,
                "hint": e.hint,
                "outcome": e.outcome,
            }
            for e in errors
        ]
        if rows:
            conn.execute(run_errors.insert(), rows)

    # ------------------------------------------------------------ reading

    def get(self, run_id: int) -> RunSummary | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        return RunSummary.from_row(row) if row else None

    def recent(self, limit: int = 50, realm_id: str | None = None) -> list[RunSummary]:
        stmt = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if realm_id is not None:
            stmt = stmt.where(runs.c.realm_id == realm_id)
        with self.engine.connect() as conn:
            return [RunSummary.from_row(r) for r in conn.execute(stmt).mappings()]

    def search(
        self,
        *,
        limit: int = 50,
        operator: str | None = None,
        scopes: Iterable[Scope | str] | None = None,
        exclude_scopes: Iterable[Scope | str] = (),
        states: Iterable[RunState | str] | None = None,
    ) -> list[RunSummary]:
        """Runs newest first, by who started them, their scope and their outcome (state)."""
        stmt = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if operator is not None:
            stmt = stmt.where(runs.c.operator == operator)
        if scopes is not None:
            stmt = stmt.where(runs.c.scope.in_([str(s) for s in scopes]))
        excluded = [str(s) for s in exclude_scopes]
        if excluded:
            stmt = stmt.where(runs.c.scope.not_in(excluded))
        if states is not None:
            stmt = stmt.where(runs.c.state.in_([str(s) for s in states]))
        with self.engine.connect() as conn:
            return [RunSummary.from_row(r) for r in conn.execute(stmt).mappings()]

    def operators(self, limit: int = 500) -> list[str]:
        """Everyone who started a run (people, API keys, schedules), by name."""
        stmt = (
            sa.select(runs.c.operator)
            .group_by(runs.c.operator)
            .order_by(runs.c.operator)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(stmt)]

    def active(self, realm_id: str | None = None) -> RunSummary | None:
        stmt = (
            sa.select(runs)
            .where(runs.c.state == RunState.RUNNING)
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        if realm_id is not None:
            stmt = stmt.where(runs.c.realm_id == realm_id)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return RunSummary.from_row(row) if row else None

    def errors(
        self,
        run_id: int,
        *,
        limit: int | None = None,
        outcome: Outcome | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        order = run_errors.c.id.desc() if newest_first else run_errors.c.id
        stmt = sa.select(run_errors).where(run_errors.c.run_id == run_id).order_by(order)
        if outcome is not None:
            stmt = stmt.where(run_errors.c.outcome == outcome)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def errors_of_record(self, kind: str, row_id: int, limit: int = 20) -> list[dict[str, Any]]:
        stmt = (
            sa.select(run_errors)
            .where(run_errors.c.kind == kind, run_errors.c.row_id == row_id)
            .order_by(run_errors.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]
