"""Stage 4, choose names: each record goes out under a name QuickBooks will take the first time.

A name taken in QuickBooks by someone else, or held by another record of the run still on its
way, is sent as "Ada Lovelace (APP 123)" at once (no failed create, no second batch slot); a
holder that is this very record is adopted, not created again. The pure part (names in flight)
is fast; the rest runs against the QuickBooks simulator over HTTP.
"""

from __future__ import annotations

import pytest
from conftest import update_record

from sync_core.domain.kinds import APPLICANT
from sync_core.quickbooks.client import RetryPolicy
from sync_core.quickbooks.errors import AuthenticationError, ServerError
from sync_core.quickbooks.ports import CallContext
from sync_core.store.record_state import Attempt
from sync_core.sync.names import NamesInFlight, choose_names
from sync_core.sync.outcomes import Pending

FAST_RETRY = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.05)
CONTEXT = CallContext(run_id=1)

# ---------------------------------------------------------------- names in flight (pure)


def test_names_in_flight_are_compared_without_regard_to_case():
    held = NamesInFlight()
    assert "Ada Lovelace" not in held
    held.hold(["Ada Lovelace"])
    assert "Ada Lovelace" in held and "ADA LOVELACE" in held and "ada lovelace" in held
    assert "Ada Lovelace (APP 1)" not in held
    held.free(["ADA LOVELACE"])
    assert "Ada Lovelace" not in held


def test_a_name_held_twice_stays_held_until_freed_twice():
    held = NamesInFlight()
    held.hold(["John Doe", "john doe"])  # two namesakes of one run, both on their way
    held.free(["John Doe"])
    assert "John Doe" in held
    held.free(["John Doe"])
    assert "John Doe" not in held


def test_freeing_a_name_not_held_does_not_unbalance_the_count():
    held = NamesInFlight()
    held.free(["Nobody"])  # e.g. a failure whose name was never held
    held.hold(["Nobody"])
    assert "Nobody" in held
    held.free(["Nobody"])
    assert "Nobody" not in held
    assert 42 not in held  # only names are ever held


# ---------------------------------------------------------------- against QuickBooks


@pytest.fixture
def backend() -> str:
    """The database only supplies records here: SQLite is enough."""
    return "sqlite"


@pytest.fixture
def client(context):
    return context.client(FAST_RETRY)


def record(context, row_id: int, first: str, family: str, *, attempt: int = 1) -> Pending:
    """Applicant ``row_id`` renamed in the MIS, claimed and mapped as a run would."""
    update_record(context, APPLICANT, row_id, first_name=first, family_name=family)
    mapped = context.record(APPLICANT, row_id).mapped
    assert mapped.sendable and mapped.display_name == f"{first} {family}"
    return Pending(mapped, Attempt("applicant", row_id, attempt, False, None))


def queries(simulator) -> list:
    return [r for r in simulator.inspect().requests if r.path.endswith("/query")]


def batches(simulator) -> list:
    return [r for r in simulator.inspect().requests if r.path.endswith("/batch")]


def test_a_free_name_is_sent_as_it_is_and_held_for_the_run(context, client, simulator):
    ada = record(context, 101, "Ada", "Lovelace")
    in_flight = NamesInFlight()
    chosen, adopted = choose_names(client, [ada], in_flight, CONTEXT)
    assert adopted == []
    assert [p.mapped.display_name for p in chosen] == ["Ada Lovelace"]
    assert chosen[0].mapped.renamed_from is None
    assert "Ada Lovelace" in in_flight
    assert simulator.inspect().customer_count == 0  # choosing names creates nothing


def test_a_name_taken_in_quickbooks_by_someone_else_is_sent_distinct(context, client, simulator):
    stranger = client.create_customer({"DisplayName": "Ada Lovelace"})
    ada = record(context, 102, "Ada", "Lovelace")
    in_flight = NamesInFlight()
    chosen, adopted = choose_names(client, [ada], in_flight, CONTEXT)
    assert adopted == []
    [sent] = chosen
    assert sent.mapped.display_name == "Ada Lovelace (APP 102)"
    assert sent.mapped.payload["DisplayName"] == "Ada Lovelace (APP 102)"  # what is sent
    assert sent.mapped.renamed_from == "Ada Lovelace"
    assert sent.attempt == ada.attempt and sent.ref == ada.ref
    assert "Ada Lovelace (APP 102)" in in_flight and "Ada Lovelace" not in in_flight
    assert simulator.get_customer(stranger["Id"])["DisplayName"] == "Ada Lovelace"


def test_a_taken_name_is_found_whatever_its_case(context, client):
    client.create_customer({"DisplayName": "ADA LOVELACE"})
    ada = record(context, 103, "Ada", "Lovelace")
    chosen, _ = choose_names(client, [ada], NamesInFlight(), CONTEXT)
    assert chosen[0].mapped.display_name == "Ada Lovelace (APP 103)"


def test_an_inactive_customer_still_holds_its_name(context, client, simulator):
    gone = client.create_customer({"DisplayName": "Ada Lovelace"})
    simulator.deactivate_customer(gone["Id"])
    ada = record(context, 104, "Ada", "Lovelace")
    chosen, _ = choose_names(client, [ada], NamesInFlight(), CONTEXT)
    assert chosen[0].mapped.display_name == "Ada Lovelace (APP 104)"


def test_a_name_held_by_another_record_in_flight_is_sent_distinct(context, client):
    in_flight = NamesInFlight()
    first, _ = choose_names(client, [record(context, 105, "Ada", "Lovelace")], in_flight, CONTEXT)
    assert first[0].mapped.display_name == "Ada Lovelace"
    # a namesake claimed in the next step, while the first is still on its way
    second, _ = choose_names(client, [record(context, 106, "Ada", "Lovelace")], in_flight, CONTEXT)
    assert second[0].mapped.display_name == "Ada Lovelace (APP 106)"
    # once the first one's answer came back its name is free again (and now taken in QuickBooks,
    # which the look-up would tell)
    in_flight.free(["Ada Lovelace"])
    assert "Ada Lovelace" not in in_flight


def test_namesakes_in_one_step_keep_the_real_name_for_the_first_only(context, client, simulator):
    step = [record(context, 107, "Grace", "Hopper"), record(context, 108, "Grace", "Hopper")]
    chosen, adopted = choose_names(client, step, NamesInFlight(), CONTEXT)
    assert adopted == []
    assert [p.mapped.display_name for p in chosen] == ["Grace Hopper", "Grace Hopper (APP 108)"]
    # the whole step was checked with one query, and no batch slot was spent on it
    assert len(queries(simulator)) == 1 and batches(simulator) == []


def test_a_holder_that_is_this_very_record_is_adopted_not_sent(context, client, simulator):
    ada = record(context, 109, "Ada", "Lovelace")
    ours = client.create_customer(ada.mapped.payload)  # e.g. an answer that never came back
    grace = record(context, 110, "Grace", "Hopper")
    in_flight = NamesInFlight()
    chosen, adopted = choose_names(client, [ada, grace], in_flight, CONTEXT)
    assert [p.ref.row_id for p in chosen] == [110]
    [link] = adopted
    assert link.pending == ada and link.qk_id == ours["Id"]
    assert link.adopted_because  # the run tells the operator why it was linked
    assert "Ada Lovelace" not in in_flight  # nothing of it is on its way
    assert simulator.inspect().customer_count == 1


def test_a_holder_with_the_same_name_but_another_records_notes_is_not_adopted(context, client):
    ada = record(context, 111, "Ada", "Lovelace")
    other = record(context, 112, "Ada", "Lovelace").mapped.payload
    client.create_customer(other)  # applicant 112's customer, a namesake of 111
    chosen, adopted = choose_names(client, [ada], NamesInFlight(), CONTEXT)
    assert adopted == []
    assert chosen[0].mapped.display_name == "Ada Lovelace (APP 111)"


def test_when_the_look_up_is_refused_names_are_sent_as_they_are(context, simulator, client):
    """No foresight this time (QuickBooks refused the query itself): a clash still comes back
    as 6240 and is resolved then."""
    client.create_customer({"DisplayName": "Ada Lovelace"})
    ada = record(context, 113, "Ada", "Lovelace")
    simulator.set_faults(refuse_query_containing="Lovelace")
    chosen, adopted = choose_names(client, [ada], NamesInFlight(), CONTEXT)
    assert adopted == [] and [p.mapped.display_name for p in chosen] == ["Ada Lovelace"]


def test_quickbooks_unreachable_stops_the_run(context, simulator):
    client = context.client(RetryPolicy(attempts=1, initial_wait_s=0.01, max_wait_s=0.01))
    ada = record(context, 115, "Ada", "Lovelace")
    simulator.set_faults(api_down=True)
    with pytest.raises(ServerError):
        choose_names(client, [ada], NamesInFlight(), CONTEXT)


def test_a_lost_connection_is_not_swallowed(context, client, simulator):
    ada = record(context, 114, "Ada", "Lovelace")
    client.query("SELECT COUNT(*) FROM Customer")  # connected, with an access token in hand
    simulator.revoke_all()  # the company's admin disconnects the app
    with pytest.raises(AuthenticationError):
        choose_names(client, [ada], NamesInFlight(), CONTEXT)


def test_nothing_to_name_asks_nothing(context, client, simulator):
    before = len(simulator.inspect().requests)
    assert choose_names(client, [], NamesInFlight(), CONTEXT) == ([], [])
    assert len(simulator.inspect().requests) == before
