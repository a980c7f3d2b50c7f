"""Stage 2, map: claimed records become the exact payloads they are sent as, or fail readably.

On the demo MIS and on the legacy MIS as the earlier integration left it, on SQLite and MariaDB.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import load_legacy_mis

from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.mapping import MappingOptions
from sync_core.mis.schema import inspect_schema
from sync_core.mis.setup import ensure_tracking_columns
from sync_core.store.setup import ensure_tables
from sync_core.sync.claim import Databases, claim_step
from sync_core.sync.prepare import FIX_IN_MIS, map_claimed


@pytest.fixture
def dbs(demo_engine) -> Databases:
    return Databases(mis=demo_engine, store=demo_engine, schema=inspect_schema(demo_engine))


def claim(dbs, kind: RecordKind, row_ids, statuses=(0,)):
    attempts = claim_step(
        dbs,
        kind,
        statuses=statuses,
        limit=len(row_ids),
        after_row_id=0,
        row_ids=row_ids,
        run_id=1,
    )
    assert [a.row_id for a in attempts] == sorted(row_ids)
    return attempts


def update(dbs, kind: RecordKind, row_id: int, **values) -> None:
    table = dbs.schema.customers(kind)
    with dbs.mis.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id == row_id)
            .values({table.table.c[k]: v for k, v in values.items()})
        )


def set_qk_id(dbs, kind: RecordKind, row_id: int, value) -> None:
    table = dbs.schema.customers(kind)
    with dbs.mis.begin() as conn:
        conn.execute(
            table.table.update().where(table.row_id == row_id).values({table.quickbooks_id: value})
        )


def test_claimed_records_are_mapped_in_claim_order(dbs):
    update(dbs, APPLICANT, 111, first_name="Ada", family_name="Lovelace")
    update(dbs, APPLICANT, 112, first_name="Grace", family_name="Hopper")
    attempts = claim(dbs, APPLICANT, [111, 112])
    pending, failed = map_claimed(dbs, APPLICANT, attempts, MappingOptions())
    assert failed == []
    assert [p.ref.row_id for p in pending] == [111, 112]
    assert [p.mapped.display_name for p in pending] == ["Ada Lovelace", "Grace Hopper"]
    assert [p.attempt for p in pending] == attempts  # the attempt travels with the record
    assert pending[0].mapped.payload["DisplayName"] == "Ada Lovelace"
    assert "ApplicationID: 111" in pending[0].mapped.payload["Notes"]
    assert all(p.prelinked is None for p in pending)


def test_a_record_deleted_from_the_mis_after_its_claim_fails_readably(dbs):
    attempts = claim(dbs, APPLICANT, [121, 122])
    table = dbs.schema.customers(APPLICANT)
    with dbs.mis.begin() as conn:
        conn.execute(table.table.delete().where(table.row_id == 121))
    pending, failed = map_claimed(dbs, APPLICANT, attempts, MappingOptions())
    assert [p.ref.row_id for p in pending] == [122]
    [gone] = failed
    assert gone.ref.kind == "applicant" and gone.ref.row_id == 121
    assert "no longer in the MIS" in gone.message
    assert not gone.outcome_unknown  # nothing was sent


def test_a_student_with_a_blank_reg_no_fails_with_the_reason_and_what_to_do(dbs):
    update(dbs, STUDENT, 131, reg_no="  ")
    update(dbs, STUDENT, 132, fname="Grace", lname="Hopper")
    attempts = claim(dbs, STUDENT, [131, 132])
    pending, failed = map_claimed(dbs, STUDENT, attempts, MappingOptions())
    assert [p.ref.row_id for p in pending] == [132]
    [blank] = failed
    assert blank.ref.row_id == 131 and blank.code == "MIS"
    assert "RegNo" in blank.message and "empty" in blank.message
    assert blank.hint == FIX_IN_MIS and "MIS" in blank.hint
    assert blank.display_name  # the operator can tell who it is without a RegNo
    assert not blank.outcome_unknown


def test_a_quickbooks_id_the_mis_holds_is_handed_on_as_prelinked(dbs):
    set_qk_id(dbs, STUDENT, 141, "  301  ")
    set_qk_id(dbs, STUDENT, 142, "   ")  # blank: no Id
    attempts = claim(dbs, STUDENT, [141, 142, 143])
    pending, failed = map_claimed(dbs, STUDENT, attempts, MappingOptions())
    assert failed == []
    assert [(p.ref.row_id, p.prelinked) for p in pending] == [
        (141, "301"),
        (142, None),
        (143, None),
    ]


@pytest.fixture
def legacy_int_qk_id(empty_engine) -> Databases:
    """The legacy MIS on an installation that declared ``tbl_personal_ug.qk_id`` as INT."""
    load_legacy_mis(empty_engine)
    with empty_engine.begin() as conn:
        if empty_engine.dialect.name == "sqlite":  # SQLite cannot change a column's type
            conn.exec_driver_sql("ALTER TABLE tbl_personal_ug DROP COLUMN qk_id")
            conn.exec_driver_sql("ALTER TABLE tbl_personal_ug ADD COLUMN qk_id INTEGER")
            conn.exec_driver_sql("UPDATE tbl_personal_ug SET qk_id = 302 WHERE per_id_ug = 2")
        else:
            conn.exec_driver_sql("ALTER TABLE tbl_personal_ug MODIFY qk_id INT NULL")
        # a record the earlier system created but left at 0
        conn.exec_driver_sql("UPDATE tbl_personal_ug SET qk_id = 4242 WHERE per_id_ug = 1")
    ensure_tracking_columns(empty_engine)
    ensure_tables(empty_engine)
    return Databases(mis=empty_engine, store=empty_engine, schema=inspect_schema(empty_engine))


def test_an_int_quickbooks_id_column_is_prelinked_too(legacy_int_qk_id):
    dbs = legacy_int_qk_id
    table = dbs.schema.students
    assert table.quickbooks_id.name == "qk_id"
    with dbs.mis.connect() as conn:
        raw = conn.execute(sa.select(table.quickbooks_id).where(table.row_id == 1)).scalar_one()
    assert isinstance(raw, int) and raw == 4242  # the column really is INT
    attempts = claim(dbs, STUDENT, [1, 2, 3], statuses=(0, 1, 2))
    pending, failed = map_claimed(dbs, STUDENT, attempts, MappingOptions())
    assert failed == []
    assert [(p.ref.row_id, p.prelinked) for p in pending] == [(1, "4242"), (2, "302"), (3, None)]
    assert pending[0].mapped.display_name == "Eric Nkusi"
