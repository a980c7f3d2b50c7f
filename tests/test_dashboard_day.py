"""The operator's day (issue 12) through Streamlit's AppTest, on the demo MIS and the embedded
simulator: runs of the next N, the worklist (filters, paging, retrying a selection, the
failures as CSV), runs by operator, scope and outcome with deep links, the waiting for
QuickBooks' limit said as it happens, and the small things (plurals, one "not connected")."""

from __future__ import annotations

import csv
import io
import time

import pytest
from conftest import update_record
from test_dashboard import (
    app,
    assert_fine,
    dataframe,
    demo,  # noqa: F401  (fixture)
    metric,
    open_page,
    set_operator,
    table_with,
    texts,
    wait_for_run_end,
)

from sync_core.demo.data import PLANTED_FAILURES
from sync_core.domain.access import Actor, Role
from sync_core.domain.kinds import STUDENT
from sync_core.domain.statuses import RunState, Scope
from sync_core.service import worklist as wl
from sync_core.service.background import wait_for
from sync_core.service.worklist import WorkStatus
from sync_core.sync.request import SyncRequest
from views._components import present as uh
from views._components.text import unliteral

PLANTED_STUDENTS = [f.row_id for f in PLANTED_FAILURES if f.column == "reg_no"]


def service_of(settings):
    from views._components import ui

    return ui._open_context(ui._fingerprint(settings), settings)


def select_rows(at, key: str, rows: list[int]) -> None:
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert_fine(at)


def runs_table(at):
    return table_with(at, "Run", "Outcome", "Operator", "Limit")


def plain(at, kind: str) -> list[str]:
    return [unliteral(str(e.value)) for e in getattr(at, kind)]


# ---------------------------------------------------------------- runs of N


def test_a_run_of_the_next_10_sends_exactly_10_and_pushes_stay_apart(demo):  # noqa: F811
    at = app().run()
    set_operator(at, "Ada Lovelace")
    open_page(at, "sync")
    assert "Records claimed per step" in [s.label for s in at.select_slider]
    at.button_group(key="sync_limit").set_value("10").run()
    assert_fine(at)
    assert "This sync will send **10 records** of the 2,050 waiting" in texts(at)
    at.button(key="start_sync").click().run()
    assert_fine(at)
    assert "Run 1 started by Ada Lovelace." in texts(at)
    assert wait_for_run_end(at).endswith("Run 1: completed")
    assert metric(at, "Done") == "10" and metric(at, "Synced") == "10"
    assert any("the next 10 · 50 records per step" in c.value for c in at.caption)
    assert "Finished: 10 synced, no errors." in texts(at)

    # another number: the next 3
    at.button_group(key="sync_limit").set_value("other").run()
    at.number_input(key="sync_limit_n").set_value(3).run()
    assert "This sync will send **3 records** of the 2,040 waiting" in texts(at)
    at.button(key="start_sync").click().run()
    assert wait_for_run_end(at).endswith("Run 2: completed")
    assert metric(at, "Done") == "3"

    # a one-record push is listed apart from the runs on the Overview
    open_page(at, "records")
    at.query_params.update(kind="applicant", id="20")
    at.run()
    at.button(key="push_applicant_20").click().run()
    assert_fine(at)
    open_page(at, "overview")
    assert metric(at, "Synced") == "14"
    runs, pushes = (
        t.value.map(lambda v: unliteral(v) if isinstance(v, str) else v) for t in at.table
    )
    assert list(runs["Run"]) == [2, 1] and set(runs["Scope"]) == {"all"}
    assert list(pushes["Run"]) == [3] and list(pushes["Scope"]) == ["record"]
    assert "Last pushes of chosen records" in [s.value for s in at.subheader]

    open_page(at, "runs")
    assert list(runs_table(at)["Limit"]) == ["all pending", "the next 3", "the next 10"]


def test_nothing_to_sync_is_said_and_start_is_disabled(demo):  # noqa: F811
    service = service_of(demo)
    ada = Actor("Ada Lovelace", Role.OPERATOR)
    table = service.schema.applicants  # every applicant synced (as an earlier run left them)
    with service.mis_engine.begin() as conn:
        conn.execute(table.table.update().values({table.status: 1, table.quickbooks_id: "1"}))
    at = app().run()
    set_operator(at, "Ada Lovelace")
    open_page(at, "sync")
    at.radio(key="sync_scope").set_value("applicants").run()
    assert "**Nothing to sync**: every record of this scope is in QuickBooks." in texts(at)
    assert at.button(key="start_sync").disabled
    assert service.start_sync(SyncRequest(Scope.APPLICANTS, "x"), ada) is None


# ---------------------------------------------------------------- the worklist


def test_worklist_filters_pages_retries_a_selection_and_exports_failures(demo):  # noqa: F811
    service = service_of(demo)
    ada = Actor("Ada Lovelace", Role.OPERATOR)
    chosen = tuple(("student", row_id) for row_id in PLANTED_STUDENTS)
    service.run_sync(SyncRequest(Scope.RECORD, "x", records=chosen), ada)  # they fail

    failed = len(PLANTED_STUDENTS)
    at = app().run()
    set_operator(at, "Ada Lovelace")
    assert metric(at, "Failed") == str(failed)
    links = [link for link in at.get("page_link") if "failure" in link.proto.label]
    assert [link.proto.label for link in links] == [f"Open the {failed} failures"]
    assert links[0].proto.query_string == "status=failed"

    # the Overview's link: the worklist filtered to failures
    at.query_params["status"] = "failed"
    open_page(at, "records")
    assert at.multiselect(key="wl_status").value == [WorkStatus.FAILED]
    rows = dataframe(at, "worklist:").value
    assert len(rows) == failed
    assert set(rows["Status"]) == {"failed"}
    assert all("RegNo is empty" in e for e in rows["Last error"])
    assert all("Correct the record in the MIS" in w for w in rows["What to do"])
    assert f"Download the current failures (CSV, {failed} records)" in [
        d.proto.label for d in at.get("download_button")
    ]
    at.multiselect(key="wl_kinds").set_value(["applicant"]).run()
    assert "No record matches these filters." in texts(at)

    # the CSV the button offers: every failure, with its reason and what to do
    exported = list(
        csv.DictReader(io.StringIO(uh.failures_csv(wl.failures(service)).decode("utf-8-sig")))
    )
    assert sorted(int(r["row_id"]) for r in exported) == sorted(PLANTED_STUDENTS)
    assert all(r["reason"].startswith("RegNo is empty") for r in exported)
    assert all(r["what_to_do"].startswith("Correct the record in the MIS") for r in exported)

    # the registrar fixes one; the operator selects both and retries them in one run
    fixed = PLANTED_STUDENTS[0]
    update_record(service, STUDENT, fixed, reg_no="2099/FIX/0001")
    at.multiselect(key="wl_kinds").set_value([]).run()
    rows = dataframe(at, "worklist:")
    select_rows(at, rows.key, list(range(failed)))
    retry = at.button(key="retry_chosen")
    assert retry.label == f"Retry the {failed} selected records"
    retry.click().run()
    assert_fine(at)
    started = [s for s in plain(at, "success") if "chosen records" in s]
    assert started, texts(at)
    assert started[0].startswith(f"Run 2 started by Ada Lovelace: {failed} chosen records")
    assert wait_for(2, timeout=60)
    run = service.run(2)
    assert (run.scope, run.planned, run.synced, run.failed) == (
        Scope.RECORD,
        failed,
        1,
        failed - 1,
    )
    at.run()
    left = dataframe(at, "worklist:").value
    assert len(left) == failed - 1 and f"row {fixed}," not in " ".join(left["Record"])


def test_worklist_by_campus_name_order_warnings_and_pages(demo):  # noqa: F811
    at = open_page(app().run(), "records")
    rows = dataframe(at, "worklist:").value
    assert len(rows) == wl.PAGE_SIZE and "2,050 records match the filters" in texts(at)
    assert list(rows["Record"][:2]) == ["Applicant 1", "Applicant 2"]
    at.button(key="wl_next").click().run()
    assert_fine(at)
    second = dataframe(at, "worklist:").value
    assert "page 2: records 51–100" in texts(at)
    assert set(second["Record"]).isdisjoint(set(rows["Record"]))

    at.multiselect(key="wl_kinds").set_value(["student"]).run()
    campuses = at.selectbox(key="wl_campus")
    assert "Kigali Campus" in campuses.options
    campuses.select(1).run()  # tbl_campus 1: Kigali Campus
    at.selectbox(key="wl_sort").set_value("name").run()
    assert_fine(at)
    rows = dataframe(at, "worklist:").value
    assert set(rows["Campus"]) == {"Kigali Campus"}
    names = list(rows["Name"])
    firsts = [n.split()[0] for n in names]
    assert firsts == sorted(firsts), "by name (as the MIS holds it)"
    at.button(key="wl_next").click().run()
    more = [n.split()[0] for n in dataframe(at, "worklist:").value["Name"]]
    assert more and min(more) >= max(firsts), "the next page goes on in name order"

    at.toggle(key="wl_warnings").set_value(True).run()
    assert_fine(at)
    rows = dataframe(at, "worklist:").value
    assert len(rows) > 0 and all(rows["Warnings"])
    assert "with warnings found among" in texts(at)


# ---------------------------------------------------------------- runs: who did what


def test_runs_by_operator_scope_and_outcome_and_deep_links(demo):  # noqa: F811
    service = service_of(demo)
    service.run_sync(
        SyncRequest(Scope.APPLICANTS, "x", limit=5), Actor("Ada Lovelace", Role.OPERATOR)
    )
    service.push_record("student", PLANTED_STUDENTS[0], Actor("Grace Hopper", Role.OPERATOR))
    service.run_sync(
        SyncRequest(Scope.STUDENTS, "x", limit=4), Actor("Ada Lovelace", Role.OPERATOR)
    )

    at = open_page(app().run(), "runs")
    assert list(runs_table(at)["Run"]) == [3, 2, 1]
    assert "Run 3: completed" in texts(at), "the newest run first"
    at.selectbox(key="runs_operator").select("Grace Hopper").run()
    table = runs_table(at)
    assert list(table["Run"]) == [2] and list(table["Operator"]) == ["Grace Hopper"]
    at.selectbox(key="runs_operator").select(None).run()
    at.multiselect(key="runs_scopes").set_value([Scope.APPLICANTS, Scope.STUDENTS]).run()
    assert list(runs_table(at)["Run"]) == [3, 1]
    at.multiselect(key="runs_scopes").set_value([]).run()
    at.multiselect(key="runs_states").set_value([RunState.COMPLETED_WITH_ERRORS]).run()
    assert list(runs_table(at)["Run"]) == [2]
    assert [d.proto.label for d in at.get("download_button")][0] == (
        "Download these runs (CSV, 1 run)"
    )
    labels = [d.proto.label for d in at.get("download_button")]
    entries = uh.plural(len(service.run_entries(2)), "row")
    assert f"Download this run's errors and notices (CSV, {entries})" in labels, labels

    # a deep link on first load: the run it names, even one older than the newest
    linked = app().run()
    linked.query_params["run"] = "1"
    open_page(linked, "runs")
    assert "Run 1: completed" in texts(linked)
    assert any("by Ada Lovelace" in c for c in plain(linked, "caption"))
    missing = app().run()
    missing.query_params["run"] = "99"
    open_page(missing, "runs")
    assert "Run 99 does not exist." in texts(missing)


# ---------------------------------------------------------------- QuickBooks' limit


def test_the_wait_for_quickbooks_limit_is_said_while_it_lasts(demo, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QBO_LIMIT_WINDOW_S", "3")
    monkeypatch.setenv("QBO_BATCH_REQUESTS_PER_MINUTE", "1")  # one batch of 30 per 3 s
    at = app().run()
    set_operator(at, "Ada Lovelace")
    open_page(at, "sync")
    at.radio(key="sync_scope").set_value("applicants").run()
    at.button_group(key="sync_limit").set_value("other").run()
    at.number_input(key="sync_limit_n").set_value(61).run()  # 3 batches: 2 waits
    at.button(key="start_sync").click().run()
    assert_fine(at)
    said = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and said is None:
        at.run()
        said = next((i for i in plain(at, "info") if "Waiting for QuickBooks' limit" in i), None)
        time.sleep(0.3)
    assert said is not None, texts(at)
    assert said.startswith("Waiting for QuickBooks' limit, about ") and " s: QuickBooks" in said
    assert metric(at, "ETA") not in ("—", ""), "the time to go is the run's own reckoning"
    assert at.button(key="start_sync").disabled, "no start while a run goes on"
    open_page(at, "overview")
    assert any("Waiting for QuickBooks' limit" in c for c in plain(at, "caption"))
    # (the fixture cancels the run)


@pytest.mark.parametrize(
    ("count", "noun", "text"),
    [(1, "row", "1 row"), (2, "row", "2 rows"), (1_200, "run", "1,200 runs")],
)
def test_plurals(count, noun, text):
    assert uh.plural(count, noun) == text
    assert uh.format_duration_short(75) == "1m 15s" and uh.format_duration_short(3725) == "1h 02m"
