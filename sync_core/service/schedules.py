"""Scheduled syncs: cron expressions (UTC) an administrator sets, run by the ``serve`` process.

Rules, each a sentence an operator can rely on:

- **Due**: a schedule is due when its latest fire time (the newest cron instant at or before
  now) is newer than both the fire it last claimed and the moment it became active (created,
  enabled, or its timing changed). Fires missed while nothing was serving collapse into one:
  the process runs the schedule once when it starts, for the newest missed fire.
- **Claimed once**: a fire is claimed by a conditional UPDATE of ``last_fire_at``; of two
  ``serve`` processes only one gets it.
- **Never overlaps**: when any sync of the company is running (a schedule's, the dashboard's,
  the CLI's, the API's), the fire is *skipped*, and the schedule's last outcome says so and by
  whom; it does not wait. The next fire runs as usual.
- **Empty runs record nothing**: when nothing waits, no run is created; the schedule's last
  outcome says "nothing to sync".

Every function takes ``now`` (naive UTC), so tests control the clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from croniter import croniter

from sync_core import defaults
from sync_core.database import log_failure
from sync_core.domain.access import Actor, Role, require
from sync_core.domain.clock import utcnow
from sync_core.domain.errors import InvalidRequest, NotFound, SyncAlreadyRunning, SyncError
from sync_core.domain.statuses import Scope
from sync_core.service.sync_options import prepare_request
from sync_core.store.schedules import (
    NAME_MAX,
    Schedule,
    ScheduleNameTaken,
    ScheduleSpec,
    ScheduleStore,
)

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService

log = logging.getLogger(__name__)

SCHEDULE_SCOPES = (Scope.ALL, Scope.APPLICANTS, Scope.STUDENTS)
LATE_AFTER = dt.timedelta(minutes=2)  # a fire run later than this is reported as caught up
CRON_HELP = (
    "five fields, minute hour day-of-month month day-of-week, in UTC: '0 2 * * *' is 02:00 "
    "every day, '30 6 * * 1-5' 06:30 on weekdays, '*/15 * * * *' every 15 minutes"
)

__all__ = [
    "CRON_HELP",
    "FireOutcome",
    "FireResult",
    "ScheduleSpec",
    "ScheduleView",
    "Schedules",
    "latest_fire",
    "next_fire",
    "parse_cron",
]


# ---------------------------------------------------------------- cron arithmetic (pure)


def parse_cron(expression: str) -> str:
    """The expression with its whitespace normalised; InvalidRequest when it is not a valid
    five-field cron expression."""
    text = " ".join(str(expression or "").split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise InvalidRequest(
            f"cron expression {text!r} is not valid",
            what_to_do=f"Use {CRON_HELP}.",
        )
    return text


def _naive(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def latest_fire(expression: str, now: dt.datetime) -> dt.datetime:
    """The newest cron instant at or before ``now`` (UTC)."""
    now = _naive(now)
    # get_prev is strictly before its start: start a microsecond later so ``now`` itself counts
    start = now + dt.timedelta(microseconds=1)
    return croniter(expression, start).get_prev(dt.datetime)


def next_fire(expression: str, now: dt.datetime) -> dt.datetime:
    """The first cron instant after ``now`` (UTC)."""
    return croniter(expression, _naive(now)).get_next(dt.datetime)


def due_fire(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The fire this schedule owes at ``now``, or None."""
    if not schedule.enabled:
        return None
    fire = latest_fire(schedule.cron, now)
    since = schedule.active_since or schedule.created_at
    if since is not None and fire <= since:
        return None
    if schedule.last_fire_at is not None and fire <= schedule.last_fire_at:
        return None
    return fire


# ---------------------------------------------------------------- what the page and API show


@dataclass(frozen=True)
class ScheduleView:
    schedule: Schedule
    next_fire_at: dt.datetime | None  # None when disabled

    def as_dict(self) -> dict[str, object]:
        s = self.schedule
        return {
            "id": s.id,
            "name": s.name,
            "cron": s.cron,
            "scope": s.scope,
            "batch_size": s.batch_size,
            "limit": s.record_limit,
            "retry_failed": s.retry_failed,
            "include_updates": s.include_updates,
            "enabled": s.enabled,
            "next_fire_at": self.next_fire_at,
            "last_fire_at": s.last_fire_at,
            "last_outcome": s.last_outcome,
            "last_outcome_at": s.last_outcome_at,
            "last_run_id": s.last_run_id,
        }


class FireOutcome(StrEnum):
    STARTED = "started"
    SKIPPED = "skipped"  # another sync was running
    NOTHING = "nothing to sync"
    FAILED = "failed to start"


@dataclass(frozen=True)
class FireResult:
    schedule_id: int
    name: str
    fire_at: dt.datetime
    outcome: FireOutcome
    text: str  # what the schedule's "last outcome" says
    run_id: int | None = None


def schedule_actor(schedule: Schedule) -> Actor:
    return Actor(name=f"Schedule {schedule.name}", role=Role.OPERATOR, via="schedule")


def validate_spec(spec: ScheduleSpec) -> ScheduleSpec:
    """The spec as stored (trimmed, checked); InvalidRequest naming the field otherwise."""
    name = " ".join(str(spec.name or "").split())
    if not name:
        raise InvalidRequest("name: a schedule needs a name")
    if len(name) > NAME_MAX:
        raise InvalidRequest(f"name: at most {NAME_MAX} characters")
    cron = parse_cron(spec.cron)
    try:
        scope = Scope(spec.scope)
    except ValueError:
        scope = None
    if scope not in SCHEDULE_SCOPES:
        raise InvalidRequest("scope: must be applicants, students or all")
    if not 1 <= int(spec.batch_size) <= defaults.MAX_BATCH_SIZE:
        raise InvalidRequest(f"batch_size: must be 1..{defaults.MAX_BATCH_SIZE}")
    if spec.record_limit is not None and int(spec.record_limit) < 1:
        raise InvalidRequest("limit: must be at least 1, or empty for every waiting record")
    return ScheduleSpec(
        name=name,
        cron=cron,
        scope=str(scope),
        batch_size=int(spec.batch_size),
        record_limit=None if spec.record_limit is None else int(spec.record_limit),
        retry_failed=bool(spec.retry_failed),
        include_updates=bool(spec.include_updates),
    )


# ---------------------------------------------------------------- the use case


class Schedules:
    """Schedules of one service's store: edited by administrators, fired by ``serve``."""

    def __init__(self, service: SyncService) -> None:
        self.service = service
        self.store = ScheduleStore(service.store_engine)

    # ------------------------------------------------------------ reading

    def views(self, now: dt.datetime | None = None) -> list[ScheduleView]:
        now = now or utcnow()
        return [self._view(s, now) for s in self.store.all()]

    def get(self, schedule_id: int, now: dt.datetime | None = None) -> ScheduleView:
        schedule = self.store.get(schedule_id)
        if schedule is None:
            raise NotFound(f"No schedule {schedule_id}")
        return self._view(schedule, now or utcnow())

    @staticmethod
    def _view(schedule: Schedule, now: dt.datetime) -> ScheduleView:
        upcoming = next_fire(schedule.cron, now) if schedule.enabled else None
        return ScheduleView(schedule, upcoming)

    def next_wakeup(self, now: dt.datetime) -> dt.datetime | None:
        """When the next enabled schedule fires (for the serve loop's sleep)."""
        fires = [v.next_fire_at for v in self.views(now) if v.next_fire_at is not None]
        return min(fires) if fires else None

    # ------------------------------------------------------------ administering

    def add(self, actor: Actor, spec: ScheduleSpec, now: dt.datetime | None = None) -> int:
        require(actor, Role.ADMIN, "add schedules")
        spec = validate_spec(spec)
        try:
            return self.store.add(spec, actor.name, now or utcnow())
        except ScheduleNameTaken:
            raise InvalidRequest(f"name: a schedule named {spec.name!r} exists already") from None

    def update(
        self,
        actor: Actor,
        schedule_id: int,
        spec: ScheduleSpec,
        now: dt.datetime | None = None,
    ) -> None:
        require(actor, Role.ADMIN, "change schedules")
        current = self.get(schedule_id).schedule
        spec = validate_spec(spec)
        try:
            self.store.update(
                schedule_id, spec, actor.name, now or utcnow(), retime=spec.cron != current.cron
            )
        except ScheduleNameTaken:
            raise InvalidRequest(f"name: a schedule named {spec.name!r} exists already") from None

    def set_enabled(
        self, actor: Actor, schedule_id: int, enabled: bool, now: dt.datetime | None = None
    ) -> None:
        require(actor, Role.ADMIN, "enable or disable schedules")
        if not self.store.set_enabled(schedule_id, enabled, actor.name, now or utcnow()):
            raise NotFound(f"No schedule {schedule_id}")

    def delete(self, actor: Actor, schedule_id: int) -> None:
        require(actor, Role.ADMIN, "delete schedules")
        if not self.store.delete(schedule_id):
            raise NotFound(f"No schedule {schedule_id}")

    # ------------------------------------------------------------ firing

    def run_due(self, now: dt.datetime | None = None) -> list[FireResult]:
        """Fire every schedule that is due at ``now`` and that this process claims."""
        now = _naive(now or utcnow())
        results = []
        for schedule in self.store.all():
            try:
                fire = due_fire(schedule, now)
            except Exception:  # a row edited by hand into nonsense must not stop the others
                log.warning("schedule %s has an unusable cron expression", schedule.id)
                continue
            if fire is None or not self.store.claim(schedule.id, fire):
                continue
            result = self._fire(schedule, fire, now)
            self.store.record_outcome(schedule.id, result.text, now, result.run_id)
            log.info("schedule %s: %s", schedule.id, result.outcome)
            results.append(result)
        return results

    def _fire(self, schedule: Schedule, fire: dt.datetime, now: dt.datetime) -> FireResult:
        late = now - fire > LATE_AFTER
        when = f"the {fire:%Y-%m-%d %H:%M} UTC fire" + (
            " (missed while the API was not running; run once at start)" if late else ""
        )

        def result(outcome: FireOutcome, text: str, run_id: int | None = None) -> FireResult:
            return FireResult(schedule.id, schedule.name, fire, outcome, text, run_id)

        actor = schedule_actor(schedule)
        try:
            prepared = prepare_request(
                schedule.scope,
                actor.name,
                batch_size=schedule.batch_size,
                retry_failed=schedule.retry_failed,
                limit=schedule.record_limit,
                include_updates=schedule.include_updates,
            )
            run_id = self.service.start_sync(prepared.request, actor)
        except SyncAlreadyRunning as exc:
            return result(
                FireOutcome.SKIPPED,
                f"skipped {when}: a sync by {exc.operator}"
                + (f" (run {exc.run_id})" if exc.run_id else "")
                + " was running",
            )
        except SyncError as exc:
            return result(FireOutcome.FAILED, f"{when} could not start: {exc.describe()}")
        except Exception as exc:  # never stop the serve loop; the details go to the log
            log_failure(log, "schedule %s could not start", schedule.id)
            return result(
                FireOutcome.FAILED,
                f"{when} could not start ({type(exc).__name__}): see the server log",
            )
        notes = "".join(f"; {note}" for note in prepared.notes)
        if run_id is None:
            return result(FireOutcome.NOTHING, f"nothing to sync at {when} (no run recorded)")
        return result(FireOutcome.STARTED, f"started run {run_id} for {when}{notes}", run_id)
