"""Stage 6, write back: what became of each record, into the MIS, the product's store and the run.

What finance and the registrar see afterwards: a synced record is status 1 with its QuickBooks
Id, who pushed it and when (and the SyncToken where the MIS keeps one); a failed one is status 2
with its reason on the Records page; adopted and renamed records are listed in the run. On the
demo MIS and the legacy MIS, on SQLite and MariaDB.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from conftest import load_legacy_mis, update_record

from sync_core.database import write_transaction
from sync_core.domain.clock import utcnow
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.mapping import MappingOptions
from sync_core.domain.names import with_distinct_name
from sync_core.domain.statuses import Outcome, Scope, SyncStatus
from sync_core.mis.schema import inspect_schema
from sync_core.mis.setup import ensure_tracking_columns
from sync_core.quickbooks.errors import NetworkError, ValidationError
from sync_core.store.runs import RunHistory
from sync_core.store.setup import ensure_tables
from sync_core.sync.claim import Databases, claim_step
from sync_core.sync.outcomes import Failed, Linked, Pending, StepOutcome
from sync_core.sync.prepare import map_claimed
from sync_core.sync.write_back import note_sending, write_back

OPERATOR = "Finance Clerk"


def start_run(dbs: Databases, history: RunHistory) -> int:
    with write_transaction(dbs.store) as conn:
        return history.create(
            conn,
            realm_id="test",
            scope=Scope.ALL,
            operator=OPERATOR,
            batch_size=10,
            retry_failed=False,
            host="test",
            pid=1,
        )


def claimed(dbs: Databases, kind: RecordKind, row_ids: list[int]) -> list[Pending]:
    """Claimed and mapped as a run does."""
    attempts = claim_step(
        dbs,
        kind,
        statuses=(0, 2),
        limit=len(row_ids),
        after_row_id=0,
        row_ids=row_ids,
        run_id=1,
    )
    pending, failed = map_claimed(dbs, kind, attempts, MappingOptions())
    assert failed == [] and [p.ref.row_id for p in pending] == row_ids
    return pending


def tracking_row(dbs: Databases, kind: RecordKind, row_id: int) -> dict:
    table = dbs.schema.customers(kind)
    columns = [
        table.status.label("status"),
        table.quickbooks_id.label("qk_id"),
        table.table.c.pushed_by.label("pushed_by"),
        table.table.c.pushed_date.label("pushed_date"),
    ]
    if table.sync_token is not None:
        columns.append(table.sync_token.label("sync_token"))
    with dbs.mis.connect() as conn:
        return dict(conn.execute(sa.select(*columns).where(table.row_id == row_id)).one()._mapping)


def customer(qk_id: str, name: str, sync_token: str = "0") -> dict:
    return {"Id": qk_id, "SyncToken": sync_token, "DisplayName": name}


@pytest.fixture
def dbs(context) -> Databases:
    return context.databases


def test_synced_records_get_status_1_their_id_who_pushed_them_and_when(context, dbs):
    for row_id, (first, family) in {401: ("Ada", "Lovelace"), 402: ("Grace", "Hopper")}.items():
        update_record(context, APPLICANT, row_id, first_name=first, family_name=family)
    ada, grace = claimed(dbs, APPLICANT, [401, 402])
    run_id = start_run(dbs, context.history)
    before = utcnow().replace(microsecond=0) - dt.timedelta(seconds=1)
    outcome = StepOutcome(
        linked=[
            Linked(ada, customer("501", "Ada Lovelace", "0")),
            Linked(grace, customer("502", "Grace Hopper", "3")),
        ]
    )
    write_back(dbs, context.history, run_id, OPERATOR, outcome)
    for row_id, qk_id, token in ((401, "501", "0"), (402, "502", "3")):
        row = tracking_row(dbs, APPLICANT, row_id)
        assert SyncStatus.of(row["status"]) is SyncStatus.SYNCED
        assert str(row["qk_id"]) == qk_id
        assert row["pushed_by"] == OPERATOR
        assert row["pushed_date"] is not None and row["pushed_date"] >= before
        if "sync_token" in row:  # the demo MIS keeps QuickBooks' SyncToken
            assert str(row["sync_token"]) == token
        detail = context.record(APPLICANT, row_id)
        assert detail.is_synced and detail.source.qk_id == qk_id and detail.last_error is None
        assert not detail.state["outcome_unknown"]  # answered: nothing to look up next time
    assert context.run_entries(run_id) == []  # a plain create is no news for the operator


def test_failed_records_get_status_2_and_keep_their_reason(context, dbs):
    ada, grace = claimed(dbs, STUDENT, [403, 404])
    run_id = start_run(dbs, context.history)
    refused = ValidationError("Invalid String", code="2170", detail="colon in name")
    outcome = StepOutcome(
        failed=[
            Failed.of(ada, refused.describe(), refused),
            Failed.of(
                grace, "No answer from QuickBooks", NetworkError("timeout"), outcome_unknown=True
            ),
        ]
    )
    write_back(dbs, context.history, run_id, OPERATOR, outcome)
    for row_id in (403, 404):
        row = tracking_row(dbs, STUDENT, row_id)
        assert SyncStatus.of(row["status"]) is SyncStatus.FAILED
        assert row["qk_id"] is None and row["pushed_by"] != OPERATOR
    refused_detail = context.record(STUDENT, 403)
    assert "Invalid String" in refused_detail.last_error and "2170" in refused_detail.last_error
    assert refused_detail.state["error_hint"]  # and what to do about it
    assert not refused_detail.state["outcome_unknown"]
    lost = context.record(STUDENT, 404)
    assert "No answer from QuickBooks" in lost.last_error
    assert lost.state["outcome_unknown"]  # may exist: looked up before the next send
    entries = context.run_entries(run_id, outcome=Outcome.FAILED)
    assert [(e["kind"], e["row_id"]) for e in entries] == [("student", 403), ("student", 404)]
    assert entries[0]["code"] == "2170" and entries[0]["hint"]
    assert entries[0]["identity"] == ada.mapped.identity


def test_a_later_success_clears_the_earlier_failure(context, dbs):
    [ada] = claimed(dbs, APPLICANT, [405])
    run_id = start_run(dbs, context.history)
    refused = ValidationError("Invalid String", code="2170")
    write_back(
        dbs, context.history, run_id, OPERATOR, StepOutcome(failed=[Failed.of(ada, "x", refused)])
    )
    assert context.record(APPLICANT, 405).last_error
    [again] = claimed(dbs, APPLICANT, [405])
    write_back(
        dbs,
        context.history,
        run_id,
        OPERATOR,
        StepOutcome(linked=[Linked(again, customer("505", again.mapped.display_name))]),
    )
    detail = context.record(APPLICANT, 405)
    assert detail.is_synced and detail.last_error is None


def test_adopted_and_renamed_records_are_listed_in_the_run(context, dbs):
    for row_id in (406, 407):
        update_record(context, APPLICANT, row_id, first_name="Ada", family_name="Lovelace")
    adopted, renamed = claimed(dbs, APPLICANT, [406, 407])
    renamed = Pending(with_distinct_name(renamed.mapped), renamed.attempt)
    run_id = start_run(dbs, context.history)
    outcome = StepOutcome(
        linked=[
            Linked(adopted, customer("506", "Ada Lovelace"), adopted_because="a name clash"),
            Linked(renamed, customer("507", "Ada Lovelace (APP 407)")),
        ]
    )
    write_back(dbs, context.history, run_id, OPERATOR, outcome)
    [adoption] = context.run_entries(run_id, outcome=Outcome.ADOPTED)
    assert adoption["row_id"] == 406
    assert "Already in QuickBooks as customer 506" in adoption["message"]
    assert "a name clash" in adoption["message"]
    [rename] = context.run_entries(run_id, outcome=Outcome.RENAMED)
    assert rename["row_id"] == 407 and rename["display_name"] == "Ada Lovelace (APP 407)"
    assert "'Ada Lovelace (APP 407)'" in rename["message"] and "'Ada Lovelace'" in rename["message"]
    assert context.run_entries(run_id, outcome=Outcome.FAILED) == []
    # both are synced all the same; the store knows the name each holds in QuickBooks
    assert {tracking_row(dbs, APPLICANT, i)["status"] for i in (406, 407)} == {1}
    state = context.record(APPLICANT, 407).state
    assert state["sent_display_name"] == "Ada Lovelace (APP 407)"
    assert state["renamed_from"] == "Ada Lovelace"


def test_notices_replace_the_run_entries(context, dbs):
    """Recovery writes back what it found but lists only what the operator must see."""
    [ada] = claimed(dbs, APPLICANT, [408])
    run_id = start_run(dbs, context.history)
    outcome = StepOutcome(linked=[Linked(ada, customer("508", "x"), adopted_because="x")])
    write_back(dbs, context.history, run_id, OPERATOR, outcome, notices=[])
    assert tracking_row(dbs, APPLICANT, 408)["status"] == 1
    assert context.run_entries(run_id) == []


def test_the_name_about_to_be_sent_is_remembered(context, dbs):
    [ada] = claimed(dbs, APPLICANT, [409])
    note_sending(dbs, APPLICANT, [Pending(with_distinct_name(ada.mapped), ada.attempt)])
    state = context.record(APPLICANT, 409).state
    assert state["sent_display_name"] == f"{ada.mapped.display_name} (APP 409)"
    assert state["outcome_unknown"]  # sent, no answer yet


@pytest.fixture
def legacy(empty_engine) -> Databases:
    """The MIS as the earlier integration left it: its own QuickBooks Id and sync_token columns
    (``quickbooks_id`` on applicants, ``qk_id`` on students)."""
    load_legacy_mis(empty_engine)
    ensure_tracking_columns(empty_engine)
    ensure_tables(empty_engine)
    return Databases(mis=empty_engine, store=empty_engine, schema=inspect_schema(empty_engine))


def test_the_legacy_mis_gets_the_id_and_sync_token_in_its_own_columns(legacy):
    history = RunHistory(legacy.store)
    [alice] = claimed(legacy, APPLICANT, [1])
    [eric] = claimed(legacy, STUDENT, [1])
    run_id = start_run(legacy, history)
    outcome = StepOutcome(
        linked=[
            Linked(alice, customer("777", "Alice Uwase", "2")),
            Linked(eric, customer("778", "Eric Nkusi", "5")),
        ]
    )
    write_back(legacy, history, run_id, OPERATOR, outcome)
    with legacy.mis.connect() as conn:
        applicant = conn.execute(
            sa.text(
                "SELECT QuickBk_status, quickbooks_id, sync_token, pushed_by, pushed_date "
                "FROM tbl_online_application WHERE appl_Id = 1"
            )
        ).one()
        student = conn.execute(
            sa.text(
                "SELECT QuickBk_status, qk_id, sync_token, pushed_by "
                "FROM tbl_personal_ug WHERE per_id_ug = 1"
            )
        ).one()
    assert tuple(applicant[:4]) == (1, "777", "2", OPERATOR) and applicant[4] is not None
    assert tuple(student) == (1, "778", "5", OPERATOR)
