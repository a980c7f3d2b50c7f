"""The Overview's "Changed in the MIS since pushed" (issue 11 point 1), through AppTest on the
demo MIS and the embedded simulator: counted in the background (never in a script run), shown
when known, counted again after a run or on request."""

from __future__ import annotations

import threading
import time

from test_dashboard import app, assert_fine, demo, metric, texts  # noqa: F401  (demo: fixture)

from sync_core.domain.access import Actor, Role
from sync_core.domain.statuses import Scope
from sync_core.sync.request import SyncRequest
from views._components import later, ui

SETUP = Actor("Setup", Role.ADMIN)
WAIT_S = 60


def service(settings):
    return ui._open_context(ui._fingerprint(settings), settings)


def shown_changes(at, timeout: float = WAIT_S) -> dict[str, str]:
    """Rerun the page (as its fragment polls) until the changes since pushed are shown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert_fine(at)
        metrics = {m.label: m.value for m in at.metric}
        if "Changed since pushed" in metrics and "recounting" not in texts(at):
            return metrics
        time.sleep(0.2)
    raise AssertionError(f"no changes since pushed within {timeout} s: {texts(at)}")


def test_overview_shows_the_records_changed_since_pushed_per_kind(demo):  # noqa: F811
    ctx = service(demo)
    ctx.run_sync(SyncRequest(Scope.APPLICANTS, operator="Setup", limit=20), SETUP)
    ctx.run_sync(SyncRequest(Scope.STUDENTS, operator="Setup", limit=10), SETUP)

    at = app()
    metrics = shown_changes(at)
    assert metrics["Total records"] == "2,050", "the counts come first, as before"
    assert metrics["Changed since pushed"] == "0"
    assert metrics["Applicants changed"] == "0" and metrics["Students changed"] == "0"
    synced = metrics["Synced"]  # 29 or 30: a planted failure may be among the first students
    assert f"Of {synced} synced records" in texts(at)
    links = [
        link.proto for link in at.get("page_link") if "Changes since pushed" in link.proto.label
    ]
    assert links and "Reconcile" in links[0].page, "the way to see what changed, field by field"

    # a registrar changes two applicants and one student in the MIS (no run: the version of the
    # data is the same), then the operator asks for a recount
    applicants, students = ctx.schema.applicants, ctx.schema.students
    student = next(r for r in range(1, 100) if ctx.record("student", r).source.qk_id)
    with ctx.mis_engine.begin() as conn:
        conn.execute(
            applicants.table.update()
            .where(applicants.row_id.in_([3, 4]))
            .values({applicants.table.c.email1: "changed@example.org"})
        )
        conn.execute(
            students.table.update()
            .where(students.row_id == student)
            .values({students.table.c.email1: "student.changed@example.org"})
        )
    at.button(key="changes_recount").click()
    metrics = shown_changes(at)
    assert metrics["Changed since pushed"] == "3"
    assert metrics["Applicants changed"] == "2" and metrics["Students changed"] == "1"
    assert metric(at, "Synced") == synced


def test_a_run_makes_the_overview_count_again(demo):  # noqa: F811
    ctx = service(demo)
    at = app()
    assert shown_changes(at)["Changed since pushed"] == "0"
    assert "Of 0 synced records" in texts(at)
    ctx.run_sync(SyncRequest(Scope.APPLICANTS, operator="Setup", limit=5), SETUP)
    ui.clear_caches()  # what the dashboard does when it sees a run end
    shown_changes(at)
    assert "Of 5 synced records" in texts(at)


def test_the_count_runs_once_at_a_time_and_never_in_the_asking_thread():
    started = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    def slow(name: str) -> str:
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return name

    background = later.Background(slow, max_age_s=60)
    first = background.get("config", 1, "a")
    assert first.value is None and first.busy
    assert started.wait(10)
    again = background.get("config", 1, "a")
    assert again.busy and len(calls) == 1, "one computation at a time"
    release.set()
    assert background.wait("config", 10)
    known = background.get("config", 1, "a")
    assert known.value == "a" and not known.busy and known.computed_at is not None
    assert calls == ["dashboard-background"]

    # invalidated during a computation: the value it ends with is out of date already
    release.clear()
    started.clear()
    background.invalidate()
    assert background.get("config", 1, "b").busy
    assert started.wait(10)
    background.invalidate()
    release.set()
    assert background.wait("config", 10)
    assert background.get("config", 1, "c").busy, "counted again"
    assert background.wait("config", 10)
    assert background.get("config", 1, "c").value == "c"

    # a new version of the data is counted again; while held, the known value stays
    release.set()
    held = background.get("config", 2, "d", hold=True)
    assert held.value == "c" and not held.busy
    assert background.get("config", 2, "d").busy
    assert background.wait("config", 10)
    assert background.get("config", 2, "d").value == "d"
