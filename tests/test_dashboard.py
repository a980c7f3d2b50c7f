"""The dashboard's pages through Streamlit's AppTest, on the demo MIS and the embedded simulator.

Each test gets its own data folder (a fresh demo database and simulator company) and a short
QuickBooks limit window, so that a sync of all 2,050 demo records takes seconds, not minutes.
Assertions are about what an operator sees: texts, counts, tables, messages.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from sync_core.demo.data import PLANTED_FAILURES
from sync_core.demo.embedded import ensure_demo_database
from sync_core.domain.access import Actor, Role
from sync_core.settings import load_settings
from views._components import present as uh
from views._components.text import unliteral

APP = Path(__file__).resolve().parent.parent / "app.py"
PLANTED = len(PLANTED_FAILURES)  # the demo's records a registrar must fix (blank RegNo)
PAGES = {
    "overview": "Overview",
    "preview": "Preview",
    "sync": "Sync",
    "records": "Records",
    "runs": "Runs",
    "quickbooks": "QuickBooks",
    "reconcile": "Reconcile",
}
SYNC_TIMEOUT_S = 120
PRODUCT_ENV = (
    "MIS_DATABASE_URL",
    "MIS_PHONE_REGION",
    "QBO_ENVIRONMENT",
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "QBO_REDIRECT_URI",
    "QBO_REALM_ID",
    "QBO_REFRESH_TOKEN",
    "QBO_API_BASE_URL",
    "QBO_DISCOVERY_URL",
    "QBO_TOKEN_KEY",
    "QBO_CUSTOM_FIELDS",
    "QBO_REQUESTS_PER_MINUTE",
    "QBO_BATCH_REQUESTS_PER_MINUTE",
    "QBO_MAX_CONCURRENT",
)


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """A fresh demo MIS and simulator for this test only; yields the settings."""
    for name in PRODUCT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNC_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("QBO_LIMIT_WINDOW_S", "2")
    monkeypatch.setenv("QBO_LIMIT_WINDOW_MARGIN_S", "0.2")
    settings = load_settings()
    # exact counts below: a demo without the earlier integration's history (the default demo,
    # with it, is tested on its own)
    ensure_demo_database(settings, with_history=False)
    yield settings
    _stop_runs(settings)


def _stop_runs(settings) -> None:
    """Leave no background run behind (it would keep writing into a deleted folder)."""
    from sync_core.service.background import wait_for
    from views._components import ui

    ctx = ui._open_context(ui._fingerprint(settings), settings)
    active = ctx.active_run()
    if active is not None:
        ctx.cancel_sync(active.id, Actor("test teardown", Role.ADMIN))
        wait_for(active.id, timeout=60)


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py").run()
    assert_fine(at)
    return at


def assert_fine(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    unexpected = [
        e.value
        for e in at.error
        if "something went wrong" in e.value.lower() or "could not be read" in e.value
    ]
    assert not unexpected, unexpected


def texts(at: AppTest) -> str:
    """Everything written on the page (and the sidebar), as one text."""
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "success", "info", "warning"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.error]
    return "\n".join(parts)


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return values[0]


def set_operator(at: AppTest, name: str) -> None:
    at.sidebar.text_input(key="operator").input(name).run()
    assert_fine(at)


def start_sync(at: AppTest, scope: str = "all") -> AppTest:
    at.radio(key="sync_scope").set_value(scope).run()
    at.button(key="start_sync").click().run()
    assert_fine(at)
    return at


def wait_for_run_end(at: AppTest, timeout: float = SYNC_TIMEOUT_S) -> str:
    """Rerun the Sync page (as its 1 s fragment does) until the run panel shows an end state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert_fine(at)
        headings = [s.value for s in at.subheader if "Run " in s.value]
        if headings and "running" not in headings[0]:
            return headings[0]
        time.sleep(0.5)
    raise AssertionError(f"the run did not end within {timeout} s: {texts(at)}")


def dataframe(at: AppTest, key_prefix: str):
    """A selectable table, by the start of its key."""
    frames = [d for d in at.dataframe if (d.key or "").startswith(key_prefix)]
    assert frames, f"no table {key_prefix!r} among {[d.key for d in at.dataframe]}"
    return frames[0]


def table_with(at: AppTest, *columns: str, index: int = 0):
    """The ``index``-th table on the page having these columns (as a DataFrame)."""
    frames = [d.value for d in at.dataframe if set(columns) <= set(d.value.columns)]
    assert len(frames) > index, (
        f"no table with {columns} among {[list(d.value.columns) for d in at.dataframe]}"
    )
    return frames[index]


# ---------------------------------------------------------------- every page


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_the_demo_banner(demo, page):
    at = app().run()
    assert_fine(at)
    if page != "overview":
        open_page(at, page)
    assert [t.value for t in at.title] == [PAGES[page]]
    banner = [w.value for w in at.sidebar.warning]
    assert any("Demo data and simulated QuickBooks" in w for w in banner), banner
    assert not at.error, [e.value for e in at.error]


def test_overview_shows_counts_charts_and_connection(demo):
    at = app().run()
    assert_fine(at)
    assert metric(at, "Total records") == "2,050"
    assert metric(at, "Synced") == "0"
    assert metric(at, "Not synced") == "2,050"
    assert metric(at, "Progress") == "0.0 %"
    charts = at.get("plotly_chart")
    assert [c.key for c in charts] == ["status_chart", "progress_chart", "failures_chart"]
    page = texts(at)
    assert "Connected to realm" in page
    assert "No sync has run yet." in page


# ---------------------------------------------------------------- preview


def test_preview_pages_through_the_payloads(demo):
    at = open_page(app().run(), "preview")
    notices = [i.value for i in at.info if "no classic custom fields" in i.value]
    assert len(notices) == 1, "the custom-fields notice is shown exactly once"
    assert "Notes" in notices[0] and "Advanced" in notices[0]

    table = dataframe(at, "preview_table").value
    assert len(table) == 25
    assert list(table["Row"][:3]) == [1, 2, 3]
    for column in ("DisplayName", "GivenName", "FamilyName", "Email", "Phone", "Warnings"):
        assert column in table.columns
    for field in ("CustomerType", "ApplicationID", "TrackingID", "Campus", "Program"):
        assert field in table.columns
    assert set(table["CustomerType"]) == {"Applicant"}
    assert "Applicants 1–25 of 850" in texts(at)

    at.number_input(key="preview_page").set_value(2).run()
    assert_fine(at)
    table = dataframe(at, "preview_table").value
    assert list(table["Row"][:2]) == [26, 27]
    assert "Applicants 26–50 of 850" in texts(at)

    at.selectbox(key="preview_limit").set_value(100).run()
    assert_fine(at)
    assert len(dataframe(at, "preview_table").value) == 100
    assert "Applicants 1–100 of 850" in texts(at), "changing the page size goes back to page 1"

    at.button_group(key="kind").set_value("student").run()
    assert_fine(at)
    table = dataframe(at, "preview_table").value
    assert set(table["CustomerType"]) == {"Student"}
    assert "RegNo" in table.columns and "ApplicationID" not in table.columns
    assert "Students 1–100 of 1,200" in texts(at)

    # only with warnings: found among all students, not on this page only; warnings first
    at.toggle(key="preview_warnings").set_value(True).run()
    assert_fine(at)
    table = dataframe(at, "preview_table").value
    assert list(table.columns[:3]) == ["Row", "Warnings", "Cannot send"]
    assert len(table) == 100, "a full page of records with warnings, from all students"
    assert all(w or e for w, e in zip(table["Warnings"], table["Cannot send"], strict=True))
    assert int(table["Row"].iloc[-1]) > 100, "they come from beyond the first page"
    assert "Students with warnings, page 1: 100 records found among" in texts(at)
    first_rows = list(table["Row"])
    at.button(key="warnings_next").click().run()
    assert_fine(at)
    following = list(dataframe(at, "preview_table").value["Row"])
    assert following and min(following) > max(first_rows), "the next page goes on from there"


def test_preview_selecting_a_row_shows_source_payload_and_placement(demo):
    at = open_page(app().run(), "preview")
    table = dataframe(at, "preview_table")
    second = table.value.iloc[1]
    at.session_state[table.key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert_fine(at)
    payload = at.json[0].value
    assert f'"DisplayName": "{second["DisplayName"]}"' in payload
    assert '"Notes"' in payload and "CustomerType: Applicant" in payload
    source = at.json[1].value
    assert '"appl_Id": 2' in source
    placement = table_with(at, "Field", "Value", "Written to")
    assert list(placement["Field"][:2]) == ["CustomerType", "ApplicationID"]
    assert set(placement["Written to"]) <= {"Notes", "(empty: not written)"}
    assert f"APP {second['ApplicationID']}" in texts(at)


# ---------------------------------------------------------------- sync


def test_sync_of_all_records_completes_and_overview_counts_change(demo, blank_reg_no):
    blank = blank_reg_no(demo)
    at = app().run()
    assert_fine(at)
    assert metric(at, "Synced") == "0"
    set_operator(at, "Ada Lovelace")
    open_page(at, "sync")
    assert "This sync will send **2,050 records**" in texts(at)
    start_sync(at)
    assert "Run 1 started by Ada Lovelace." in texts(at)

    heading = wait_for_run_end(at)
    assert heading.endswith("Run 1: completed with errors"), heading
    page = texts(at)
    assert f"Finished with errors: {2050 - PLANTED:,} synced, {PLANTED} failed." in page
    assert f"Errors ({PLANTED})" in page
    errors = table_with(at, "Record", "QuickBooks code", "What to do")
    assert len(errors) == PLANTED
    records = list(errors["Record"])
    student = records.index(f"Student (row {blank}, no RegNo)")
    row = errors.iloc[student]
    assert "RegNo is empty" in row["Message"]
    assert "Correct the record in the MIS" in row["What to do"]
    refused = [m for m in errors["Message"] if "only characters QuickBooks refuses" in m]
    assert len(refused) == 1, "the demo's name QuickBooks refuses fails readably"
    assert "records renamed" in page, "name clashes are reported as notices"
    # selecting the error shows it in full, with a way to its record
    at.session_state["run1_errors"] = {"selection": {"rows": [student], "columns": [], "cells": []}}
    at.run()
    assert_fine(at)
    assert any(e.value.startswith("RegNo is empty in the MIS") for e in at.error)
    assert any("Open this record" in link.proto.label for link in at.get("page_link"))
    # selecting the error shows it in full, with a way to its record
    at.session_state["run1_errors"] = {"selection": {"rows": [student], "columns": [], "cells": []}}
    at.run()
    assert_fine(at)
    assert any(e.value.startswith("RegNo is empty in the MIS") for e in at.error)
    assert any("Open this record" in link.proto.label for link in at.get("page_link"))
    # nothing left to do except the failed record
    assert "Nothing to sync" in page and f"{PLANTED} failed records" in page

    open_page(at, "overview")
    assert metric(at, "Synced") == f"{2050 - PLANTED:,}"
    assert metric(at, "Not synced") == "0"
    assert metric(at, "Failed") == str(PLANTED)
    assert metric(at, "Progress") == f"{(1000 * (2050 - PLANTED) // 2050) / 10:.1f} %"  # floored
    last_runs = at.table[0].value.map(lambda v: unliteral(v) if isinstance(v, str) else v)
    assert int(last_runs.iloc[0]["Run"]) == 1
    assert last_runs.iloc[0]["Synced"] == f"{2050 - PLANTED:,}"
    assert last_runs.iloc[0]["Outcome"] == f"completed with errors ({PLANTED} failed)"
    assert last_runs.iloc[0]["Operator"] == "Ada Lovelace"

    open_page(at, "runs")
    assert "Run 1: completed with errors" in texts(at)
    labels = [b.label for b in at.get("download_button")]
    assert any(label.startswith("Download this run's errors and notices (CSV") for label in labels)
    errors = table_with(at, "Record", "QuickBooks code", "What to do")
    assert any("RegNo is empty" in m for m in errors["Message"])


def test_start_is_refused_without_an_operator_name(demo):
    at = open_page(app().run(), "sync")
    at.button(key="start_sync").click().run()
    assert_fine(at)
    assert any("Enter your name under **Operator**" in e.value for e in at.error)
    open_page(at, "runs")
    assert "No sync has run yet." in texts(at)


def test_a_second_start_is_refused_with_who_and_when(demo, monkeypatch):
    monkeypatch.setenv("QBO_BATCH_REQUESTS_PER_MINUTE", "1")  # a run that lasts...
    monkeypatch.setenv("QBO_MAX_CONCURRENT", "1")  # ...and stops soon once cancelled
    first = app().run()
    set_operator(first, "Ada Lovelace")
    open_page(first, "sync")
    second = app().run()  # another operator, another browser, on the page at the same time
    set_operator(second, "Grace Hopper")
    open_page(second, "sync")
    second.radio(key="sync_scope").set_value("applicants").run()
    assert not second.button(key="start_sync").disabled

    start_sync(first, "students")
    assert any("Run 1: running" in s.value for s in first.subheader)
    second.button(key="start_sync").click().run()  # clicked a moment later
    assert_fine(second)
    refusals = [unliteral(e.value) for e in second.error if "Refused" in e.value]
    assert refusals, texts(second)
    assert "a sync started by Ada Lovelace at" in refusals[0]
    assert "is running (run 1)" in refusals[0]
    assert any("Run 1: running" in s.value for s in second.subheader), "the same run is shown"
    assert second.button(key="start_sync").disabled, "no second start while a run goes on"

    # the first operator cancels it from the page
    first.run()
    first.button(key="cancel_1").click().run()
    assert_fine(first)
    assert wait_for_run_end(first, 60).endswith("Run 1: cancelled")


# ---------------------------------------------------------------- records


def test_search_finds_a_record_and_push_syncs_it(demo):
    at = app().run()
    set_operator(at, "Ada Lovelace")
    # an applicant with a tracking id, from the same preview the operator sees
    open_page(at, "preview")
    table = dataframe(at, "preview_table").value
    target = table[table["TrackingID"].str.len() > 0].iloc[0]

    open_page(at, "records")
    at.text_input(key="q").input(target["TrackingID"]).run()
    assert_fine(at)
    matches = dataframe(at, "matches:").value
    assert target["TrackingID"] in set(matches["Tracking id"])
    row = matches.index[matches["Tracking id"] == target["TrackingID"]][0]
    key = dataframe(at, "matches:").key
    at.session_state[key] = {"selection": {"rows": [int(row)], "columns": [], "cells": []}}
    at.run()
    assert_fine(at)
    assert metric(at, "Status") == "not synced"
    assert metric(at, "QuickBooks Id") == "—"
    push = at.button(key=f"push_applicant_{target['Row']}")
    assert push.label == "Push this record now"

    push.click().run()
    assert_fine(at)
    assert any(
        "Pushed by Ada Lovelace. Synced as QuickBooks customer" in s.value for s in at.success
    )
    assert metric(at, "Status") == "synced"
    assert metric(at, "QuickBooks Id") != "—"
    assert "Pushed by **Ada Lovelace** at" in texts(at)
    assert any("Already in QuickBooks as customer" in s.value for s in at.success)
    assert not [b for b in at.button if b.label == "Push this record now"], "nothing to push"
    audit = table_with(at, "Operation", "HTTP", "requestid")
    assert len(audit) >= 1, "the push left an audit trail"

    open_page(at, "overview")
    assert metric(at, "Synced") == "1"


def test_push_is_refused_without_operator_and_a_failure_is_explained(demo, blank_reg_no):
    blank = blank_reg_no(demo)
    at = open_page(app().run(), "records")
    at.query_params.update(kind="student", id=str(blank))
    at.run()
    assert_fine(at)
    assert "no RegNo" in texts(at)
    at.button(key=f"push_student_{blank}").click().run()
    assert any("Enter your name under **Operator**" in e.value for e in at.error)
    assert metric(at, "Status") == "not synced"

    set_operator(at, "Ada Lovelace")
    at.button(key=f"push_student_{blank}").click().run()
    assert_fine(at)
    failures = [e.value for e in at.error if e.value.startswith("Not synced")]
    assert failures and "RegNo is empty" in failures[0], texts(at)
    assert any("Correct the record in the MIS" in i.value for i in at.info)
    assert metric(at, "Status") == "failed"


# ---------------------------------------------------------------- QuickBooks connection


def _disconnect(at: AppTest) -> None:
    at.button(key="disconnect").click().run()
    assert any("Disconnect from realm" in w.value for w in at.warning)
    at.button(key="confirm").click().run()
    assert_fine(at)
    assert any("Disconnected" in s.value for s in at.success), texts(at)
    assert "QuickBooks not connected: connect first." in texts(at)


def test_quickbooks_callback_with_a_valid_state_connects(demo):
    at = open_page(app().run(), "quickbooks")
    assert "Connected to realm" in texts(at)
    _disconnect(at)
    open_page(at, "overview")
    assert "QuickBooks not connected: connect first." in texts(at)

    open_page(at, "quickbooks")
    links = [m.value for m in at.markdown if "Connect to QuickBooks" in m.value]
    assert links, texts(at)
    url = links[0].split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    # the simulator's consent: it redirects straight back with code, state and realmId
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    callback = urlparse(answer.headers["Location"])
    assert callback.path == "/QuickBooks"
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    assert {"code", "state", "realmId"} <= set(params)

    fresh = app()  # Intuit sends the browser back: a new session on /QuickBooks?code=...
    fresh.query_params.update(params)
    fresh.run()
    fresh.switch_page("views/quickbooks.py").run()
    assert_fine(fresh)
    assert any(
        f"Connected to QuickBooks company {params['realmId']}" in s.value for s in fresh.success
    ), texts(fresh)
    assert not fresh.query_params, "the code is removed from the address bar"
    assert "Connected to realm" in texts(fresh)


def test_quickbooks_callback_with_a_forged_state_is_refused(demo):
    at = open_page(app().run(), "quickbooks")
    _disconnect(at)
    at.query_params.update(code="stolen-code", state="forged-state", realmId="123")
    at.run()
    assert_fine(at)
    errors = [e.value for e in at.error]
    assert any("does not match a connection this app started" in e for e in errors), errors
    assert "QuickBooks not connected: connect first." in texts(at)
    assert not at.query_params


def test_quickbooks_page_shows_the_simulator_and_no_secret(demo):
    at = open_page(app().run(), "quickbooks")
    simulator = table_with(at, "Setting", "Value", index=1)
    values = dict(zip(simulator["Setting"], simulator["Value"], strict=True))
    assert values["Company"] == "University Sandbox Company"
    assert values["URL"].startswith("http://127.0.0.1:")
    assert values["Customers"] == "0"
    status = table_with(at, "Setting", "Value", index=0)
    assert "Access token valid until" in set(status["Setting"])
    page = texts(at) + str(status) + str(table_with(at, "Setting", "Value", index=2))
    assert "simulator-client-secret" not in page
    assert "access_token" not in page.lower()


# ---------------------------------------------------------------- operators, errors


def test_a_configuration_error_is_a_readable_message(demo, monkeypatch):
    monkeypatch.setenv("QBO_ENVIRONMENT", "staging")
    at = app().run()
    assert not at.exception
    errors = [unliteral(e.value) for e in at.error]
    assert any(
        "Configuration problem" in e and "QBO_ENVIRONMENT must be one of" in e for e in errors
    ), errors


def test_a_database_failure_is_a_readable_message(demo, monkeypatch):
    from sync_core.service import SyncService

    def lost(self, **options):
        raise sa.exc.OperationalError(
            "SELECT ...", {}, Exception("(2013, 'Lost connection to server during query')")
        )

    monkeypatch.setattr(SyncService, "analyze", lost)
    at = app().run()
    assert not at.exception
    errors = [unliteral(e.value) for e in at.error]
    assert any("The MIS database could not be read" in e and "Lost connection" in e for e in errors)
    assert "Traceback" not in texts(at)


def test_starting_or_pushing_while_disconnected_says_connect_first(demo):
    at = app().run()
    set_operator(at, "Ada Lovelace")
    open_page(at, "sync")
    assert not at.button(key="start_sync").disabled
    admin = app().run()  # meanwhile, in another browser, an administrator disconnects
    open_page(admin, "quickbooks")
    _disconnect(admin)
    at.button(key="start_sync").click().run()  # the library refuses what the page allowed
    assert_fine(at)
    errors = [unliteral(e.value) for e in at.error]
    assert any("QuickBooks is not connected" in e for e in errors), errors
    assert texts(at).count("QuickBooks not connected: connect first.") == 1, "said once"
    assert not [c for c in at.sidebar.caption if "not connected" in c.value]
    assert at.button(key="start_sync").disabled
    open_page(at, "runs")
    assert "No sync has run yet." in texts(at)

    open_page(at, "records")
    at.query_params.update(kind="applicant", id="3")
    at.run()
    at.button(key="push_applicant_3").click().run()
    assert_fine(at)
    assert any("QuickBooks is not connected" in unliteral(e.value) for e in at.error)
    assert metric(at, "Status") == "not synced"


# ---------------------------------------------------------------- presentation helpers


def test_errors_csv_holds_every_error_with_its_hint():
    errors = [
        {
            "kind": "student",
            "row_id": 55,
            "identity": "55",
            "display_name": "Clarisse Uwera",
            "code": "MIS",
            "message": "RegNo is empty in the MIS",
            "hint": "Correct the record in the MIS, then retry it.",
            "outcome": "failed",
        }
    ]
    text = uh.errors_csv(errors, 7).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("run_id,at_utc,outcome,kind,row_id")
    assert lines[1].startswith("7,,failed,student,55,55,Clarisse Uwera,MIS,RegNo is empty")
    assert uh.record_label("student", "55", 55) == "Student (row 55, no RegNo)"
    assert uh.format_duration(75) == "1 min 15 s"
