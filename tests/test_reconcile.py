"""Reconciliation (issue 11): every QuickBooks customer read once (1,000 per read call) and set
against every MIS record; twins, orphans (earlier-system customers included), drift, missing,
inactive and wrong links classified exactly; actions planned, confirmed and audited; nothing
deleted or merged. On the legacy MIS with the earlier integration's customers preloaded, on
SQLite and MariaDB, against the simulator over HTTP; finance's edits are made in the simulator.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import legacy_customers, load_legacy_mis

from qbo_simulator import QuickBooksSimulator, SimulatorConfig
from sync_core.database import create_db_engine
from sync_core.domain.access import Actor, PermissionDenied, Role
from sync_core.domain.errors import InvalidRequest
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import Scope, SyncStatus
from sync_core.quickbooks.client import RetryPolicy
from sync_core.service import open_service
from sync_core.service.changes import changes_summary
from sync_core.service.reconcile import (
    Category,
    link_customer,
    mark_for_repush,
    read_every_customer,
    reconcile,
    twins_csv,
)
from sync_core.sync.request import SyncRequest

FAST_RETRY = RetryPolicy(attempts=8, initial_wait_s=0.05, max_wait_s=0.5)
FINANCE = Actor("Finance Reconciler", Role.OPERATOR, "dashboard")
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sync(service, scope=Scope.ALL, **kwargs):
    request = SyncRequest(scope=scope, operator=FINANCE.name, **kwargs)
    result = service.run_sync(request, FINANCE, retry=FAST_RETRY)
    assert result is not None
    return result.run


def add_applicant(service, row_id: int, tracking: str, first: str, family: str, **values):
    with service.mis_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tbl_online_application (appl_Id, tracking_id, first_name, "
                "family_name, QuickBk_status, quickbooks_id) VALUES (:id, :t, :f, :l, :s, :q)"
            ),
            {
                "id": row_id,
                "t": tracking,
                "f": first,
                "l": family,
                "s": values.get("status", 0),
                "q": values.get("qk_id"),
            },
        )


@pytest.fixture
def company(db_url, make_settings):
    """The legacy MIS, synced and brought to the product's shape, then the world as finance
    and the earlier integration left it."""
    sim = QuickBooksSimulator(
        SimulatorConfig(realm_id=str(9_800_000_000_000_000 + random.randrange(10**15))),
        customers=legacy_customers(),
    ).start()
    engine = create_db_engine(db_url)
    load_legacy_mis(engine)
    engine.dispose()
    service = open_service(make_settings(sim, db_url))
    sync(service, retry_failed=True)
    sync(service, scope=Scope.UPDATES)  # the earlier system's customers in the product's shape
    ids = {
        (kind.name, row_id): service.record(kind, row_id).source.qk_id
        for kind, row_id in [(APPLICANT, r) for r in (1, 2, 3, 4)]
        + [(STUDENT, r) for r in (1, 2, 3, 4)]
    }
    # drift: finance changed Eric's phone in QuickBooks
    sim.edit_customer(ids["student", 1], PrimaryPhone="+250722000001", Balance=30.0)
    # inactive: Gad's customer made inactive (as deleting one in QuickBooks does)
    sim.deactivate_customer(ids["student", 3])
    # missing: the MIS holds an Id QuickBooks no longer has (Carol's real customer is then an
    # orphan: it identifies her, and she is not linked to it)
    with service.mis_engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE tbl_online_application SET quickbooks_id = '999999' WHERE appl_Id = 3")
        )
    # twins: somebody created Alice a second customer by hand from the product's Notes
    alice = sim.get_customer(ids["applicant", 1])
    twin = {k: alice[k] for k in ("GivenName", "FamilyName", "Notes")}
    sim.load_customers([{**twin, "DisplayName": "Alice Uwase - second", "Balance": 100.0}])
    # an orphan of the earlier system's shape: applicant 5 was never synced here, its customer
    # exists (named after its tracking id, with the earlier Notes)
    add_applicant(service, 5, "25005", "Eve", "Mutesi")
    sim.load_customers(
        [
            {
                "DisplayName": "25005",
                "GivenName": "Eve",
                "FamilyName": "Mutesi",
                "Notes": "Applicant synchronized from MIS - Tracking ID: 25005",
                "Balance": 15000.0,
            },
            {"DisplayName": "Ghost", "Notes": "CustomerType: Applicant\nApplicationID: 9999"},
        ]
    )
    # synced without an Id, and no customer is it
    add_applicant(service, 6, "25006", "Frank", "Gasana", status=1)
    # a wrong link: the MIS says applicant 7's customer is Eric's (a student's)
    add_applicant(service, 7, "25007", "Grace", "Umutoni", status=1, qk_id=ids["student", 1])
    yield service, sim, ids
    service.close()
    sim.stop()


def listed(report, category):
    return {(f.kind, f.row_id) for f in report.findings[category]}


def test_every_record_and_customer_is_classified(company):
    service, sim, ids = company
    report = reconcile(service)
    assert report.customers_read == 9 + 3 and report.read_calls == 1  # one request for all
    assert report.records_read == 7 + 4
    assert report.counts == {
        Category.MATCHING: 5,  # applicants 1, 2, 4; students 2, 4
        Category.DRIFTED: 1,
        Category.MISSING: 1,
        Category.INACTIVE: 1,
        Category.MISLINKED: 1,
        Category.CARRIED_ON: 0,
        Category.NO_ID: 1,
        Category.ORPHAN: 2,
        Category.TWINS: 1,
    }
    assert (report.not_ours, report.unknown_records) == (1, 1)  # the walk-in; the ghost
    assert listed(report, Category.DRIFTED) == {("student", 1)}
    drift = report.findings[Category.DRIFTED][0]
    assert [(c.field, c.before) for c in drift.changes] == [("PrimaryPhone", "+250722000001")]
    assert listed(report, Category.MISSING) == {("applicant", 3)}
    assert report.findings[Category.MISSING][0].action == "re-link"  # her customer exists
    assert listed(report, Category.INACTIVE) == {("student", 3)}
    wrong = report.findings[Category.MISLINKED][0]
    assert (wrong.kind, wrong.row_id) == ("applicant", 7) and "student 2024/BIT/001" in wrong.detail
    assert listed(report, Category.NO_ID) == {("applicant", 6)}
    orphans = {(f.kind, f.row_id): f for f in report.findings[Category.ORPHAN]}
    assert set(orphans) == {("applicant", 3), ("applicant", 5)}
    assert orphans["applicant", 3].customers[0].id == ids["applicant", 3]
    assert orphans["applicant", 5].customers[0].display_name == "25005"
    assert orphans["applicant", 5].action == "link"
    twins = report.findings[Category.TWINS][0]
    assert (twins.kind, twins.row_id) == ("applicant", 1)
    assert sorted((c.display_name, c.balance, c.linked) for c in twins.customers) == [
        ("Alice Uwase (APP 1)", 0.0, True),
        ("Alice Uwase - second", 100.0, False),
    ]
    rows = list(csv.DictReader(io.StringIO(twins_csv(report))))
    assert [(r["Customer DisplayName"], r["Balance"]) for r in rows] == [
        ("Alice Uwase (APP 1)", "0.00"),
        ("Alice Uwase - second", "100.00"),
    ]
    assert json.dumps(report.as_dict(), default=str)
    assert len(sim.inspect().customers) == 12  # nothing deleted, merged or created


def test_actions_are_verified_confirmed_and_audited(company):
    service, sim, ids = company
    orphan = next(c["Id"] for c in sim.inspect().customers if c["DisplayName"] == "25005")
    plan = link_customer(service, APPLICANT, 5, orphan, FINANCE)
    assert not plan.done and "will be linked to customer" in plan.message
    assert service.record(APPLICANT, 5).source.qk_id is None  # a plan changes nothing
    done = link_customer(service, APPLICANT, 5, orphan, FINANCE, confirm=True)
    assert done.done and service.record(APPLICANT, 5).source.qk_id == orphan
    trail = service.audit.trail("applicant", 5)
    assert trail[0]["operation"] == "reconcile.link" and trail[0]["actor"] == FINANCE.name
    assert orphan in trail[0]["detail"] and "Eve" not in trail[0]["detail"]
    # re-link Carol to her real customer, away from the Id QuickBooks does not have
    relinked = link_customer(service, APPLICANT, 3, ids["applicant", 3], FINANCE, confirm=True)
    assert relinked.action == "re-link" and "instead of customer 999999" in relinked.message
    # refused: a customer that is somebody else's, one identifying nobody, an inactive one
    with pytest.raises(InvalidRequest, match="student 2024/BBA/002"):
        link_customer(service, APPLICANT, 6, ids["student", 2], FINANCE)
    with pytest.raises(InvalidRequest, match="carries neither this record's identity"):
        link_customer(service, APPLICANT, 6, "304", FINANCE)
    with pytest.raises(InvalidRequest, match="inactive"):
        link_customer(service, STUDENT, 3, ids["student", 3], FINANCE)
    with pytest.raises(PermissionDenied):
        link_customer(service, APPLICANT, 6, "304", Actor("Viewer", Role.VIEWER))
    # re-push: drift goes back at the next update; an inactive customer is not re-activated
    with pytest.raises(InvalidRequest, match="not re-activated"):
        mark_for_repush(service, STUDENT, 3, FINANCE, confirm=True)
    assert mark_for_repush(service, STUDENT, 1, FINANCE, confirm=True).done
    assert changes_summary(service).students.marked == 1
    # re-push of a record synced without an Id: back to not synced, created by the next sync
    repush = mark_for_repush(service, APPLICANT, 6, FINANCE, confirm=True)
    assert "goes back to not synced" in repush.message
    run = sync(service, include_updates=True)
    assert run.updated >= 1 and run.synced == 1
    eric = sim.get_customer(ids["student", 1])
    assert eric["PrimaryPhone"]["FreeFormNumber"] != "+250722000001" and eric["Balance"] == 30.0
    after = reconcile(service)
    assert after.counts[Category.DRIFTED] == 0 and after.counts[Category.NO_ID] == 0
    assert after.counts[Category.ORPHAN] == 0 and after.counts[Category.MISSING] == 0
    assert after.counts[Category.TWINS] == 1  # finance's to merge: never the product's
    statuses = {r: service.record(APPLICANT, r).status for r in (3, 5, 6)}
    assert set(statuses.values()) == {SyncStatus.SYNCED}


def test_records_synced_before_change_tracking_get_their_customer_as_baseline(company):
    service, sim, ids = company
    from sync_core.store.sent import record_sent

    with service.store_engine.begin() as conn:
        conn.execute(record_sent.delete())
    assert changes_summary(service).overall.not_compared == 9  # every record with an Id
    report = reconcile(service)
    # linked to a customer found and theirs (active or not): all but the missing one and the
    # one linked to somebody else's customer
    assert report.baselines_remembered == 7
    summary = changes_summary(service)
    assert summary.overall.not_compared == 2
    assert summary.students.changed == 1  # Eric: finance's phone stands for "last sent"


def test_reading_every_customer_costs_one_call_per_thousand(simulator, make_settings, db_url):
    """2,500 customers: 3 read calls (the first also counts them); exactly 2,000: 2, not 3."""
    from sync_core.service.facade import SyncService
    from sync_core.store.setup import ensure_tables

    engine = create_db_engine(db_url)
    ensure_tables(engine)  # the product's own tables: the connection is kept there
    service = SyncService(make_settings(simulator, db_url), engine, engine)
    client = service.client()
    for count, calls in ((2500, 3), (2000, 2), (999, 1)):
        simulator.reset()
        simulator.load_customers([{"DisplayName": f"Customer {n}"} for n in range(count)])
        seen: list[str] = []
        used, read = read_every_customer(
            client, lambda page, seen=seen: seen.extend(c["Id"] for c in page)
        )
        assert (used, read) == (calls, count)
        assert len(set(seen)) == count
    engine.dispose()


def test_the_command_line_reconciles_with_json_and_csv(company, tmp_path):
    service, sim, _ = company
    target = tmp_path / "twins.csv"
    settings = service.settings
    env = {
        **os.environ,
        "PYTHONPATH": PROJECT_ROOT,
        "MIS_DATABASE_URL": settings.database_url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": sim.base_url,
        "QBO_DISCOVERY_URL": sim.discovery_url,
        "QBO_TOKEN_KEY": settings.qbo_token_key.reveal(),
        "SYNC_DATA_DIR": str(settings.data_dir),
    }
    service.connection_status()  # connected and stored before the child starts

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "sync_core", *args],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = cli("reconcile", "--json", "--csv", str(target))
    assert done.returncode == 1, done.stderr  # findings to look at
    data = json.loads(done.stdout)["data"]
    assert data["counts"]["twins"] == 1 and data["read_calls"] == 1
    assert "Alice Uwase - second" in target.read_text(encoding="utf-8")
    text = cli("reconcile")
    assert "12 customers read in 1 read calls" in text.stdout
    assert "Nothing is deleted or merged by the product" in text.stdout
    plan = cli("reconcile-repush", "--student", "2024/BIT/001", "--operator", "Finance")
    assert plan.returncode == 0 and "Add --yes to do it." in plan.stdout
    yes = cli("reconcile-repush", "--student", "2024/BIT/001", "--operator", "Finance", "--yes")
    assert yes.returncode == 0 and "Add --yes" not in yes.stdout
    updates = cli("updates", "--operator", "Finance")
    assert updates.returncode in (0, 1), updates.stderr
    assert "Updated: " in updates.stdout
    changes = cli("changes", "--kind", "students", "--json")
    assert json.loads(changes.stdout)["data"]["students"]["marked"] == 0
    analyzed = cli("analyze", "--json")
    assert analyzed.returncode == 0, analyzed.stderr
    assert json.loads(analyzed.stdout)["data"]["changes"]["overall"]["synced"] == 9
    assert "CHANGED IN THE MIS SINCE PUSHED" in cli("analyze").stdout
