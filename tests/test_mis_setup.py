"""The tracking-column migration: additive, idempotent, never touching existing data."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sync_core.mis import tables as mis_tables
from sync_core.mis.migrations import SchemaError, ensure_schema
from sync_core.store import tables as app_tables


def _create_mis_as_found(engine) -> None:
    """The MIS as a university has it: no tracking columns (but qk_id on tbl_personal_ug)."""
    target = sa.MetaData()
    for table in mis_tables.metadata.sorted_tables:
        mis_tables.mis_table_as_found(table, target)
    target.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tbl_online_application (appl_Id, first_name, family_name, camp_id)"
                " VALUES (1, 'John', 'Doe', ' 3'), (2, 'Grace', NULL, '')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO tbl_personal_ug (per_id_ug, reg_no, prg_type, cntr_id, fname, qk_id)"
                " VALUES (10, '2021/BIT/001', 'UG Day', '1', 'Eric', '58')"
            )
        )


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


def test_migration_adds_tracking_columns_index_and_our_tables_twice_safely(empty_engine):
    _create_mis_as_found(empty_engine)
    before = _snapshot(empty_engine)
    assert "QuickBk_Status" not in _columns(empty_engine, "tbl_online_application")

    first = ensure_schema(empty_engine)
    assert "added column tbl_online_application.QuickBk_Status" in first.actions
    assert "added column tbl_personal_ug.pushed_by" in first.actions
    # the earlier system's qk_id on tbl_personal_ug is kept, not re-added
    assert "added column tbl_personal_ug.qk_id" not in first.actions
    assert "added column tbl_online_application.qk_id" in first.actions

    second = ensure_schema(empty_engine)
    assert second.actions == []

    for table in mis_tables.CUSTOMER_TABLES:
        assert set(mis_tables.TRACKING_COLUMN_NAMES) <= _columns(empty_engine, table.name)
        indexes = {ix["name"] for ix in sa.inspect(empty_engine).get_indexes(table.name)}
        assert mis_tables.status_index(table).name in indexes
    tables = set(sa.inspect(empty_engine).get_table_names())
    assert {t.name for t in app_tables.metadata.sorted_tables} <= tables

    assert _snapshot(empty_engine) == before  # existing data untouched
    with empty_engine.connect() as conn:
        statuses = conn.execute(
            sa.text("SELECT QuickBk_Status, pushed_by FROM tbl_online_application")
        ).all()
    assert statuses == [(0, "System Auto Push"), (0, "System Auto Push")]


def test_migration_refuses_a_database_without_the_mis_tables(empty_engine):
    with pytest.raises(SchemaError, match="tbl_online_application"):
        ensure_schema(empty_engine)
