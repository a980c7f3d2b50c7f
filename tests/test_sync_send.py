"""Stage 5, send: one batch request of up to 30 creates, or one single create, and what comes
back.

``send_chunk`` runs on a worker thread and touches no database; it never raises. A 6240 (the
name is taken) adopts the holder when it is this record, else sends the record again under a
distinct name; when both names are taken the record fails readably. Against the QuickBooks
simulator over HTTP; the database (SQLite) only supplies the records.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import update_record

from sync_core.domain.identity import is_same_record
from sync_core.domain.kinds import APPLICANT
from sync_core.quickbooks.client import RetryPolicy
from sync_core.quickbooks.errors import AuthenticationError, NetworkError
from sync_core.quickbooks.ports import CallContext
from sync_core.store.record_state import Attempt
from sync_core.sync.existing import find_existing
from sync_core.sync.outcomes import Pending, batch_requestid, single_requestid
from sync_core.sync.send import send_chunk, send_single

FAST_RETRY = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.05)
CONTEXT = CallContext(run_id=1)
EMPLOYEE = "Jean Claude Habimana"  # an employee of the simulator's company: not a customer


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def client(context):
    return context.client(FAST_RETRY)


def record(context, row_id: int, first: str, family: str) -> Pending:
    update_record(context, APPLICANT, row_id, first_name=first, family_name=family)
    mapped = context.record(APPLICANT, row_id).mapped
    assert mapped.sendable and mapped.display_name == f"{first} {family}".strip()
    return Pending(mapped, Attempt("applicant", row_id, 1, False, None))


def new_records(context, n: int, first_row: int = 301) -> list[Pending]:
    return [record(context, first_row + i, "Person", f"Number {i}") for i in range(n)]


def batch_requests(simulator) -> list:
    return [r for r in simulator.inspect().requests if r.path.endswith("/batch")]


def customers(simulator) -> dict[str, dict]:
    return {c["Id"]: c for c in simulator.inspect().customers}


def test_a_chunk_of_new_records_is_created_with_one_batch_request(context, client, simulator):
    chunk = new_records(context, 30)
    outcome = send_chunk(client, chunk, CONTEXT)
    assert outcome.failed == [] and outcome.requeue == [] and outcome.fatal is None
    assert [link.pending for link in outcome.linked] == chunk  # every record, in order
    assert all(link.adopted_because is None for link in outcome.linked)
    [request] = batch_requests(simulator)
    assert request.requestid == batch_requestid(chunk)  # a retry would get the first answer
    created = customers(simulator)
    assert len(created) == 30
    for link in outcome.linked:
        customer = created[link.qk_id]
        assert customer["DisplayName"] == link.pending.mapped.display_name
        assert is_same_record(customer, "applicant", link.pending.mapped.identity)


def test_the_same_chunk_sent_again_gets_quickbooks_first_answer(context, client, simulator):
    """An answer lost on the way back, the batch retried: no second customer."""
    chunk = new_records(context, 3)
    first = send_chunk(client, chunk, CONTEXT)
    again = send_chunk(client, chunk, CONTEXT)
    assert [x.qk_id for x in again.linked] == [x.qk_id for x in first.linked]
    assert simulator.inspect().customer_count == 3


def test_a_clash_with_our_own_customer_is_adopted(context, client, simulator):
    ada, grace = record(context, 341, "Ada", "Lovelace"), record(context, 342, "Grace", "Hopper")
    ours = client.create_customer(ada.mapped.payload)  # made earlier, its answer lost
    outcome = send_chunk(client, [ada, grace], CONTEXT)
    assert outcome.failed == [] and outcome.requeue == []
    by_row = {link.pending.ref.row_id: link for link in outcome.linked}
    assert by_row[341].qk_id == ours["Id"]
    assert by_row[341].adopted_because == "a name clash"
    assert by_row[342].adopted_because is None
    assert simulator.inspect().customer_count == 2  # not a second Ada Lovelace


def test_a_clash_is_resolved_by_the_holders_id_when_a_name_search_would_miss_it(
    context, client, simulator, monkeypatch
):
    """QuickBooks names the holder's Id in the 6240 detail: it is read by that Id, so a name
    search that finds nothing (a case difference, a backslash) cannot make a second customer."""
    import sync_core.sync.send as send

    searched: list[int] = []

    def blind(client, lookups, context, unchecked=None):
        searched.append(len(lookups))
        return {}

    monkeypatch.setattr(send, "find_by_names", blind)
    ada = record(context, 346, "Ada", "Lovelace")
    ours = client.create_customer(ada.mapped.payload)  # made earlier, its answer lost
    outcome = send_chunk(client, [ada], CONTEXT)
    assert outcome.failed == [] and outcome.requeue == []
    [link] = outcome.linked
    assert link.qk_id == ours["Id"] and link.adopted_because == "a name clash"
    assert searched == [0], "the holder came from the error's Id, not from a name search"
    assert simulator.inspect().customer_count == 1


def test_a_clash_with_a_stranger_is_sent_again_under_a_distinct_name(context, client, simulator):
    stranger = client.create_customer({"DisplayName": "Ada Lovelace"})
    ada = record(context, 343, "Ada", "Lovelace")
    outcome = send_chunk(client, [ada], CONTEXT)
    assert outcome.linked == [] and outcome.failed == []
    [again] = outcome.requeue
    assert again.ref == ada.ref and again.attempt == ada.attempt
    assert again.mapped.display_name == "Ada Lovelace (APP 343)"
    assert again.mapped.renamed_from == "Ada Lovelace"
    # sent again (as the engine does with the queue), it is created under its distinct name
    resent = send_chunk(client, [again], CONTEXT)
    [link] = resent.linked
    assert link.qk_id != stranger["Id"]
    assert customers(simulator)[link.qk_id]["DisplayName"] == "Ada Lovelace (APP 343)"
    assert customers(simulator)[stranger["Id"]]["DisplayName"] == "Ada Lovelace"


def test_a_clash_with_an_employee_name_is_sent_again_under_a_distinct_name(context, client):
    """Vendors and employees hold names too, and no customer query can see them."""
    namesake = record(context, 344, "Jean Claude", "Habimana")
    assert namesake.mapped.display_name == EMPLOYEE
    outcome = send_chunk(client, [namesake], CONTEXT)
    [again] = outcome.requeue
    assert again.mapped.display_name == f"{EMPLOYEE} (APP 344)"


def test_both_names_taken_fails_readably(context, client, simulator):
    client.create_customer({"DisplayName": "Ada Lovelace"})
    client.create_customer({"DisplayName": "Ada Lovelace (APP 345)"})  # typed by hand
    ada = record(context, 345, "Ada", "Lovelace")
    [again] = send_chunk(client, [ada], CONTEXT).requeue
    outcome = send_chunk(client, [again], CONTEXT)
    assert outcome.linked == [] and outcome.requeue == []
    [failed] = outcome.failed
    assert failed.ref == ada.ref and failed.code == "6240"
    assert "'Ada Lovelace'" in failed.message and "'Ada Lovelace (APP 345)'" in failed.message
    assert "taken by other QuickBooks customers" in failed.message
    assert failed.hint  # what to do about it
    assert not failed.outcome_unknown  # nothing was created: a retry may send it
    assert simulator.inspect().customer_count == 2


def test_one_record_quickbooks_refuses_fails_alone(context, client, simulator):
    chunk = new_records(context, 3, first_row=351)
    bad = chunk[1]
    payload = {**bad.mapped.payload, "PrimaryEmailAddr": {"Address": "not an address"}}
    chunk[1] = replace(bad, mapped=replace(bad.mapped, payload=payload))
    outcome = send_chunk(client, chunk, CONTEXT)
    assert [x.pending.ref.row_id for x in outcome.linked] == [351, 353]
    [failed] = outcome.failed
    assert failed.ref.row_id == 352 and failed.code == "2210"
    assert "Email" in failed.message
    assert not failed.outcome_unknown  # refused: certainly not created
    assert simulator.inspect().customer_count == 2


def test_quickbooks_unreachable_stops_the_run_and_fails_no_record(context, simulator):
    """Not a page of per-record failures: the run stops; the chunk, which QuickBooks may have
    taken (no answer came), goes back to be looked up before it is sent again."""
    client = context.client(RetryPolicy(attempts=1, initial_wait_s=0.01, max_wait_s=0.01))
    chunk = new_records(context, 2, first_row=361)
    client.query("SELECT COUNT(*) FROM Customer")  # connected first
    simulator.set_faults(api_down=True, down_mode="drop")
    outcome = send_chunk(client, chunk, CONTEXT)
    assert isinstance(outcome.fatal, NetworkError)
    assert outcome.linked == [] and outcome.failed == [] and outcome.returned == []
    assert [p.ref for p in outcome.maybe_sent] == [p.ref for p in chunk]


def test_an_authentication_failure_stops_the_run_and_returns_the_chunk(context, client, simulator):
    chunk = new_records(context, 2, first_row=371)
    client.query("SELECT COUNT(*) FROM Customer")  # connected, an access token in hand
    simulator.revoke_all()  # the company's admin disconnects the app
    outcome = send_chunk(client, chunk, CONTEXT)
    assert isinstance(outcome.fatal, AuthenticationError)
    assert "connect" in outcome.fatal.what_to_do.lower()  # what to do: reconnect
    assert outcome.linked == [] and outcome.failed == []
    assert [p.ref for p in outcome.returned] == [p.ref for p in chunk]  # refused: not taken
    assert simulator.inspect().customer_count == 0


def test_an_unexpected_error_in_the_client_never_escapes(context, client, monkeypatch):
    chunk = new_records(context, 2, first_row=381)

    def broken_batch(*args, **kwargs):
        raise RuntimeError("a bug in the client")

    monkeypatch.setattr(client, "batch", broken_batch)
    outcome = send_chunk(client, chunk, CONTEXT)  # does not raise
    assert outcome.linked == [] and outcome.fatal is None
    assert [f.ref for f in outcome.failed] == [p.ref for p in chunk]
    for failed in outcome.failed:
        assert failed.message.startswith("Internal error")
        assert "RuntimeError" in failed.message  # the kind; the details go to the log
        assert failed.outcome_unknown  # it may have been sent before the bug struck
        assert failed.hint


def test_namesakes_in_one_batch_the_second_is_sent_again_under_a_distinct_name(
    context, client, simulator
):
    """Names are made distinct before sending; should two namesakes still share a batch, the
    second one's 6240 is resolved without a failure."""
    first, second = record(context, 391, "Ada", "Lovelace"), record(context, 392, "Ada", "Lovelace")
    outcome = send_chunk(client, [first, second], CONTEXT)
    assert [x.pending.ref.row_id for x in outcome.linked] == [391]
    [again] = outcome.requeue
    assert again.ref.row_id == 392 and again.mapped.display_name == "Ada Lovelace (APP 392)"
    assert simulator.inspect().customer_count == 1


def test_a_clash_with_our_own_inactive_customer_is_adopted(context, client, simulator):
    ada = record(context, 393, "Ada", "Lovelace")
    ours = client.create_customer(ada.mapped.payload)
    simulator.deactivate_customer(ours["Id"])  # made inactive by finance meanwhile
    outcome = send_chunk(client, [ada], CONTEXT)
    [link] = outcome.linked
    assert link.qk_id == ours["Id"] and link.adopted_because
    assert simulator.inspect().customer_count == 1


# -- single creates: a record alone, as safe as a batch item ---------------------------------


def single_requests(simulator) -> list:
    return [
        r
        for r in simulator.inspect().requests
        if r.path.endswith("/customer") and r.method == "POST"
    ]


def test_a_single_create_is_one_post_with_a_requestid_of_its_own(context, client, simulator):
    [one] = new_records(context, 1, first_row=401)
    outcome = send_single(client, one, CONTEXT)
    assert outcome.failed == [] and outcome.fatal is None
    [link] = outcome.linked
    assert link.pending == one and link.adopted_because is None
    [request] = single_requests(simulator)
    assert request.requestid == single_requestid(one)
    assert request.requestid.startswith("s-") and len(request.requestid) <= 50
    assert batch_requests(simulator) == []
    # sent again (a retry after a lost answer): QuickBooks' first answer, no second customer
    again = send_single(client, one, CONTEXT)
    assert [x.qk_id for x in again.linked] == [link.qk_id]
    assert simulator.inspect().customer_count == 1


def test_a_single_whose_answer_is_lost_is_retried_without_a_second_customer(
    context, client, simulator
):
    [one] = new_records(context, 1, first_row=402)
    simulator.set_faults(drop_after_commit_rate=1.0)
    outcome = send_single(client, one, CONTEXT)
    assert len(outcome.linked) == 1
    state = simulator.inspect()
    assert state.dropped_responses == 1 and state.requestid_replays == 1
    assert state.customer_count == 1


def test_a_single_that_never_gets_an_answer_is_found_by_look_up_not_sent_again(context, simulator):
    """The retries run out with the answer lost: the run stops with the record "maybe sent",
    and the look-up done before any resend finds the customer QuickBooks did create."""
    client = context.client(RetryPolicy(attempts=1, initial_wait_s=0.01, max_wait_s=0.01))
    [one] = new_records(context, 1, first_row=403)
    simulator.set_faults(drop_after_commit_rate=1.0)
    outcome = send_single(client, one, CONTEXT)
    assert isinstance(outcome.fatal, NetworkError)
    assert outcome.maybe_sent == [one] and outcome.linked == outcome.failed == []
    simulator.set_faults(drop_after_commit_rate=0.0)
    next_try = replace(one, attempt=replace(one.attempt, attempt=2, previously_unknown=True))
    existing, conflicts = find_existing(client, [next_try], CONTEXT)
    assert conflicts == [] and one.ref in existing
    assert simulator.inspect().customer_count == 1


def test_a_single_clash_is_resolved_as_a_batch_item_would_be(context, client, simulator):
    client.create_customer({"DisplayName": "Ada Lovelace"})  # a stranger holds the name
    ada = record(context, 404, "Ada", "Lovelace")
    outcome = send_single(client, ada, CONTEXT)
    assert outcome.linked == [] and outcome.failed == []
    [again] = outcome.requeue
    assert again.mapped.renamed_from == "Ada Lovelace"
    resent = send_single(client, again, CONTEXT)
    assert len(resent.linked) == 1
    assert simulator.inspect().customer_count == 2


def test_a_single_quickbooks_refuses_fails_alone_and_knowingly(context, client, monkeypatch):
    [one] = new_records(context, 1, first_row=405)
    bad = replace(one, mapped=replace(one.mapped, payload={**one.mapped.payload, "Id": "x"}))
    outcome = send_single(client, bad, CONTEXT)
    assert outcome.fatal is None and outcome.linked == []
    [failed] = outcome.failed
    assert failed.ref == one.ref and failed.outcome_unknown is False
