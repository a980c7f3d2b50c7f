"""Stage 3, look before sending: is this record already a customer in QuickBooks?

Asked only when it may be: the MIS holds a QuickBooks Id for the record, or an earlier attempt's
answer never came back. By Id, the customer must be this record (its identity, or at least the
person's name; inactive customers count): an Id pointing at somebody else's customer is a
conflict, never a link. By name a customer counts only when it identifies this very record
(the product's Notes or the earlier integration's shapes), never on the name alone.
Against the QuickBooks simulator over HTTP; the database (SQLite) only supplies the records.
"""

from __future__ import annotations

import pytest
from conftest import update_record

from sync_core.domain.kinds import APPLICANT, STUDENT, RecordRef
from sync_core.domain.names import with_distinct_name
from sync_core.quickbooks.client import RetryPolicy
from sync_core.quickbooks.ports import CallContext
from sync_core.store.record_state import Attempt
from sync_core.sync.existing import find_existing
from sync_core.sync.outcomes import Pending

FAST_RETRY = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.05)
CONTEXT = CallContext(run_id=1)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def client(context):
    return context.client(FAST_RETRY)


def record(
    context,
    row_id: int,
    first: str = "Ada",
    family: str = "Lovelace",
    *,
    kind=APPLICANT,
    unknown: bool = False,
    sent_as: str | None = None,
    prelinked: str | None = None,
) -> Pending:
    """A claimed, mapped record; ``unknown``: its earlier attempt's answer never came back."""
    names = {"first_name": first, "family_name": family}
    if kind is STUDENT:
        names = {"fname": first, "lname": family}
    update_record(context, kind, row_id, **names)
    mapped = context.record(kind, row_id).mapped
    assert mapped.sendable
    return Pending(mapped, Attempt(kind.name, row_id, 2, unknown, sent_as), prelinked)


def found_for(client, items):
    """The customers found, where no Id in the MIS pointed at somebody else's."""
    existing, conflicts = find_existing(client, items, CONTEXT)
    assert conflicts == []
    return existing


def earlier_system_customer(client, pending: Pending) -> dict:
    """What the earlier integration created for an applicant (shared/spec/mis-schema.md)."""
    tracking = pending.mapped.fields["TrackingID"]
    return client.create_customer(
        {
            "DisplayName": tracking,
            "CompanyName": pending.mapped.display_name,
            "Notes": f"Applicant synchronized from MIS - Tracking ID: {tracking}",
        }
    )


def api_calls(simulator) -> int:
    return len(simulator.inspect().requests)


def test_records_with_nothing_to_suspect_are_not_looked_up(context, client, simulator):
    ada = record(context, 201)
    client.create_customer(ada.mapped.payload)
    before = api_calls(simulator)
    assert found_for(client, [ada]) == {}
    assert api_calls(simulator) == before  # a fresh record costs no query


def test_found_by_the_quickbooks_id_the_mis_holds(context, client):
    ada = record(context, 202)
    earlier = earlier_system_customer(client, ada)
    ada = record(context, 202, prelinked=str(earlier["Id"]))
    found = found_for(client, [ada])
    assert found[ada.ref]["Id"] == earlier["Id"]


def test_an_id_pointing_at_a_customer_with_only_the_persons_name_is_linked(context, client):
    earlier = client.create_customer({"DisplayName": "Ada Lovelace", "GivenName": "Ada"})
    ada = record(context, 215, prelinked=str(earlier["Id"]))
    assert found_for(client, [ada])[ada.ref]["Id"] == earlier["Id"]


def test_an_id_pointing_at_another_records_customer_is_a_conflict_never_a_link(context, client):
    """A wrong Id in the MIS once linked applicant 5 to John Doe's customer."""
    john = record(context, 216, "John", "Doe")
    johns = client.create_customer(john.mapped.payload)  # the product's customer of 216
    stranger = client.create_customer({"DisplayName": "Kigali Bakery Ltd"})
    for wrong in (johns, stranger):
        ada = record(context, 217, prelinked=str(wrong["Id"]))
        existing, conflicts = find_existing(client, [ada], CONTEXT)
        assert existing == {}
        assert [c.ref for c in conflicts] == [ada.ref]
        assert f"QuickBooks Id in the MIS ({wrong['Id']})" in conflicts[0].message
        assert "not linked" in conflicts[0].message and conflicts[0].hint
    assert (
        "applicant 216"
        in find_existing(client, [record(context, 217, prelinked=str(johns["Id"]))], CONTEXT)[1][
            0
        ].message
    )


def test_found_by_id_also_when_the_customer_is_inactive(context, client, simulator):
    earlier = earlier_system_customer(client, record(context, 203))
    simulator.deactivate_customer(earlier["Id"])
    ada = record(context, 203, prelinked=str(earlier["Id"]))
    found = found_for(client, [ada])
    assert found[ada.ref]["Id"] == earlier["Id"]
    assert found[ada.ref]["Active"] is False


def test_an_id_quickbooks_does_not_know_is_not_a_match(context, client):
    ada = record(context, 204, prelinked="999999")
    existing, conflicts = find_existing(client, [ada], CONTEXT)
    assert existing == {} and "is no customer in QuickBooks" in conflicts[0].message


def test_an_unknown_outcome_is_found_by_the_name_it_was_sent_under(context, client):
    ada = record(context, 205, unknown=True, sent_as="Ada Lovelace")
    created = client.create_customer(ada.mapped.payload)  # the answer was lost
    assert found_for(client, [ada])[ada.ref]["Id"] == created["Id"]


def test_an_unknown_outcome_is_found_under_its_distinct_name(context, client):
    ada = record(context, 206, unknown=True)
    renamed = with_distinct_name(ada.mapped)
    created = client.create_customer(renamed.payload)  # "Ada Lovelace (APP 206)"
    assert found_for(client, [ada])[ada.ref]["Id"] == created["Id"]


def test_found_by_an_earlier_attempts_name_after_the_name_changed_in_the_mis(context, client):
    """Sent as "Ada Byron"; the registrar has since corrected the MIS to "Ada Lovelace"."""
    before = record(context, 207, "Ada", "Byron")
    created = client.create_customer(before.mapped.payload)
    now_unsure = record(context, 207, "Ada", "Lovelace", unknown=True)
    # without the earlier name the look-up cannot find it ...
    assert found_for(client, [now_unsure]) == {}
    # ... with it (kept in the store when the earlier attempt was sent) it does
    remembered = record(context, 207, "Ada", "Lovelace", unknown=True, sent_as="Ada Byron")
    assert found_for(client, [remembered])[remembered.ref]["Id"] == created["Id"]


def test_a_customer_with_the_same_name_but_another_records_notes_is_not_adopted(context, client):
    namesake = record(context, 209).mapped  # applicant 209 is also "Ada Lovelace"
    client.create_customer(namesake.payload)
    client.create_customer(with_distinct_name(namesake).payload)
    client.create_customer({"DisplayName": "Ada Lovelace (APP 208)"})  # typed by hand, no Notes
    ada = record(context, 208, unknown=True, sent_as="Ada Lovelace")
    assert found_for(client, [ada]) == {}


def test_an_applicant_is_not_its_student_twin(context, client):
    """The same person as applicant and as student: two records, two customers."""
    student = record(context, 210, "Ada", "Lovelace", kind=STUDENT)
    client.create_customer(student.mapped.payload)
    applicant = record(context, 210, "Ada", "Lovelace", unknown=True, sent_as="Ada Lovelace")
    assert found_for(client, [applicant]) == {}


def test_a_step_of_records_is_looked_up_together(context, client, simulator):
    by_id = earlier_system_customer(client, record(context, 212))
    lost = record(context, 211, "Grace", "Hopper", unknown=True, sent_as="Grace Hopper")
    lost_customer = client.create_customer(lost.mapped.payload)
    step = [
        record(context, 212, prelinked=str(by_id["Id"])),  # the earlier integration's
        lost,
        record(context, 213, "Alan", "Turing", unknown=True, sent_as="Alan Turing"),  # never made
        record(context, 214, "Edsger", "Dijkstra"),  # nothing to suspect
    ]
    queries_before = sum(1 for r in simulator.inspect().requests if r.path.endswith("/query"))
    found = found_for(client, step)
    assert {ref: c["Id"] for ref, c in found.items()} == {
        RecordRef("applicant", 212): by_id["Id"],
        RecordRef("applicant", 211): lost_customer["Id"],
    }
    queries = sum(1 for r in simulator.inspect().requests if r.path.endswith("/query"))
    assert queries - queries_before == 2  # one by Id, one by name, for the whole step
