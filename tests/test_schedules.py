"""Scheduled syncs with a clock the test controls: due, missed while down (run once), never
overlapping a running sync (skipped, and said), an empty run recording nothing, one fire claimed
by one of two processes, and edits that never fire for the past."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from api_support import (
    ADMIN,
    SMALL_APPLICANTS,
    SMALL_STUDENTS,
    make_small_service,  # noqa: F401  (fixture)
    small,  # noqa: F401  (fixture)
    small_url,  # noqa: F401  (fixture)
    wait_for_run_end,
)

from sync_core.domain.access import Actor, PermissionDenied, Role
from sync_core.domain.errors import InvalidRequest
from sync_core.service.schedules import (
    FireOutcome,
    Schedules,
    ScheduleSpec,
    due_fire,
    latest_fire,
    next_fire,
    parse_cron,
)
from sync_core.service.serve_loop import ServeLoop
from sync_core.store.schedules import Schedule
from sync_core.sync.request import SyncRequest

DAY = dt.datetime(2030, 1, 7)  # a Monday, in the future: the controlled clock's day


def at(hours: int, minutes: int = 0, seconds: int = 0, day: int = 0) -> dt.datetime:
    return DAY + dt.timedelta(days=day, hours=hours, minutes=minutes, seconds=seconds)


def spec(name: str = "Nightly students", cron: str = "0 2 * * *", **kwargs) -> ScheduleSpec:
    values = {"scope": "students", "batch_size": 50, **kwargs}
    return ScheduleSpec(name=name, cron=cron, **values)


# ---------------------------------------------------------------- cron arithmetic (fast)


def test_cron_arithmetic_is_utc_and_inclusive():
    assert latest_fire("0 2 * * *", at(2)) == at(2), "a fire at exactly now is due now"
    assert latest_fire("0 2 * * *", at(1, 59, 59)) == at(2, day=-1)
    assert next_fire("0 2 * * *", at(2)) == at(2, day=1)
    assert latest_fire("*/15 * * * *", at(10, 7)) == at(10)
    aware = at(3).replace(tzinfo=dt.UTC)
    assert latest_fire("0 2 * * *", aware) == at(2)
    assert parse_cron("  0   2 * *  1-5 ") == "0 2 * * 1-5"
    for bad in ("", "0 2 * *", "61 * * * *", "0 2 * * * *", "every night", "0 25 * * *"):
        with pytest.raises(InvalidRequest, match="not valid") as raised:
            parse_cron(bad)
        assert "UTC" in raised.value.what_to_do


def test_due_fire_rules():
    base = Schedule(**spec().__dict__, id=1, created_at=at(1), active_since=at(1))
    assert due_fire(base, at(1, 59)) is None
    assert due_fire(base, at(2)) == at(2)
    assert due_fire(base, at(9)) == at(2), "late: still owed, once"
    claimed = Schedule(**{**base.__dict__, "last_fire_at": at(2)})
    assert due_fire(claimed, at(9)) is None
    assert due_fire(claimed, at(2, day=3)) == at(2, day=3), "three missed days: one fire"
    disabled = Schedule(**{**base.__dict__, "enabled": False})
    assert due_fire(disabled, at(2)) is None
    retimed = Schedule(**{**base.__dict__, "active_since": at(3)})
    assert due_fire(retimed, at(4)) is None, "no fire for a time before it became active"


# ---------------------------------------------------------------- firing


def test_a_due_schedule_runs_once_as_itself_then_an_empty_fire_records_nothing(small):  # noqa: F811
    schedules = Schedules(small)
    schedule_id = schedules.add(ADMIN, spec(), now=at(1))

    assert schedules.run_due(at(1, 59, 59)) == []
    fired = schedules.run_due(at(2, 0, 20))
    assert [(f.schedule_id, f.outcome) for f in fired] == [(schedule_id, FireOutcome.STARTED)]
    run_id = fired[0].run_id
    assert schedules.run_due(at(2, 0, 40)) == [], "a fire is run once"

    run = wait_for_run_end(small, run_id)
    assert run.operator == "Schedule Nightly students" and run.scope == "students"
    assert run.synced == SMALL_STUDENTS - 1 and run.failed == 1
    view = schedules.get(schedule_id, now=at(3))
    assert view.schedule.last_fire_at == at(2)
    assert view.schedule.last_run_id == run_id
    assert view.schedule.last_outcome == f"started run {run_id} for the 2030-01-07 02:00 UTC fire"
    assert view.next_fire_at == at(2, day=1)

    # the next night nothing waits (the failed record is not retried by this schedule)
    empty = schedules.run_due(at(2, 0, 5, day=1))
    assert [f.outcome for f in empty] == [FireOutcome.NOTHING]
    assert [r.id for r in small.runs()] == [run_id], "an empty fire records no run"
    text = schedules.get(schedule_id).schedule.last_outcome
    assert text == "nothing to sync at the 2030-01-08 02:00 UTC fire (no run recorded)"


def test_a_schedule_s_limit_and_updates_shape_its_run(small):  # noqa: F811
    """A schedule of the next 3 applicants that also sends changes: its run sends 3, and the
    changed customer of an applicant synced before is updated."""
    first = small.run_sync(SyncRequest("applicants", operator="Setup", limit=2), ADMIN)
    assert first is not None and first.run.synced == 2
    table = small.schema.applicants
    with small.mis_engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id == 1)
            .values({table.table.c.email1: "moved@example.org"})
        )
    schedules = Schedules(small)
    schedules.add(
        ADMIN,
        spec("Three and changes", scope="applicants", record_limit=3, include_updates=True),
        now=at(1),
    )
    fired = schedules.run_due(at(2, 0, 10))
    run = wait_for_run_end(small, fired[0].run_id)
    assert (run.record_limit, run.synced, run.updated, run.failed) == (3, 3, 1, 0)
    customer = small.client().get_customer(small.record("applicant", 1).source.qk_id)
    assert customer["PrimaryEmailAddr"]["Address"] == "moved@example.org"


def test_fires_missed_while_down_run_once_at_start(small):  # noqa: F811
    schedules = Schedules(small)
    hourly = schedules.add(
        ADMIN, spec("Hourly applicants", "0 * * * *", scope="applicants"), at(0, 10)
    )
    now = {"value": at(5, 30)}  # the server was down from 00:10 to 05:30: five fires missed
    loop = ServeLoop(small, notifications=False, clock=lambda: now["value"])
    loop.tick()
    runs = small.runs()
    assert len(runs) == 1, "five missed fires, one run"
    schedule = schedules.get(hourly).schedule
    assert schedule.last_fire_at == at(5)
    assert schedule.last_outcome.startswith(f"started run {runs[0].id} for the 2030-01-07 05:00")
    assert "missed while the API was not running; run once at start" in schedule.last_outcome
    now["value"] = at(5, 31)
    loop.tick()
    assert len(small.runs()) == 1
    done = wait_for_run_end(small, runs[0].id)
    assert done.synced == SMALL_APPLICANTS
    assert loop._sleep_s(at(5, 59, 50)) <= 10.5, "the loop wakes up for the next fire"


def test_a_schedule_never_overlaps_a_running_sync(small, simulator):  # noqa: F811
    schedules = Schedules(small)
    schedule_id = schedules.add(ADMIN, spec(), now=at(1))
    simulator.set_faults(latency_ms=250)
    ada = Actor("Ada Lovelace", Role.OPERATOR, "dashboard")
    running = small.start_sync(SyncRequest(scope="applicants", operator="x", batch_size=5), ada)

    fired = schedules.run_due(at(2))
    assert [f.outcome for f in fired] == [FireOutcome.SKIPPED]
    text = schedules.get(schedule_id).schedule.last_outcome
    assert text == (
        f"skipped the 2030-01-07 02:00 UTC fire: a sync by Ada Lovelace (run {running}) was running"
    )
    assert [r.id for r in small.runs()] == [running], "no second run"
    assert schedules.run_due(at(2, 5)) == [], "a skipped fire is not retried: it said so"

    simulator.set_faults(latency_ms=0)
    wait_for_run_end(small, running)
    nextday = schedules.run_due(at(2, day=1))
    assert [f.outcome for f in nextday] == [FireOutcome.STARTED]
    wait_for_run_end(small, nextday[0].run_id)


def test_two_processes_claim_a_fire_once(make_small_service):  # noqa: F811
    first, second = make_small_service(), make_small_service()
    Schedules(first).add(ADMIN, spec("Nightly all", scope="all"), now=at(1))
    results: list = []
    barrier = threading.Barrier(2)

    def serve(service) -> None:
        barrier.wait()
        results.extend(Schedules(service).run_due(at(2)))

    threads = [threading.Thread(target=serve, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r.outcome for r in results] == [FireOutcome.STARTED]
    assert len(first.runs()) == 1
    wait_for_run_end(first, results[0].run_id)


def test_disabling_enabling_and_retiming_never_fire_for_the_past(small):  # noqa: F811
    schedules = Schedules(small)
    schedule_id = schedules.add(ADMIN, spec(), now=at(1))
    schedules.set_enabled(ADMIN, schedule_id, False, now=at(1, 30))
    assert schedules.run_due(at(2, 1)) == []
    assert schedules.get(schedule_id).next_fire_at is None
    schedules.set_enabled(ADMIN, schedule_id, True, now=at(3))
    assert schedules.run_due(at(3, 1)) == [], "the 02:00 fire fell while it was disabled"

    schedules.update(ADMIN, schedule_id, spec(cron="30 2 * * *"), now=at(3, day=1))
    assert schedules.run_due(at(3, 1, day=1)) == [], "the new time had not come since the edit"
    schedules.update(ADMIN, schedule_id, spec(batch_size=20), now=at(3, 5, day=1))
    assert schedules.get(schedule_id).schedule.cron == "0 2 * * *"
    fired = schedules.run_due(at(2, 0, 10, day=2))
    assert [f.outcome for f in fired] == [FireOutcome.STARTED]
    assert wait_for_run_end(small, fired[0].run_id).batch_size == 20

    schedules.delete(ADMIN, schedule_id)
    assert schedules.views() == []


def test_only_administrators_edit_and_bad_schedules_are_refused(small):  # noqa: F811
    schedules = Schedules(small)
    operator = Actor("Op", Role.OPERATOR, "dashboard")
    with pytest.raises(PermissionDenied, match="may not add schedules"):
        schedules.add(operator, spec())
    for bad, field in (
        (spec(name="   "), "name"),
        (spec(cron="0 2 * *"), "cron expression"),
        (spec(scope="record"), "scope"),
        (spec(batch_size=0), "batch_size"),
        (spec(record_limit=0), "limit"),
    ):
        with pytest.raises(InvalidRequest, match=field):
            schedules.add(ADMIN, bad)
    schedules.add(ADMIN, spec(name="Nightly  students "))
    with pytest.raises(InvalidRequest, match="exists already"):
        schedules.add(ADMIN, spec())
    assert [v.schedule.name for v in schedules.views()] == ["Nightly students"]
    assert schedules.views()[0].schedule.created_by == ADMIN.name
