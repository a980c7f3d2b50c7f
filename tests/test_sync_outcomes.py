"""What moves between the stages of a run, and how a run counts it (fast, pure).

A batch's ``requestid`` is what makes a retried create safe: QuickBooks answers a repeated
requestid with its first answer, so the same batch sent twice must carry the same requestid, and
a different batch (another attempt, another name) never one QuickBooks has seen.
"""

from __future__ import annotations

import random

from sync_core.domain.lookups import Lookups
from sync_core.domain.mapping import MappedCustomer, map_applicant, map_student
from sync_core.domain.names import with_distinct_name
from sync_core.domain.statuses import Scope
from sync_core.quickbooks.errors import ServerError
from sync_core.store.record_state import Attempt
from sync_core.sync.outcomes import (
    REQUESTID_MAX,
    Failed,
    Linked,
    Pending,
    StepOutcome,
    batch_requestid,
    tally,
)
from sync_core.sync.request import Progress


def applicant(row_id: int, first: str = "Ada", family: str = "Lovelace") -> MappedCustomer:
    return map_applicant({"appl_Id": row_id, "first_name": first, "family_name": family}, Lookups())


def student(row_id: int, reg_no: str, first: str = "Ada", family: str = "Lovelace"):
    return map_student(
        {"per_id_ug": row_id, "reg_no": reg_no, "fname": first, "lname": family}, Lookups()
    )


def pending(mapped: MappedCustomer, attempt: int = 1) -> Pending:
    return Pending(mapped, Attempt(mapped.kind, mapped.row_id, attempt, False, None))


def chunk_of(n: int, attempt: int = 1) -> list[Pending]:
    return [pending(applicant(i, "Person", f"Number {i}"), attempt) for i in range(1, n + 1)]


def progress() -> Progress:
    return Progress(run_id=1, scope=Scope.ALL, operator="Test Registrar")


# ---------------------------------------------------------------- batch_requestid


def test_requestid_is_the_same_for_the_same_batch_in_any_order():
    chunk = chunk_of(30)
    shuffled = chunk[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != chunk
    assert batch_requestid(shuffled) == batch_requestid(chunk)
    # rebuilt from scratch (another process retrying after a crash): still the same
    assert batch_requestid(chunk_of(30)) == batch_requestid(chunk)


def test_requestid_changes_when_an_attempt_changes():
    chunk = chunk_of(5)
    again = [*chunk[:4], pending(chunk[4].mapped, attempt=2)]
    assert batch_requestid(again) != batch_requestid(chunk)


def test_requestid_changes_when_a_name_changes():
    chunk = chunk_of(5)
    renamed = [*chunk[:4], pending(with_distinct_name(chunk[4].mapped))]
    assert renamed[4].mapped.display_name == "Person Number 5 (APP 5)"
    assert batch_requestid(renamed) != batch_requestid(chunk)
    edited = [*chunk[:4], pending(applicant(5, "Person", "Number Five"))]
    assert batch_requestid(edited) != batch_requestid(chunk)


def test_requestid_tells_records_and_kinds_apart():
    one = [pending(applicant(1))]
    assert batch_requestid(one) != batch_requestid([pending(applicant(2))])
    # an applicant and a student with the same row id and the same name are different records
    assert batch_requestid(one) != batch_requestid([pending(student(1, "2021/BIT/001"))])
    assert batch_requestid(one) != batch_requestid([*one, pending(applicant(2))])


def test_requestid_fits_quickbooks_limit():
    for chunk in (chunk_of(1), chunk_of(30), [pending(applicant(9, "A" * 600, "B" * 400))]):
        assert 0 < len(batch_requestid(chunk)) <= REQUESTID_MAX == 36


# ---------------------------------------------------------------- tally


def linked(mapped: MappedCustomer, qk_id: str, adopted_because: str | None = None) -> Linked:
    return Linked(
        pending(mapped), {"Id": qk_id, "DisplayName": mapped.display_name}, adopted_because
    )


def failed(mapped: MappedCustomer) -> Failed:
    return Failed.of(
        pending(mapped), "QuickBooks is down", ServerError("down"), outcome_unknown=True
    )


def mixed_outcome() -> StepOutcome:
    return StepOutcome(
        linked=[
            linked(applicant(1), "1"),  # created
            linked(applicant(2), "2", adopted_because="a name clash"),  # found, linked
            linked(with_distinct_name(applicant(3)), "3"),  # created under a distinct name
            # renamed earlier and now found: it counts as adopted, not as renamed again
            linked(with_distinct_name(applicant(4)), "4", adopted_because="an earlier attempt"),
        ],
        failed=[failed(applicant(5)), failed(applicant(6))],
        requeue=[pending(with_distinct_name(applicant(7)))],  # not done yet: not counted
    )


def test_tally_counts_what_became_of_each_record():
    p = progress()
    tally(p, mixed_outcome())
    assert (p.done, p.synced, p.failed, p.adopted, p.renamed) == (6, 4, 2, 2, 1)
    assert p.reconciled == 0
    tally(p, mixed_outcome())  # outcomes add up over a run
    assert (p.done, p.synced, p.failed, p.adopted, p.renamed) == (12, 8, 4, 4, 2)


def test_tally_of_recovery_counts_only_the_reconciled():
    """Records a dead run left were not part of this run's plan: they are counted apart."""
    p = progress()
    tally(p, mixed_outcome(), recovering=True)
    assert p.reconciled == 4
    assert (p.done, p.synced, p.failed, p.adopted, p.renamed) == (0, 0, 0, 0, 0)


def test_an_empty_outcome_counts_nothing():
    p = progress()
    tally(p, StepOutcome())
    assert p.counters() == progress().counters()


def test_a_failure_carries_a_reason_and_what_to_do():
    f = failed(applicant(5))
    assert f.message == "QuickBooks is down" and f.code == "server"
    assert f.hint == "QuickBooks had a server problem: retry later."
    assert f.outcome_unknown and f.identity == "5"
    internal = Failed.of(pending(applicant(6)), "Internal error: boom")
    assert internal.code == "internal" and internal.hint  # never a failure without a hint
