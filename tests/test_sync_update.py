"""Updates of synced records (issue 11): change detection, sparse updates of mapped fields only,
5010 recovered, gone and inactive customers reported, names by the clash rules, the earlier
integration's customers brought to the product's shape. On the demo MIS and the legacy MIS, on
SQLite and MariaDB, against the simulator over HTTP; finance's own edits are made in the
simulator as finance staff would (``sim.edit_customer``).

QuickBooks' limits are kept (500 requests and 40 batches per window, 10 at a time) but the
window is shrunk from 60 s to 2 s on both sides, so a full run takes seconds.
"""

from __future__ import annotations

import json
import random

import pytest
import sqlalchemy as sa
from conftest import legacy_customers, load_legacy_mis, repair_planted_failures, update_record

from qbo_simulator import QuickBooksSimulator, SimulatorConfig
from sync_core.database import create_db_engine
from sync_core.domain.access import Actor, Role
from sync_core.domain.identity import parse_notes
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import Outcome, RunState, Scope, SyncStatus
from sync_core.quickbooks.client import RetryPolicy
from sync_core.service import open_service
from sync_core.service.changes import changes_summary, preview_changes
from sync_core.service.updates import update_record as push_update
from sync_core.store.sent import record_sent
from sync_core.sync import update as update_stage
from sync_core.sync.request import SyncRequest

WINDOW_S = 2.0
FAST_RETRY = RetryPolicy(attempts=10, initial_wait_s=0.05, max_wait_s=0.5)
REGISTRAR = Actor("Update Tester", Role.OPERATOR, "cli")


@pytest.fixture
def ctx(demo_engine, db_url, simulator, make_settings):
    simulator.config.limit_window_s = WINDOW_S
    service = open_service(make_settings(simulator, db_url, qbo_limit_window_s=WINDOW_S))
    repair_planted_failures(service)
    yield service
    service.close()


def sync(service, scope=Scope.ALL, **kwargs):
    request = SyncRequest(scope=scope, operator=REGISTRAR.name, **kwargs)
    result = service.run_sync(request, REGISTRAR, retry=FAST_RETRY)
    assert result is not None
    return result.run


def customers(sim) -> dict[str, dict]:
    return {c["Id"]: c for c in sim.inspect().customers}


def qk_id(service, kind, row_id) -> str:
    detail = service.record(kind, row_id)
    assert detail is not None and detail.source.qk_id
    return detail.source.qk_id


def batch_posts(sim, since: int) -> list:
    return [r for r in sim.inspect().requests[since:] if r.path.endswith("/batch")]


def single_posts(sim, since: int) -> list:
    """Updates sent one by one, beside the batches (in the requests batches leave)."""
    requests = sim.inspect().requests[since:]
    return [r for r in requests if r.path.endswith("/customer") and r.method == "POST"]


def reads(sim, since: int) -> list:
    return [r for r in sim.inspect().requests[since:] if r.path.endswith("/query")]


# ---------------------------------------------------------------- change detection


def test_change_detection_finds_exactly_the_changed_records(ctx, simulator):
    first = sync(ctx)
    assert first.synced == 2050 and first.failed == 0
    summary = changes_summary(ctx)
    assert summary.overall.synced == 2050
    assert summary.overall.unchanged == 2050 and summary.overall.to_update == 0

    update_record(ctx, APPLICANT, 3, phone1="0788 555 001")
    update_record(ctx, APPLICANT, 8, email1="new.address@example.org", family_name="Mukamana")
    update_record(ctx, APPLICANT, 9, phone1=None)  # removed in the MIS: cleared in QuickBooks
    update_record(ctx, STUDENT, 11, fname="Renamed")
    e164 = ctx.record(APPLICANT, 12).mapped.payload["PrimaryPhone"]["FreeFormNumber"]
    spaced = f"{e164[:4]} {e164[4:7]} {e164[7:10]} {e164[10:]}"
    update_record(ctx, APPLICANT, 12, phone1=spaced)  # the same number spelt otherwise
    summary = changes_summary(ctx)
    assert (summary.applicants.changed, summary.students.changed) == (3, 1)
    assert summary.overall.unchanged == 2046

    preview = preview_changes(ctx, APPLICANT, limit=10)
    assert preview.total == 3 and [i.row_id for i in preview.items] == [3, 8, 9]
    assert preview.read_calls == 0  # compared with what was last sent: no QuickBooks read
    by_row = {i.row_id: i for i in preview.items}
    phone = by_row[3].changes
    assert [(c.field, c.after) for c in phone] == [("PrimaryPhone", "+250788555001")]
    assert phone[0].before.startswith("+250") and phone[0].before != "+250788555001"
    assert {c.field for c in by_row[8].changes} == {
        "DisplayName",
        "FamilyName",
        "PrimaryEmailAddr",
    }
    assert [(c.field, c.after, c.kind) for c in by_row[9].changes] == [
        ("PrimaryPhone", "", "removed")
    ]
    assert by_row[8].compared_with == "what was last sent"
    students = preview_changes(ctx, STUDENT)
    assert [(c.field, c.before != c.after) for c in students.items[0].changes] == [
        ("DisplayName", True),
        ("GivenName", True),
    ]


def test_the_preview_shows_the_same_warnings_as_a_create(ctx, simulator):
    sync(ctx, scope=Scope.APPLICANTS)
    update_record(ctx, APPLICANT, 5, email1="john@", camp_id="99")
    item = preview_changes(ctx, APPLICANT).items[0]
    assert item.row_id == 5
    create_warnings = set(ctx.record(APPLICANT, 5).mapped.warnings)
    assert set(item.warnings) == create_warnings
    assert any("not an address" in w for w in item.warnings)
    assert any("campus" in w.lower() and "99" in w for w in item.warnings)
    assert ("Campus", "99") in [(c.field, c.after) for c in item.changes]


# ---------------------------------------------------------------- updates


def test_an_update_changes_only_mapped_fields_and_leaves_finances_alone(ctx, simulator):
    sync(ctx, scope=Scope.APPLICANTS)
    cid = qk_id(ctx, APPLICANT, 3)
    before = simulator.get_customer(cid)
    # finance at work in QuickBooks: balance, address, terms, company name, their own note
    simulator.edit_customer(
        cid,
        Balance=120.5,
        BillAddr={"Line1": "KN 5 Rd", "City": "Kigali"},
        ShipAddr={"Line1": "PO Box 12", "City": "Huye"},
        CompanyName="Sponsor: Bank of Kigali",
        SalesTermRef={"value": "3"},
        Notes=before["Notes"] + "\nPaid by sponsor until 2026",
    )
    update_record(ctx, APPLICANT, 3, phone1="0788 555 001", camp_id="2")
    run = sync(ctx, scope=Scope.UPDATES)
    assert run.state is RunState.COMPLETED and (run.updated, run.failed) == (1, 0)
    assert run.unchanged == 849 and run.synced == 0  # scope "updates" creates nothing
    after = simulator.get_customer(cid)
    assert after["PrimaryPhone"] == {"FreeFormNumber": "+250788555001"}
    assert parse_notes(after["Notes"])["Campus"] != parse_notes(before["Notes"])["Campus"]
    assert after["Notes"].endswith("\nPaid by sponsor until 2026")  # finance's line kept
    for untouched in ("Balance", "BillAddr", "ShipAddr", "CompanyName", "SalesTermRef"):
        assert after[untouched] == simulator_value(untouched), untouched
    for same in ("DisplayName", "GivenName", "FamilyName", "PrimaryEmailAddr"):
        assert after.get(same) == before.get(same), same
    assert int(after["SyncToken"]) == int(before["SyncToken"]) + 2  # finance's edit, then ours
    assert len(customers(simulator)) == 850  # an update never creates
    entries = ctx.run_entries(run.id, outcome=Outcome.UPDATED)
    assert [(e["row_id"], e["message"]) for e in entries] == [
        (3, f"Updated customer {cid} (changed): PrimaryPhone, Campus.")
    ]
    # the MIS holds the new SyncToken; a second run finds nothing to send
    assert changes_summary(ctx).applicants.changed == 0
    again = sync(ctx, scope=Scope.UPDATES)
    assert (again.updated, again.unchanged) == (0, 850)


def simulator_value(name):
    return {
        "Balance": 120.5,
        "BillAddr": {"Line1": "KN 5 Rd", "City": "Kigali"},
        "ShipAddr": {"Line1": "PO Box 12", "City": "Huye"},
        "CompanyName": "Sponsor: Bank of Kigali",
        "SalesTermRef": {"value": "3"},
    }[name]


def test_updates_go_30_to_a_batch_the_rest_alone_with_requestids_and_one_read_per_1000(
    ctx, simulator
):
    sync(ctx)
    changed = random.Random(3).sample(range(1, 851), 65)
    table = ctx.schema.applicants
    with ctx.mis_engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id.in_(changed))
            .values({table.table.c.email1: "new.mail@example.org"})
        )
    start = len(simulator.inspect().requests)
    run = sync(ctx, include_updates=True)
    assert (run.updated, run.unchanged, run.failed) == (65, 1985, 0)
    batches = batch_posts(simulator, start)
    assert len(batches) == 2  # 30 + 30, the singles' share (about a quarter) alone
    assert all(len(b.requestid) <= 36 and b.requestid.startswith("u-") for b in batches)
    singles = single_posts(simulator, start)
    assert len(singles) == 5
    assert all(len(r.requestid) <= 50 and r.requestid.startswith("us-") for r in singles)
    assert len({r.requestid for r in singles}) == 5
    assert len(reads(simulator, start)) == 1  # the 65 customers in one query
    mails = [c.get("PrimaryEmailAddr", {}).get("Address") for c in customers(simulator).values()]
    assert mails.count("new.mail@example.org") == 65


def test_a_stale_synctoken_is_read_again_and_the_change_applied_once_more(
    ctx, simulator, monkeypatch
):
    sync(ctx, scope=Scope.STUDENTS)
    cid = qk_id(ctx, STUDENT, 21)
    original = update_stage.read_customers
    edited = []

    def read_then_finance_edits(client, ids, context=None):
        found = original(client, ids, context)
        if cid in found and not edited:  # finance saves the customer just after our read
            notes = found[cid]["Notes"] + "\nScholarship"
            edited.append(simulator.edit_customer(cid, Balance=75.0, Notes=notes))
        return found

    monkeypatch.setattr(update_stage, "read_customers", read_then_finance_edits)
    update_record(ctx, STUDENT, 21, phone1="0788 777 021")
    start = len(simulator.inspect().requests)
    run = sync(ctx, scope=Scope.UPDATES)
    assert (run.updated, run.failed) == (1, 0)
    after = simulator.get_customer(cid)
    assert after["PrimaryPhone"]["FreeFormNumber"] == "+250788777021"
    assert after["Balance"] == 75.0
    # finance's edit survived our re-applied change (which sends the phone only)
    assert after["Notes"].endswith("\nScholarship") and "RegNo: " in after["Notes"]
    assert int(after["SyncToken"]) == int(edited[0]["SyncToken"]) + 1
    # one update goes alone: the 5010, then the re-applied update
    assert len(single_posts(simulator, start)) == 2 and batch_posts(simulator, start) == []
    audit = [a for a in ctx.audit.recent(50) if a["operation"] == "customer.update"]
    assert any(a["error_code"] == "5010" for a in audit)


def test_gone_or_inactive_customers_are_reported_never_recreated_or_reactivated(ctx, simulator):
    sync(ctx, scope=Scope.APPLICANTS)
    inactive = qk_id(ctx, APPLICANT, 4)
    simulator.deactivate_customer(inactive)
    update_record(ctx, APPLICANT, 4, phone1="0788 555 004")
    update_record(ctx, APPLICANT, 6, qk_id="999999", phone1="0788 555 006")  # merged away
    count = len(customers(simulator))
    run = sync(ctx, scope=Scope.UPDATES)
    assert run.state is RunState.COMPLETED_WITH_ERRORS
    assert (run.updated, run.failed) == (0, 2)
    failed = {e["row_id"]: e for e in ctx.run_entries(run.id, outcome=Outcome.FAILED)}
    assert "made inactive in QuickBooks: not updated, not re-activated" in failed[4]["message"]
    assert "no longer in QuickBooks (deleted or merged): not re-created" in failed[6]["message"]
    assert all("Reconcile" in e["hint"] for e in failed.values())
    assert simulator.get_customer(inactive)["Active"] is False
    assert len(customers(simulator)) == count
    detail = ctx.record(APPLICANT, 6)
    assert detail.is_synced and "not re-created" in detail.last_error  # still linked, told why


def test_a_display_name_change_follows_the_clash_rules(ctx, simulator):
    sync(ctx, scope=Scope.APPLICANTS)
    taken = simulator.get_customer(qk_id(ctx, APPLICANT, 2))["DisplayName"]
    first, _, family = taken.partition(" ")
    update_record(ctx, APPLICANT, 7, first_name=first, family_name=family, middlename=None)
    update_record(ctx, APPLICANT, 10, first_name="Kigali Office", family_name="Supplies Ltd")
    run = sync(ctx, scope=Scope.UPDATES)
    assert (run.updated, run.failed, run.renamed) == (2, 0, 2)
    assert simulator.get_customer(qk_id(ctx, APPLICANT, 7))["DisplayName"] == f"{taken} (APP 7)"
    vendor = simulator.get_customer(qk_id(ctx, APPLICANT, 10))["DisplayName"]
    assert vendor == "Kigali Office Supplies Ltd (APP 10)"  # a vendor's name: 6240, then this
    messages = [e["message"] for e in ctx.run_entries(run.id, outcome=Outcome.UPDATED)]
    assert any("is taken" in m for m in messages)
    # compared on the real name: the distinct form is no change
    assert changes_summary(ctx).applicants.changed == 0


def test_records_synced_before_change_tracking_are_first_compared_with_quickbooks(ctx, simulator):
    sync(ctx)
    with ctx.store_engine.begin() as conn:  # as a database upgraded to this version has it
        conn.execute(record_sent.delete())
    summary = changes_summary(ctx)
    assert summary.overall.not_compared == 2050 and summary.overall.changed == 0
    drifted = qk_id(ctx, STUDENT, 30)
    simulator.edit_customer(drifted, PrimaryPhone="0722 000 000", Balance=10.0)
    preview = preview_changes(ctx, STUDENT, limit=5, offset=25)
    assert preview.read_calls == 1 and preview.items[0].compared_with.startswith("the customer")
    start = len(simulator.inspect().requests)
    run = sync(ctx, scope=Scope.UPDATES)
    assert (run.updated, run.unchanged, run.failed) == (1, 2049, 0)
    assert len(reads(simulator, start)) == 3  # 850 applicants: 1 read; 1,200 students: 2
    after = simulator.get_customer(drifted)
    assert after["PrimaryPhone"]["FreeFormNumber"] != "0722 000 000"  # the MIS's again
    assert after["Balance"] == 10.0
    assert changes_summary(ctx).overall.unchanged == 2050  # every record compared now


def test_one_record_is_updated_on_its_own(ctx, simulator):
    sync(ctx, scope=Scope.APPLICANTS)
    update_record(ctx, APPLICANT, 15, email1="one.change@example.org")
    update_record(ctx, APPLICANT, 16, email1="not.sent.yet@example.org")
    outcome = push_update(ctx, APPLICANT, 15, REGISTRAR)
    assert outcome.status == "synced" and "updated" in outcome.message
    mails = {
        c["Id"]: c.get("PrimaryEmailAddr", {}).get("Address") for c in customers(simulator).values()
    }
    assert mails[qk_id(ctx, APPLICANT, 15)] == "one.change@example.org"
    assert mails[qk_id(ctx, APPLICANT, 16)] != "not.sent.yet@example.org"
    assert changes_summary(ctx).applicants.changed == 1


def test_bad_input_fails_one_record_not_the_run(ctx, simulator):
    sync(ctx, scope=Scope.STUDENTS)
    update_record(ctx, STUDENT, 40, reg_no=" ")  # the RegNo blanked by mistake
    update_record(ctx, STUDENT, 41, fname="Ok", lname="Changed")
    cid = qk_id(ctx, STUDENT, 42)
    simulator.edit_customer(cid, Notes="x" * 1990)  # finance filled the Notes to the brim
    gender = ctx.record(STUDENT, 42).mapped.fields["Gender"]
    update_record(ctx, STUDENT, 42, phone1="0788 000 042", sex="M" if gender == "Female" else "F")
    run = sync(ctx, scope=Scope.UPDATES)
    failed = {e["row_id"]: e for e in ctx.run_entries(run.id, outcome=Outcome.FAILED)}
    assert set(failed) == {40, 42}
    assert "RegNo is empty" in failed[40]["message"]
    assert "would be" in failed[42]["message"] and "not updated" in failed[42]["message"]
    assert run.updated == 1 and run.state is RunState.COMPLETED_WITH_ERRORS
    assert simulator.get_customer(cid)["Notes"] == "x" * 1990  # finance's text never lost


# ---------------------------------------------------------------- the earlier integration


@pytest.fixture
def legacy(db_url, make_settings):
    sim = QuickBooksSimulator(
        SimulatorConfig(realm_id=str(9_600_000_000_000_000 + random.randrange(10**15))),
        customers=legacy_customers(),
    ).start()
    engine = create_db_engine(db_url)
    load_legacy_mis(engine)
    engine.dispose()
    service = open_service(make_settings(sim, db_url))
    yield service, sim
    service.close()
    sim.stop()


def test_earlier_system_customers_are_brought_to_the_products_shape(legacy):
    service, sim = legacy
    sim.edit_customer("301", Balance=50000.0)
    first = sync(service, retry_failed=True)
    assert first.state is RunState.COMPLETED
    summary = changes_summary(service)
    # applicant 4, left at 3 by the earlier system, was adopted now: its customer (303) as it
    # was is what was "sent"; applicant 2 (301) and student 2 (302), linked by the earlier
    # system, were never compared: the Preview reads their customers
    assert (summary.applicants.changed, summary.applicants.earlier_shape) == (1, 1)
    assert summary.applicants.not_compared == 1 and summary.students.not_compared == 1
    preview = preview_changes(service, APPLICANT)
    assert preview.total == 2 and preview.read_calls == 1
    bob = next(i for i in preview.items if i.row_id == 2)
    assert bob.compared_with == "the customer in QuickBooks now"
    dan = next(i for i in preview.items if i.row_id == 4)
    assert ("DisplayName", "25004", "Dan Habimana") in [
        (c.field, c.before, c.after) for c in dan.changes
    ]
    changes = {c.field: (c.before, c.after) for c in bob.changes}
    assert changes["DisplayName"] == ("25002", "Bob Mugisha")
    assert changes["CustomerType"] == ("", "Applicant")
    assert changes["ApplicationID"] == ("", "2")
    run = sync(service, scope=Scope.UPDATES)
    assert (run.updated, run.failed) == (3, 0)
    everyone = customers(sim)
    bob = everyone["301"]
    # the student Bob Mugisha became holds the real name: the applicant's is made distinct
    assert bob["DisplayName"] == "Bob Mugisha (APP 2)"
    assert parse_notes(bob["Notes"])["ApplicationID"] == "2"
    assert "Applicant synchronized from MIS" not in bob["Notes"]  # the earlier mark replaced
    assert bob["Balance"] == 50000.0 and bob["CompanyName"] == "Bob Mugisha"
    fiona = everyone["302"]
    assert fiona["DisplayName"] == "Fiona Keza" and parse_notes(fiona["Notes"])["RegNo"] == (
        "2024/BBA/002"
    )
    legacy_fields = {f["DefinitionId"] for f in fiona["CustomField"]}
    assert legacy_fields == {"1000000001", "1000000002"}  # finance's custom fields untouched
    assert len(everyone) == 9  # nothing created by the updates
    assert changes_summary(service).overall.to_update == 0


def test_scope_updates_sends_nothing_new(ctx, simulator):
    run = sync(ctx, scope=Scope.UPDATES)
    assert (run.planned, run.synced, run.updated) == (0, 0, 0)
    assert simulator.inspect().customer_count == 0
    with ctx.mis_engine.connect() as conn:
        table = ctx.schema.applicants
        synced = conn.execute(
            sa.select(sa.func.count()).where(table.status == int(SyncStatus.SYNCED))
        ).scalar_one()
    assert synced == 0
    assert json.dumps(changes_summary(ctx).as_dict())  # serialisable for --json and the API
