"""The tracking-column setup: additive, idempotent, never touching existing data; and the
product's own tables."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import load_legacy_mis

from sync_core.domain.errors import SchemaProblem
from sync_core.mis.schema import inspect_schema
from sync_core.mis.setup import ensure_tracking_columns
from sync_core.store import tables as store_tables
from sync_core.store.setup import ensure_tables

# The seed's tables as a university has them before any sync: no tracking columns at all on
# applicants, the earlier system's qk_id (only) on students.
SEED_SHAPE = (
    "CREATE TABLE tbl_online_application (appl_Id INT NOT NULL PRIMARY KEY,"
    " tracking_id VARCHAR(200), first_name VARCHAR(200), family_name VARCHAR(200),"
    " camp_id VARCHAR(50))",
    "CREATE TABLE tbl_personal_ug (per_id_ug INT NOT NULL PRIMARY KEY,"
    " reg_no VARCHAR(200) NOT NULL, prg_type VARCHAR(50) NOT NULL, cntr_id VARCHAR(50) NOT NULL,"
    " fname VARCHAR(250), lname VARCHAR(100), qk_id VARCHAR(255))",
    "INSERT INTO tbl_online_application (appl_Id, first_name, family_name, camp_id)"
    " VALUES (1, 'John', 'Doe', ' 3'), (2, 'Grace', NULL, '')",
    "INSERT INTO tbl_personal_ug (per_id_ug, reg_no, prg_type, cntr_id, fname, qk_id)"
    " VALUES (10, '2021/BIT/001', 'UG Day', '1', 'Eric', '58')",
)


def _create(engine, statements) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def _snapshot(engine):
    with engine.connect() as conn:
        applicants = conn.execute(
            sa.text(
                "SELECT appl_Id, first_name, family_name, camp_id FROM tbl_online_application"
                " ORDER BY appl_Id"
            )
        ).all()
        students = conn.execute(
            sa.text("SELECT per_id_ug, reg_no, fname, qk_id FROM tbl_personal_ug")
        ).all()
    return applicants, students


def _status_indexes(engine, table: str) -> list[str]:
    return [
        ix["name"]
        for ix in sa.inspect(engine).get_indexes(table)
        if ix["column_names"] and ix["column_names"][0].lower() == "quickbk_status"
    ]


def test_tracking_columns_and_index_are_added_twice_safely(empty_engine):
    _create(empty_engine, SEED_SHAPE)
    before = _snapshot(empty_engine)

    first = ensure_tracking_columns(empty_engine)
    assert "added column tbl_online_application.QuickBk_Status" in first
    assert "added column tbl_personal_ug.pushed_by" in first
    # the earlier system's qk_id on tbl_personal_ug is kept, not re-added
    assert "added column tbl_personal_ug.qk_id" not in first
    assert "added column tbl_online_application.qk_id" in first
    assert ensure_tracking_columns(empty_engine) == []

    for table in ("tbl_online_application", "tbl_personal_ug"):
        assert {"QuickBk_Status", "pushed_by", "pushed_date", "qk_id"} <= _columns(
            empty_engine, table
        )
        assert len(_status_indexes(empty_engine, table)) == 1

    assert _snapshot(empty_engine) == before  # existing data untouched
    with empty_engine.connect() as conn:
        statuses = conn.execute(
            sa.text("SELECT QuickBk_Status, pushed_by FROM tbl_online_application")
        ).all()
    assert statuses == [(0, "System Auto Push"), (0, "System Auto Push")]


def test_the_legacy_mis_gets_only_an_index_never_a_second_column(empty_engine):
    """QuickBk_status (lower-case s), quickbooks_id and sync_token are the MIS's own."""
    load_legacy_mis(empty_engine)
    before = {t: _columns(empty_engine, t) for t in ("tbl_online_application", "tbl_personal_ug")}
    actions = ensure_tracking_columns(empty_engine)
    assert all(a.startswith("created index") for a in actions), actions
    assert ensure_tracking_columns(empty_engine) == []
    for table, columns in before.items():
        assert _columns(empty_engine, table) == columns
    schema = inspect_schema(empty_engine)
    assert schema.applicants.quickbooks_id.name == "quickbooks_id"
    assert schema.applicants.status.name == "QuickBk_status"
    assert schema.students.quickbooks_id.name == "qk_id"
    assert schema.students.sync_token is not None


def test_our_tables_are_created_once(empty_engine):
    created = ensure_tables(empty_engine)
    assert len(created) == len(store_tables.metadata.sorted_tables)
    assert ensure_tables(empty_engine) == []
    names = set(sa.inspect(empty_engine).get_table_names())
    assert {t.name for t in store_tables.metadata.sorted_tables} <= names


def test_a_database_without_the_mis_tables_is_named_as_such(empty_engine):
    with pytest.raises(SchemaProblem, match="tbl_online_application"):
        inspect_schema(empty_engine)
