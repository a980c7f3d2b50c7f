"""Applicant to student (issue 11): when an applicant enrols (their ``reg_no`` is a student's),
the link is shown, and SYNC_STUDENT_CUSTOMER decides what the student's customer is:
``separate`` (the seed's behaviour: a customer of their own, named per the clash rules) or
``continue`` (the applicant's customer carries on: one customer per person).

The identity rules first (pure), then whole runs on the demo MIS and the legacy MIS, on SQLite
and MariaDB, against the simulator over HTTP.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from conftest import legacy_customers, load_legacy_mis, repair_planted_failures, update_record
from test_mapping import LOOKUPS
from test_mapping import STUDENT as STUDENT_ROW

from qbo_simulator import QuickBooksSimulator, SimulatorConfig
from sync_core.database import create_db_engine
from sync_core.domain.access import Actor, Role
from sync_core.domain.enrolment import describe_link, waits_for_counterpart
from sync_core.domain.identity import Verdict, identify, parse_notes
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.mapping import MappingOptions, map_applicant, map_student
from sync_core.domain.statuses import Outcome, RunState, Scope
from sync_core.quickbooks.client import RetryPolicy
from sync_core.service import open_service
from sync_core.service.changes import changes_summary, enrolment_pairs, link_text, preview_changes
from sync_core.sync.request import SyncRequest

WINDOW_S = 2.0
FAST_RETRY = RetryPolicy(attempts=10, initial_wait_s=0.05, max_wait_s=0.5)
REGISTRAR = Actor("Link Tester", Role.OPERATOR, "cli")
CONTINUE = MappingOptions(student_customer="continue")


# ---------------------------------------------------------------- the rules (pure)


def applicant_row(**extra):
    row = {
        "appl_Id": 77,
        "tracking_id": "TRK-77",
        "first_name": "Bob",
        "family_name": "Mugisha",
        "reg_no": "2025/BBA/004",
    }
    return {**row, **extra}


def student_row(**extra):
    return {**STUDENT_ROW, "reg_no": "2025/BBA/004", "fname": "Bob", "lname": "Mugisha", **extra}


def linked(kind, identity, qk_id=None, status=0, in_scope=True):
    key = "students" if kind is STUDENT else "applicants"
    other = {
        "row_id": 4,
        "identity": identity,
        "status": status,
        "qk_id": qk_id,
        "in_scope": in_scope,
    }
    return {"enrolment": {key: [other]}}


def test_the_link_is_mapped_both_ways_and_only_continue_carries_the_application_id():
    applicant = map_applicant(applicant_row(**linked(STUDENT, "2025/BBA/004")), LOOKUPS)
    assert applicant.enrolled_as == "2025/BBA/004" and not applicant.continues
    student = map_student(student_row(**linked(APPLICANT, "77")), LOOKUPS)
    assert student.enrolled_from == "77" and not student.continues
    assert "ApplicationID" not in student.fields  # separate: the seed's student payload
    carried = map_student(student_row(**linked(APPLICANT, "77")), LOOKUPS, CONTINUE)
    assert carried.continues and list(carried.fields)[:3] == [
        "CustomerType",
        "RegNo",
        "ApplicationID",
    ]
    assert "ApplicationID: 77" in carried.payload["Notes"]
    assert carried.placement["ApplicationID"] == "Notes"
    both = {"enrolment": {"applicants": [{"identity": "77"}, {"identity": "78"}]}}
    ambiguous = map_student(student_row(**both), LOOKUPS, CONTINUE)
    assert not ambiguous.enrolled_from and not ambiguous.continues
    assert any("2 applicants carry this RegNo" in w for w in ambiguous.warnings)


def test_one_customer_is_both_records_only_when_it_says_so():
    applicant = map_applicant(applicant_row(**linked(STUDENT, "2025/BBA/004")), LOOKUPS)
    applicants_customer = {"Id": "1", **applicant.payload}
    separate = map_student(student_row(**linked(APPLICANT, "77")), LOOKUPS)
    carried = map_student(student_row(**linked(APPLICANT, "77")), LOOKUPS, CONTINUE)
    # separate: the applicant's customer is another record's, never adopted by the student
    assert identify(applicants_customer, separate).verdict is Verdict.OTHER
    # continue: the student carries it on
    found = identify(applicants_customer, carried)
    assert found.verdict is Verdict.THIS and "carries on" in found.how
    # the customer carried on names both: the applicant still recognises it, whatever the mode
    students_customer = {"Id": "1", **carried.payload}
    assert identify(students_customer, applicant).verdict is Verdict.THIS
    assert identify(students_customer, carried).verdict is Verdict.THIS
    # ... but not another applicant, nor this applicant if the MIS links it elsewhere
    stranger = map_applicant(applicant_row(appl_Id=78, **linked(STUDENT, "2025/BBA/004")), LOOKUPS)
    assert identify(students_customer, stranger).verdict is Verdict.OTHER
    moved = map_applicant(applicant_row(**linked(STUDENT, "2025/BIT/009")), LOOKUPS)
    assert identify(students_customer, moved).verdict is Verdict.OTHER
    # another applicant's customer is never a continuing student's
    other_applicant = {
        "Id": "2",
        "Notes": "CustomerType: Applicant\nApplicationID: 78",
        "DisplayName": "Bob Mugisha",
    }
    assert identify(other_applicant, carried).verdict is Verdict.OTHER


def test_who_waits_for_the_persons_customer_under_continue():
    def student(**other):
        return map_student(student_row(**linked(APPLICANT, "77", **other)), LOOKUPS, CONTINUE)

    assert waits_for_counterpart(student(qk_id="301"), linked(APPLICANT, "77", "301"))
    assert waits_for_counterpart(student(), linked(APPLICANT, "77"))  # the applicant is pending
    failed = linked(APPLICANT, "77", status=2)
    assert not waits_for_counterpart(student(status=2), failed)  # it may never sync
    outside = linked(APPLICANT, "77", in_scope=False)
    assert not waits_for_counterpart(student(in_scope=False), outside)
    applicant = map_applicant(applicant_row(**linked(STUDENT, "2025/BBA/004")), LOOKUPS, CONTINUE)
    assert not waits_for_counterpart(applicant, linked(STUDENT, "2025/BBA/004"))
    assert waits_for_counterpart(applicant, linked(STUDENT, "2025/BBA/004", "302"))
    separate = map_student(student_row(**linked(APPLICANT, "77", "301")), LOOKUPS)
    assert not waits_for_counterpart(separate, linked(APPLICANT, "77", "301"))


def test_the_operator_reads_which_applies_before_pushing():
    applicant = map_applicant(applicant_row(**linked(STUDENT, "2025/BBA/004")), LOOKUPS)
    student = map_student(student_row(**linked(APPLICANT, "77")), LOOKUPS)
    assert "gets a customer of their own" in describe_link(applicant, "separate")
    assert "becomes the student's" in describe_link(applicant, "continue")
    assert describe_link(student, "separate").startswith("Was applicant 77.")
    assert "carries on the applicant's customer" in describe_link(student, "continue")
    assert describe_link(map_applicant(applicant_row(reg_no=None), LOOKUPS), "continue") is None


# ---------------------------------------------------------------- whole runs


@pytest.fixture
def demo_with(demo_engine, db_url, simulator, make_settings):
    services = []

    def make(mode: str):
        simulator.config.limit_window_s = WINDOW_S
        settings = make_settings(
            simulator, db_url, qbo_limit_window_s=WINDOW_S, sync_student_customer=mode
        )
        service = open_service(settings)
        repair_planted_failures(service)
        services.append(service)
        return service

    yield make
    for service in services:
        service.close()


def sync(service, scope=Scope.ALL, **kwargs):
    request = SyncRequest(scope=scope, operator=REGISTRAR.name, **kwargs)
    result = service.run_sync(request, REGISTRAR, retry=FAST_RETRY)
    assert result is not None
    return result.run


def pairs(service) -> list[dict]:
    page = enrolment_pairs(service, limit=10_000)
    assert page.total == len(page.pairs)
    return page.pairs


def customers(sim) -> dict[str, dict]:
    return {c["Id"]: c for c in sim.inspect().customers}


def assert_one_customer_per_person(service, sim):
    """Every record has exactly one customer that identifies it, and an applicant who enrolled
    shares it with their student."""
    everyone = list(customers(sim).values())
    linked_pairs = pairs(service)
    assert linked_pairs
    for pair in linked_pairs:
        assert pair["Applicant customer"] == pair["Student customer"] != "", pair
        customer = next(c for c in everyone if c["Id"] == pair["Student customer"])
        notes = parse_notes(customer["Notes"])
        assert notes["CustomerType"] == "Student" and notes["RegNo"] == pair["RegNo"]
        assert notes["ApplicationID"] == pair["ApplicationID"]
    for kind in (APPLICANT, STUDENT):
        table = service.schema.customers(kind)
        with service.mis_engine.connect() as conn:
            import sqlalchemy as sa

            rows = conn.execute(sa.select(table.row_id, table.quickbooks_id)).all()
        for row_id, qk_id in random.Random(7).sample(rows, 60) + [
            (p[f"{kind.name}_row_id"], p[f"{kind.title[:-1]} customer"]) for p in linked_pairs[:20]
        ]:
            mapped = service.record(kind, row_id).mapped
            theirs = [c["Id"] for c in everyone if identify(c, mapped).verdict is Verdict.THIS]
            assert theirs == [str(qk_id).strip()], (kind.name, row_id, theirs, qk_id)


def test_separate_gives_the_student_a_second_customer_named_per_the_clash_rules(
    demo_with, simulator
):
    service = demo_with("separate")
    run = sync(service)
    assert run.synced == 2050
    found = pairs(service)
    assert all(p["Applicant customer"] != p["Student customer"] for p in found)
    everyone = customers(simulator)
    renamed = [everyone[p["Student customer"]]["DisplayName"] for p in found]
    assert sum("(REG " in n for n in renamed) >= len(found) // 2  # the applicant held the name
    assert simulator.inspect().customer_count == 2050
    assert all(p["What applies"].startswith("two customers") for p in found)


def test_continue_leaves_one_customer_per_person(demo_with, simulator):
    service = demo_with("continue")
    before = pairs(service)
    assert all(p["What applies"].startswith("continue:") for p in before)
    summary = changes_summary(service)
    assert summary.students.waiting == len(before)  # their applicants are not synced yet
    run = sync(service)
    assert run.state is RunState.COMPLETED, run.message
    assert run.failed == 0 and run.synced == 2050
    assert simulator.inspect().customer_count == 2050 - len(before)
    continued = service.run_entries(run.id, outcome=Outcome.CONTINUED)
    assert len(continued) == len(before)
    assert "linked, not created as a second customer" in continued[0]["message"]
    assert run.updated == len(before)  # each applicant's customer brought to the student's
    assert_one_customer_per_person(service, simulator)
    after = pairs(service)
    assert all(p["What applies"].startswith("one customer") for p in after)
    again = changes_summary(service)
    assert again.overall.to_update == 0 and again.applicants.carried_on == len(before)
    # the applicant's changes no longer reach the customer: the student's record drives it
    pair = after[0]
    update_record(service, APPLICANT, pair["applicant_row_id"], phone1="0788 000 111")
    assert changes_summary(service).applicants.to_update == 0


def test_continue_when_students_are_synced_before_their_applicants(demo_with, simulator):
    service = demo_with("continue")
    expected = pairs(service)
    first = sync(service, scope=Scope.STUDENTS)
    waiting = service.run_entries(first.id)
    waits = [e for e in waiting if e["outcome"] == Outcome.WAITING]
    assert len(waits) == len(expected)  # they wait for their applicants' customers
    assert "Waits for applicant" in waits[0]["message"]
    assert simulator.inspect().customer_count == 1200 - len(expected)
    sync(service, scope=Scope.APPLICANTS)  # the applicants get their customers
    sync(service, scope=Scope.STUDENTS)  # and the students carry them on
    assert simulator.inspect().customer_count == 2050 - len(expected)
    assert_one_customer_per_person(service, simulator)


def test_continue_after_students_were_synced_separately_links_the_applicant_to_it(
    demo_with, simulator
):
    separate = demo_with("separate")
    sync(separate, scope=Scope.STUDENTS)  # students first, each a customer of their own
    service = demo_with("continue")
    expected = pairs(service)
    preview = preview_changes(service, APPLICANT, limit=100)
    carrying = [i for i in preview.items if i.why.startswith("carries on student")]
    assert len(carrying) == min(100, len(expected))
    assert carrying[0].link and "becomes the student's" in carrying[0].link
    run = sync(service)
    assert run.failed == 0
    assert simulator.inspect().customer_count == 2050 - len(expected)  # no applicant twin
    for pair in pairs(service):
        assert pair["Applicant customer"] == pair["Student customer"]
    assert_one_customer_per_person(service, simulator)


# ---------------------------------------------------------------- the legacy MIS


@pytest.fixture
def legacy(db_url, make_settings):
    sim = QuickBooksSimulator(
        SimulatorConfig(realm_id=str(9_700_000_000_000_000 + random.randrange(10**15))),
        customers=legacy_customers(),
    ).start()
    engine = create_db_engine(db_url)
    load_legacy_mis(engine)
    engine.dispose()
    services = []

    def make(mode: str):
        service = open_service(make_settings(sim, db_url, sync_student_customer=mode))
        services.append(service)
        return service

    yield make, sim
    for service in services:
        service.close()
    sim.stop()


def test_records_and_preview_show_the_link(legacy):
    make, _ = legacy
    service = make("separate")
    bob = service.record(APPLICANT, 2)
    assert bob.mapped.enrolled_as == "2025/BBA/004"
    assert link_text(service, bob.mapped).startswith("Enrolled as student 2025/BBA/004.")
    student = service.record(STUDENT, 4)
    assert student.mapped.enrolled_from == "2"
    preview = service.preview(STUDENT, limit=10)
    shown = {i.source.row_id: link_text(service, i.mapped) for i in preview.items}
    assert "SYNC_STUDENT_CUSTOMER=separate" in shown[4]
    assert shown[1] is None  # Eric never applied through this MIS
    assert make("continue").settings.describe()["Student customer"].startswith("continue")


def test_the_earlier_systems_applicant_customer_is_carried_on_by_its_student(legacy):
    make, sim = legacy
    service = make("continue")
    sim.edit_customer("301", Balance=25000.0)  # Bob's applicant customer, with a balance
    run = sync(service, retry_failed=True)
    assert run.state is RunState.COMPLETED, run.message
    assert service.record(STUDENT, 4).source.qk_id == "301"
    bob = customers(sim)["301"]
    notes = parse_notes(bob["Notes"])
    assert (notes["CustomerType"], notes["RegNo"], notes["ApplicationID"]) == (
        "Student",
        "2025/BBA/004",
        "2",
    )
    assert bob["DisplayName"] == "Bob Mugisha" and bob["Balance"] == 25000.0
    assert len(customers(sim)) == 4 + 4  # five records had none; Bob's student is not one
    assert (
        Counter(c["DisplayName"].casefold() for c in customers(sim).values()).most_common(1)[0][1]
        == 1
    )
