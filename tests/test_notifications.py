"""Notifications received by a local webhook listener and a local SMTP server: a run that ended
with failures, failed or was interrupted; the QuickBooks connection lost or expiring; the daily
summary; the dashboard's test. Each is told once, and a failing target fails nothing."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys

import pytest
import sqlalchemy as sa
from api_support import (
    ADMIN,
    BLANK_REGNO_STUDENT,
    closed_port,
    hook,  # noqa: F401  (fixture)
    mailbox,  # noqa: F401  (fixture)
    make_small_service,  # noqa: F401  (fixture)
    small_url,  # noqa: F401  (fixture)
    wait_for_run_end,
    wait_until,
)

from sync_core.domain.access import Actor, PermissionDenied, Role
from sync_core.domain.clock import utcnow
from sync_core.domain.errors import InvalidRequest
from sync_core.domain.secret import Secret
from sync_core.domain.statuses import RunState
from sync_core.service.notifications import Notifier, send_test_notification, summary_cron
from sync_core.service.schedules import FireOutcome, Schedules, ScheduleSpec
from sync_core.service.serve_loop import ServeLoop
from sync_core.settings import SettingsError, load_settings
from sync_core.store.locks import HOST
from sync_core.store.tables import runs as runs_table
from sync_core.sync.request import SyncRequest

DASHBOARD = Actor("Ada Lovelace", Role.ADMIN, "dashboard")


def targets(*urls: str) -> Secret:
    return Secret("\n".join(urls))


def failing_target() -> str:
    return f"json://127.0.0.1:{closed_port()}/hooks/FAILING-TARGET-TOKEN?+X-Api-Key=HEADER-SECRET"


# ---------------------------------------------------------------- settings (fast)


def test_targets_come_from_settings_and_never_show(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "SYNC_NOTIFY_URLS = [\n"
        '  "mailto://sync:PW@mail.example.edu:587?to=registrar@example.edu,bursar@example.edu",\n'
        '  "json://hooks.example.edu/sync/TOKEN",\n'
        "]\n"
        'SYNC_NOTIFY_SUMMARY = "weekly"\n'
    )
    settings = load_settings({}, secrets_file=secrets)
    urls = [u.reveal() for u in settings.notification_urls()]
    assert urls == [
        "mailto://sync:PW@mail.example.edu:587?to=registrar@example.edu,bursar@example.edu",
        "json://hooks.example.edu/sync/TOKEN",
    ]
    assert settings.describe()["Notification targets"] == "2 configured"
    shown = repr(settings) + str(settings.describe())
    assert "PW" not in shown and "TOKEN" not in shown
    assert summary_cron(settings.sync_notify_summary) == "0 7 * * 1"

    from_env = load_settings(
        {"SYNC_NOTIFY_URLS": "json://a.example.org/x, mailto://b.example.org?to=a@x.org,b@x.org"},
        secrets_file=tmp_path / "none.toml",
    )
    assert len(from_env.notification_urls()) == 2
    assert load_settings({}, secrets_file=tmp_path / "none.toml").notification_urls() == []
    with pytest.raises(SettingsError, match="SYNC_NOTIFY_URLS entry 2"):
        load_settings({"SYNC_NOTIFY_URLS": "json://a.example.org/x, oops"}, secrets_file=secrets)
    with pytest.raises(SettingsError, match="SYNC_NOTIFY_SUMMARY"):
        summary_cron("hourly-ish")
    assert summary_cron("off") is None and summary_cron("") is None


# ---------------------------------------------------------------- runs


def test_a_run_with_failures_is_told_once_and_a_failing_target_fails_nothing(
    make_small_service,  # noqa: F811
    hook,  # noqa: F811
    mailbox,  # noqa: F811
    caplog,
):
    service = make_small_service(
        sync_notify_urls=targets(hook.url(), failing_target(), mailbox.url())
    )
    now = utcnow()
    Schedules(service).add(
        ADMIN,
        ScheduleSpec("Every minute", "* * * * *", "students", 50),
        now=now - dt.timedelta(minutes=2),
    )
    loop = ServeLoop(service)
    caplog.set_level(logging.INFO)  # what `serve` logs, and all apprise says
    with caplog.at_level(logging.DEBUG, logger="apprise"):
        loop.tick(now)  # fires the schedule
        run_id = service.runs()[0].id
        run = wait_for_run_end(service, run_id)
        assert run.state is RunState.COMPLETED_WITH_ERRORS and run.failed == 1
        loop.tick(utcnow())  # tells of it
        loop.tick(utcnow())  # and not twice

    title = f"QuickBooks sync run {run_id} ended with 1 failed records"
    assert hook.titles() == [title]
    body = hook.received[0].body["message"]
    assert f"started by Schedule Every minute at {run.started_at:%Y-%m-%d %H:%M} UTC" in body
    assert f"{run.synced:,} synced, 1 failed of {run.planned:,} planned" in body
    assert "Runs page" in body and hook.received[0].body["type"] == "failure"
    assert hook.received[0].path == "/hook/SECRET-PATH-TOKEN"
    assert mailbox.subjects() == [title]
    assert mailbox.messages[0]["To"] == "registrar@example.org"

    # nothing personal: not the failed student's row, name or (blank) RegNo
    failed = service.run_entries(run_id)[0]
    assert failed["row_id"] == BLANK_REGNO_STUDENT
    assert failed["display_name"] and failed["display_name"] not in body

    # the failing target: logged by number and host, never its URL, path or header
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "target 2. Webhook (JSON) (127.0.0.1)" in logged
    for secret in ("FAILING-TARGET-TOKEN", "HEADER-SECRET", "SECRET-PATH-TOKEN", "SMTP-PASSWORD"):
        assert secret not in logged

    # another serve process sees the same event already told
    assert Notifier(make_small_service(sync_notify_urls=targets(hook.url()))).check() == []
    assert len(hook.received) == 1

    # a clean run is not news
    clean = service.start_sync(SyncRequest(scope="applicants", operator="x"), DASHBOARD)
    assert wait_for_run_end(service, clean).state is RunState.COMPLETED
    loop.tick(utcnow())
    assert len(hook.received) == 1


def test_failed_and_interrupted_runs_are_told(make_small_service, hook):  # noqa: F811
    service = make_small_service(sync_notify_urls=targets(hook.url()))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    with service.store_engine.begin() as conn:
        # what a killed process leaves: a run still "running", its process gone
        interrupted = service.history.create(
            conn, realm_id="1", scope="all", operator="Cron", batch_size=50,
            retry_failed=False, host=HOST, pid=dead_pid,
        )  # fmt: skip
        failed = service.history.create(
            conn, realm_id="1", scope="students", operator="Grace Hopper", batch_size=50,
            retry_failed=False, host=HOST, pid=dead_pid,
        )  # fmt: skip
        cancelled = service.history.create(
            conn, realm_id="1", scope="students", operator="Grace Hopper", batch_size=50,
            retry_failed=False, host=HOST, pid=dead_pid,
        )  # fmt: skip
        conn.execute(runs_table.update().values(planned=100, done=40, synced=40))
    service.history.finish(failed, RunState.FAILED, "QuickBooks is not connected")
    service.history.finish(cancelled, RunState.CANCELLED, "Cancelled by Grace Hopper")

    sent = Notifier(service).check()
    assert sorted(d.notice.title for d in sent) == sorted(
        [
            f"QuickBooks sync run {interrupted} was interrupted",
            f"QuickBooks sync run {failed} failed",
        ]
    )
    told = {r.body["title"]: r.body["message"] for r in hook.received}
    assert "QuickBooks is not connected" in told[f"QuickBooks sync run {failed} failed"]
    assert (
        "40 synced, 0 failed of 100 planned"
        in told[f"QuickBooks sync run {interrupted} was interrupted"]
    )

    # when a later run marks it interrupted, it is the same event: not told again
    with service.store_engine.begin() as conn:
        service.history.mark_interrupted(conn, interrupted)
    assert Notifier(service).check() == []


# ---------------------------------------------------------------- the connection


def test_a_connection_expiring_within_14_days_and_a_lost_one_are_told(
    make_small_service,  # noqa: F811
    simulator,
    hook,  # noqa: F811
):
    lifetime_s = 5.5 * 86_400  # the grant reaches its hard limit (five years) in 5.5 days
    service = make_small_service(
        sync_notify_urls=targets(hook.url()),
        qbo_refresh_token=Secret(simulator.issue_refresh_token(hard_lifetime_s=lifetime_s)),
    )
    expires = service.connection_status().refresh_expires_at
    assert expires is not None and expires - utcnow() < dt.timedelta(days=14)
    notifier = Notifier(service)
    notifier.check()
    notifier.check()
    assert hook.titles() == ["QuickBooks connection expires in 5 days"]
    body = hook.received[0].body["message"]
    assert f"expires at {expires:%Y-%m-%d %H:%M} UTC" in body
    assert "100 days" in body and "python -m sync_core connect" in body

    simulator.revoke_all()  # the company disconnected the app in QuickBooks
    outcome = service.push_record("applicant", 1, DASHBOARD)
    assert outcome.status == "failed"
    assert service.connection_status().last_error
    notifier.check()
    notifier.check()
    assert hook.titles()[1:] == ["QuickBooks connection lost"]
    lost = hook.received[1].body["message"]
    assert "Token refresh refused" in lost and "QuickBooks page" in lost
    assert len(hook.received) == 2, "the one-record push's own failure is not a run notice"


def test_a_refused_start_is_told_and_a_healthy_connection_is_not_news(
    make_small_service,  # noqa: F811
    hook,  # noqa: F811
):
    refused = make_small_service(
        sync_notify_urls=targets(hook.url()), qbo_refresh_token=Secret("REVOKED-REFRESH-TOKEN")
    )
    assert [d.notice.title for d in Notifier(refused).check()] == ["QuickBooks not connected"]
    told = hook.received[0].body["message"]
    assert "QuickBooks refused QBO_REFRESH_TOKEN" in told and "REVOKED-REFRESH-TOKEN" not in told

    healthy = make_small_service(sync_notify_urls=targets(hook.url()))
    assert healthy.connection_status().connected
    assert Notifier(healthy).check() == []
    assert len(hook.received) == 1


# ---------------------------------------------------------------- summary and test


def test_the_daily_summary_is_sent_once_and_never_very_late(make_small_service, hook):  # noqa: F811
    service = make_small_service(sync_notify_urls=targets(hook.url()), sync_notify_summary="daily")
    run_id = service.start_sync(SyncRequest(scope="applicants", operator="x"), DASHBOARD)
    wait_for_run_end(service, run_id)
    today = utcnow().replace(hour=7, minute=5, second=0)
    notifier = Notifier(service)
    assert [d.notice.kind for d in notifier.check_summary(today)] == ["summary"]
    assert notifier.check_summary(today + dt.timedelta(minutes=30)) == []
    assert hook.titles() == [f"QuickBooks sync summary, {today:%Y-%m-%d}"]
    text = hook.received[0].body["message"]
    assert "Records: 70 in total, 30 synced (42.8 %), 40 not synced, 0 failed." in text
    assert "Runs since" in text and "1, 30 records synced, 0 failed" in text
    assert "QuickBooks: connected to company" in text
    tomorrow_late = today + dt.timedelta(days=1, hours=7)  # 14:05: more than 6 h late
    assert notifier.check_summary(tomorrow_late) == []


def test_send_a_test_notification(make_small_service, hook, mailbox):  # noqa: F811
    service = make_small_service(
        sync_notify_urls=targets(hook.url(), failing_target(), mailbox.url())
    )
    delivery = send_test_notification(service, DASHBOARD)
    assert [(r.target, r.ok) for r in delivery.results] == [
        ("1. Webhook (JSON) (127.0.0.1)", True),
        ("2. Webhook (JSON) (127.0.0.1)", False),
        ("3. E-mail (127.0.0.1)", True),
    ]
    assert delivery.results[1].problem
    assert hook.titles() == ["QuickBooks sync: test notification"]
    assert "Ada Lovelace sent this test" in hook.received[0].body["message"]
    wait_until(lambda: mailbox.messages, timeout=5, what="the test e-mail")
    assert mailbox.subjects() == ["QuickBooks sync: test notification"]

    with pytest.raises(PermissionDenied):
        send_test_notification(service, Actor("Op", Role.OPERATOR, "dashboard"))
    nobody = make_small_service()
    with pytest.raises(InvalidRequest, match="No notification target") as raised:
        send_test_notification(nobody, DASHBOARD)
    assert "SYNC_NOTIFY_URLS" in raised.value.what_to_do
    assert Notifier(nobody).check() == [], "no targets: nothing claimed, nothing sent"
    with nobody.store_engine.connect() as conn:
        claimed = conn.execute(sa.text("SELECT COUNT(*) FROM qbsync_notification")).scalar()
    assert claimed == 0


def test_a_schedule_fires_even_when_every_target_fails(make_small_service):  # noqa: F811
    service = make_small_service(sync_notify_urls=targets(failing_target()))
    now = utcnow()
    Schedules(service).add(
        ADMIN,
        ScheduleSpec("Every minute", "* * * * *", "students", 50),
        now=now - dt.timedelta(minutes=2),
    )
    loop = ServeLoop(service)
    loop.tick(now)
    fired = Schedules(service).views()[0].schedule
    assert fired.last_outcome and fired.last_outcome.startswith(f"started run {fired.last_run_id}")
    run = wait_for_run_end(service, fired.last_run_id)
    loop.tick(utcnow())  # its notice fails everywhere: logged, nothing raised
    assert run.state is RunState.COMPLETED_WITH_ERRORS
    assert service.run(run.id).state is RunState.COMPLETED_WITH_ERRORS
    assert FireOutcome.STARTED.value in fired.last_outcome
