"""Stage 1, claim: take the next step of records for a run, and give back what was not sent.

On the demo MIS, on SQLite and on MariaDB. What an operator sees: a claimed record is at 3
("in progress") in the MIS; a record given back is at 0 again, or at 2 when an earlier failure
is on record; nothing another run holds is ever touched; no record is claimed twice at once.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from sync_core.database import write_transaction
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind, RecordRef
from sync_core.domain.statuses import SyncStatus
from sync_core.mis import tracking
from sync_core.mis.schema import inspect_schema
from sync_core.store import record_state
from sync_core.store.runs import RunHistory
from sync_core.sync.claim import (
    Databases,
    claim_step,
    leftovers,
    release,
    release_run_leftovers,
)
from sync_core.sync.outcomes import Failed, StepOutcome
from sync_core.sync.write_back import write_back

NOT_SYNCED, SYNCED = SyncStatus.NOT_SYNCED, SyncStatus.SYNCED
FAILED, IN_PROGRESS = SyncStatus.FAILED, SyncStatus.IN_PROGRESS


@pytest.fixture
def dbs(demo_engine) -> Databases:
    return Databases(mis=demo_engine, store=demo_engine, schema=inspect_schema(demo_engine))


def claim(dbs, kind=APPLICANT, *, limit=3, after=0, run_id=1, statuses=(0,), row_ids=None):
    return claim_step(
        dbs,
        kind,
        statuses=statuses,
        limit=limit,
        after_row_id=after,
        row_ids=row_ids,
        run_id=run_id,
    )


def statuses(dbs, kind: RecordKind, row_ids) -> dict[int, SyncStatus]:
    table = dbs.schema.customers(kind)
    with dbs.mis.connect() as conn:
        found = conn.execute(
            sa.select(table.row_id, table.status).where(table.row_id.in_(list(row_ids)))
        ).all()
    return {int(row_id): SyncStatus.of(status) for row_id, status in found}


def claimable(dbs, kind: RecordKind, n: int, after: int = 0) -> list[int]:
    """The first ``n`` not-synced row ids after ``after``, as the MIS holds them now."""
    table = dbs.schema.customers(kind)
    with dbs.mis.connect() as conn:
        return [
            int(r[0])
            for r in conn.execute(
                sa.select(table.row_id)
                .where(tracking.status_filter(table, [0]), table.row_id > after)
                .order_by(table.row_id)
                .limit(n)
            )
        ]


def set_status(dbs, kind: RecordKind, row_ids, status: SyncStatus) -> None:
    with write_transaction(dbs.mis) as conn:
        tracking.set_status(conn, dbs.schema.customers(kind), list(row_ids), status)


def fail_in_a_run(dbs, kind: RecordKind, row_id: int, run_id: int = 1) -> None:
    """The record is claimed and fails (as a run does): status 2, reason kept in the store."""
    [attempt] = claim(dbs, kind, row_ids=[row_id], limit=1, run_id=run_id, statuses=(0, 2))
    assert attempt.row_id == row_id
    failure = Failed(
        RecordRef(kind.name, row_id),
        str(row_id),
        None,
        "MIS",
        "RegNo is empty in the MIS",
        "Correct the record in the MIS, then retry it.",
    )
    write_back(dbs, RunHistory(dbs.store), run_id, "Registrar", StepOutcome(failed=[failure]))


def test_a_step_is_claimed_in_row_order_after_the_cursor_up_to_the_limit(dbs):
    expected = claimable(dbs, APPLICANT, 7)
    first = claim(dbs, limit=3)
    assert [a.row_id for a in first] == expected[:3]
    assert all(a.kind == "applicant" and a.attempt == 1 for a in first)
    assert not any(a.previously_unknown or a.sent_display_name for a in first)
    # claimed records show as "in progress" in the MIS; the next one is untouched
    assert statuses(dbs, APPLICANT, expected[:4]) == {
        **{i: IN_PROGRESS for i in expected[:3]},
        expected[3]: NOT_SYNCED,
    }
    second = claim(dbs, limit=4, after=first[-1].row_id)
    assert [a.row_id for a in second] == expected[3:7]
    # the other kind is another table: nothing of it was claimed
    assert Counter(statuses(dbs, STUDENT, range(1, 8)).values())[IN_PROGRESS] == 0


def test_a_status_left_null_counts_as_not_synced(dbs):
    """Rows the MIS had before the tracking column was added may hold NULL."""
    row_id = claimable(dbs, STUDENT, 1)[0]
    table = dbs.schema.customers(STUDENT)
    with dbs.mis.begin() as conn:
        conn.execute(
            table.table.update().where(table.row_id == row_id).values({table.status: None})
        )
    [attempt] = claim(dbs, STUDENT, limit=1)
    assert attempt.row_id == row_id
    assert statuses(dbs, STUDENT, [row_id]) == {row_id: IN_PROGRESS}
    assert release(dbs, [RecordRef("student", row_id)]) == 1
    assert statuses(dbs, STUDENT, [row_id]) == {row_id: NOT_SYNCED}


def test_a_claim_of_chosen_records_takes_only_those(dbs):
    ids = claimable(dbs, STUDENT, 30)
    chosen = [ids[9], ids[19], ids[29]]
    got = claim(dbs, STUDENT, limit=2, row_ids=chosen)
    assert [a.row_id for a in got] == chosen[:2]
    assert claim(dbs, STUDENT, limit=2, row_ids=chosen, after=chosen[1])[0].row_id == chosen[2]
    assert claim(dbs, STUDENT, limit=2, row_ids=chosen) == []  # all three are at 3 now


def test_failed_records_are_claimed_only_when_their_status_is_asked_for(dbs):
    row_id = claimable(dbs, APPLICANT, 1)[0]
    fail_in_a_run(dbs, APPLICANT, row_id)
    assert statuses(dbs, APPLICANT, [row_id]) == {row_id: FAILED}
    assert row_id not in [a.row_id for a in claim(dbs, limit=1, row_ids=[row_id])]
    [retried] = claim(dbs, limit=1, row_ids=[row_id], statuses=(0, 2))
    assert retried.row_id == row_id and retried.attempt == 2


def test_each_claim_is_a_new_attempt_and_remembers_an_unknown_outcome(dbs):
    row_id = claimable(dbs, APPLICANT, 1)[0]
    [first] = claim(dbs, limit=1, run_id=1)
    assert (first.row_id, first.attempt, first.previously_unknown) == (row_id, 1, False)

    # given back unsent: the next attempt knows nothing was sent
    assert release(dbs, [RecordRef("applicant", row_id)]) == 1
    [second] = claim(dbs, limit=1, run_id=2)
    assert (second.row_id, second.attempt, second.previously_unknown) == (row_id, 2, False)

    # sent under a name, then the run ended on an error before the answer was written
    with write_transaction(dbs.store) as conn:
        record_state.note_sending(conn, APPLICANT, {row_id: "Ada Lovelace"})
    assert release_run_leftovers(dbs, run_id=2) == 1
    assert statuses(dbs, APPLICANT, [row_id]) == {row_id: NOT_SYNCED}
    [third] = claim(dbs, limit=1, run_id=3)
    assert (third.row_id, third.attempt) == (row_id, 3)
    assert third.previously_unknown  # it may exist in QuickBooks: look before sending
    assert third.sent_display_name == "Ada Lovelace"  # under the name sent last time


def test_release_gives_back_to_not_synced_or_to_failed_when_an_error_is_on_record(dbs):
    clean, had_error, synced = claimable(dbs, STUDENT, 3)
    fail_in_a_run(dbs, STUDENT, had_error)
    attempts = claim(dbs, STUDENT, limit=3, statuses=(0, 2), row_ids=[clean, had_error, synced])
    assert [a.row_id for a in attempts] == [clean, had_error, synced]
    set_status(dbs, STUDENT, [synced], SYNCED)  # written back before the run stopped

    refs = [RecordRef("student", i) for i in (clean, had_error, synced)]
    assert release(dbs, refs) == 2  # only records at 3 go back
    assert statuses(dbs, STUDENT, [clean, had_error, synced]) == {
        clean: NOT_SYNCED,
        had_error: FAILED,
        synced: SYNCED,
    }
    # nothing was sent: their next attempt need not look in QuickBooks first
    again = claim(dbs, STUDENT, limit=2, statuses=(0, 2), row_ids=[clean, had_error])
    assert [a.previously_unknown for a in again] == [False, False]


def test_release_of_a_mixed_list_sorts_kinds_apart(dbs):
    applicant = claim(dbs, APPLICANT, limit=1)[0].row_id
    student = claim(dbs, STUDENT, limit=1)[0].row_id
    refs = [RecordRef("student", student), RecordRef("applicant", applicant)]
    assert release(dbs, refs) == 2
    assert statuses(dbs, APPLICANT, [applicant]) == {applicant: NOT_SYNCED}
    assert statuses(dbs, STUDENT, [student]) == {student: NOT_SYNCED}


def test_release_run_leftovers_touches_only_what_that_run_claimed(dbs):
    ours = claim(dbs, limit=3, run_id=7)
    theirs = claim(dbs, limit=3, after=ours[-1].row_id, run_id=8)
    their_students = claim(dbs, STUDENT, limit=2, run_id=8)
    our_students = claim(dbs, STUDENT, limit=2, after=their_students[-1].row_id, run_id=7)
    set_status(dbs, APPLICANT, [ours[0].row_id], SYNCED)  # one of ours was written back

    assert release_run_leftovers(dbs, run_id=7) == 2 + 2
    ours_now = statuses(dbs, APPLICANT, [a.row_id for a in ours])
    assert list(ours_now.values()) == [SYNCED, NOT_SYNCED, NOT_SYNCED]
    assert set(statuses(dbs, APPLICANT, [a.row_id for a in theirs]).values()) == {IN_PROGRESS}
    assert set(statuses(dbs, STUDENT, [a.row_id for a in their_students]).values()) == {IN_PROGRESS}
    assert set(statuses(dbs, STUDENT, [a.row_id for a in our_students]).values()) == {NOT_SYNCED}
    assert release_run_leftovers(dbs, run_id=7) == 0  # nothing more of ours at 3


def test_a_claim_that_fails_half_way_leaves_nothing_at_3_once_the_run_gives_back(dbs, monkeypatch):
    """The engine's promise: nothing is left at 3 when a run ends, also when it ends on an
    error. Here the store (possibly another database than the MIS) fails during a claim."""
    expected = claimable(dbs, APPLICANT, 3)

    def store_unavailable(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("store unreachable"))

    monkeypatch.setattr(record_state, "begin_attempts", store_unavailable)
    with pytest.raises(sa.exc.OperationalError):
        claim(dbs, limit=3, run_id=9)
    monkeypatch.undo()
    release_run_leftovers(dbs, run_id=9)  # what the engine does as the run ends
    assert set(statuses(dbs, APPLICANT, expected).values()) == {NOT_SYNCED}


def test_leftovers_are_what_a_dead_run_left_at_3_with_their_outcome_unknown(dbs):
    assert leftovers(dbs, APPLICANT) == []
    dead = claim(dbs, limit=3, run_id=4)  # the process was killed here
    found = leftovers(dbs, APPLICANT)
    assert [(a.row_id, a.attempt) for a in found] == [(a.row_id, 1) for a in dead]
    assert all(a.previously_unknown for a in found)
    assert leftovers(dbs, STUDENT) == []


def test_two_claims_one_after_the_other_never_take_the_same_record(dbs):
    first = claim(dbs, limit=5, run_id=1)
    second = claim(dbs, limit=5, run_id=2)  # same cursor: a second process starting over
    assert len(first) == len(second) == 5
    assert not {a.row_id for a in first} & {a.row_id for a in second}


def test_claims_at_the_same_moment_never_take_the_same_record(dbs):
    """Threads claiming at once (MariaDB: SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the write
    lock taken up front): every record is handed to one claim only."""
    workers, rounds, step = 4, 3, 5
    claimed: list[int] = []
    errors: list[BaseException] = []
    guard = threading.Lock()
    barrier = threading.Barrier(workers)

    def worker(n: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait(timeout=30)
                got = claim(dbs, limit=step, run_id=100 + n * rounds + r)
                with guard:
                    claimed.extend(a.row_id for a in got)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    twice = [row_id for row_id, n in Counter(claimed).items() if n > 1]
    assert twice == [], f"claimed by two claims at once: {twice}"
    assert len(claimed) == workers * rounds * step
    assert set(statuses(dbs, APPLICANT, claimed).values()) == {IN_PROGRESS}
