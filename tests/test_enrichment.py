"""Enrichment against a real MIS (SQLite and MariaDB): readable names, fallbacks, latest
registration, and a constant number of queries per page."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from conftest import load_legacy_mis

from sync_core.demo.data import PLANTED_FAILURES
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.mis.lookups import load_lookups
from sync_core.mis.reader import fetch_records, latest_registrations
from sync_core.mis.schema import inspect_schema
from sync_core.mis.setup import ensure_tracking_columns


def legacy_schema(engine):
    """The tables of the legacy MIS script, empty, as the product inspects them."""
    load_legacy_mis(engine, inserts=False)
    ensure_tracking_columns(engine)
    return inspect_schema(engine)


class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.count = 0

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.count += 1


def test_a_page_costs_a_constant_number_of_queries(demo_engine):
    schema = inspect_schema(demo_engine)
    # the rows (+ latest registrations; on SQLite the page's row ids first, from the status
    # index), one query per lookup table, the enrolment link, the identities another record
    # shares
    ids_first = 1 if demo_engine.dialect.name == "sqlite" else 0
    for kind, expected in (
        (APPLICANT, 1 + ids_first + 5 + 1 + 1),
        (STUDENT, 2 + ids_first + 6 + 1 + 1),
    ):
        counts = []
        for page_size in (10, 100):
            with demo_engine.connect() as conn, QueryCounter(demo_engine) as counter:
                page = fetch_records(conn, schema, kind, statuses=[0], limit=page_size)
                page.mapped()
            assert len(page.records) == page_size
            counts.append(counter.count)
        assert counts[0] == counts[1] <= expected  # whatever the page size


def test_lookup_ids_with_spaces_blanks_zero_and_dangling_fall_back(demo_engine):
    with demo_engine.connect() as conn:
        lookups = load_lookups(
            conn,
            inspect_schema(demo_engine),
            {"campus": [" 1", "1 ", "", None, "0", "99", "abc"]},
        )
        name = lookups.resolve("campus", "1").value
    assert name and not name.isdigit()
    assert lookups.resolve("campus", " 1").value == name
    assert lookups.resolve("campus", "1 ").value == name
    assert lookups.resolve("campus", "").value == ""
    assert lookups.resolve("campus", None).value == ""
    assert lookups.resolve("campus", "0").value == ""
    dangling = lookups.resolve("campus", "99")
    assert dangling.value == "99" and "not found" in dangling.warning
    assert lookups.resolve("campus", "abc").value == "abc"


def test_readable_names_fall_back_to_short_names_and_intake_dates(empty_engine):
    schema = legacy_schema(empty_engine)
    campus = sa.text(
        "INSERT INTO tbl_campus (camp_id, camp_full_name, camp_short_name, camp_city, camp_yor,"
        " camp_active, camp_comments) VALUES (:id, :full, :short, '', '2010-01-01', 1, '')"
    )
    intake = sa.text(
        "INSERT INTO tbl_intake (intake_id, prg_type, acad_cycle_id, intake_no, intake_month,"
        " intake_start, intake_end) VALUES (:intake_id, '1', 1, :intake_no, :intake_month,"
        " :intake_start, '2030-01-01')"
    )
    with empty_engine.begin() as conn:
        conn.execute(
            campus,
            [
                {"id": 1, "full": "Kigali Campus", "short": "KGL"},
                {"id": 2, "full": "  ", "short": "RWG"},
                {"id": 3, "full": "", "short": ""},
            ],
        )
        conn.execute(
            intake,
            [
                {
                    "intake_id": 1,
                    "intake_month": "September",
                    "intake_start": dt.datetime(2025, 9, 1),
                    "intake_no": 1,
                },
                {
                    "intake_id": 2,
                    "intake_month": "",
                    "intake_start": dt.datetime(2024, 1, 15),
                    "intake_no": 1,
                },
            ],
        )
    with empty_engine.connect() as conn:
        lookups = load_lookups(conn, schema, {"campus": ["1", "2", "3"], "intake": ["1", "2", "3"]})
    assert lookups.resolve("campus", "1").value == "Kigali Campus"
    assert lookups.resolve("campus", "2").value == "RWG"
    nameless = lookups.resolve("campus", "3")
    assert nameless.value == "3" and "has no name" in nameless.warning
    assert lookups.resolve("intake", "1").value == "September 2025"
    assert lookups.resolve("intake", "2").value == "January 2024"


def test_students_take_their_latest_active_registration(empty_engine):
    schema = legacy_schema(empty_engine)
    reg = sa.table(
        "tbl_register_program_ug",
        *(
            sa.column(c)
            for c in (
                "reg_prg_id",
                "reg_no",
                "intake_id",
                "prg_id",
                "splz_id",
                "level_id",
                "prg_mode_id",
                "prg_type",
                "camp_id",
                "reg_date",
                "reg_active",
                "status_comment",
                "Availability",
            )
        ),
    )
    base = {
        "intake_id": 1,
        "prg_id": 1,
        "splz_id": 1,
        "level_id": 1,
        "prg_mode_id": 1,
        "prg_type": "UG",
        "status_comment": "",
        "Availability": "",
    }
    with empty_engine.begin() as conn:
        conn.execute(
            reg.insert(),
            [
                # S1: newest row inactive, an older row active -> the active one
                {
                    **base,
                    "reg_prg_id": 1,
                    "reg_no": "S1",
                    "camp_id": 1,
                    "reg_date": dt.datetime(2023, 9, 1),
                    "reg_active": 1,
                },
                {
                    **base,
                    "reg_prg_id": 2,
                    "reg_no": "S1",
                    "camp_id": 2,
                    "reg_date": dt.datetime(2024, 9, 1),
                    "reg_active": 0,
                },
                # S2: two active rows on the same date -> the greater reg_prg_id
                {
                    **base,
                    "reg_prg_id": 3,
                    "reg_no": "S2",
                    "camp_id": 1,
                    "reg_date": dt.datetime(2024, 9, 1),
                    "reg_active": 1,
                },
                {
                    **base,
                    "reg_prg_id": 4,
                    "reg_no": "S2",
                    "camp_id": 3,
                    "reg_date": dt.datetime(2024, 9, 1),
                    "reg_active": 1,
                },
                # S3: only inactive rows -> the latest of them
                {
                    **base,
                    "reg_prg_id": 5,
                    "reg_no": "S3",
                    "camp_id": 1,
                    "reg_date": dt.datetime(2022, 9, 1),
                    "reg_active": 0,
                },
                {
                    **base,
                    "reg_prg_id": 6,
                    "reg_no": "S3",
                    "camp_id": 4,
                    "reg_date": dt.datetime(2023, 9, 1),
                    "reg_active": 0,
                },
            ],
        )
    with empty_engine.connect() as conn:
        latest = latest_registrations(conn, schema, ["S1", "S2", "S3", "S4"])
    assert latest["S1"]["reg_prg_id"] == 1
    assert latest["S2"]["reg_prg_id"] == 4
    assert latest["S3"]["reg_prg_id"] == 6
    assert "S4" not in latest


def test_every_demo_record_maps_to_a_sendable_payload(demo_engine):
    """Complete coverage: all 2,050 demo records map, none with an empty payload; only the
    records the demo plants for the registrar to fix cannot be sent."""
    schema = inspect_schema(demo_engine)
    with demo_engine.connect() as conn:
        for kind in (APPLICANT, STUDENT):
            page = fetch_records(conn, schema, kind)
            mapped = page.mapped()
            assert len(mapped) == (850 if kind is APPLICANT else 1200)
            planted = {f.row_id: f for f in PLANTED_FAILURES if f.kind == kind.name}
            assert {m.row_id for m in mapped if not m.sendable} == set(planted)
            for m in mapped:
                if m.row_id in planted:
                    reason = (
                        "RegNo is empty"
                        if planted[m.row_id].column == "reg_no"
                        else "only characters QuickBooks refuses"
                    )
                    assert reason in (m.error or "")
                    continue
                assert m.display_name and len(m.display_name) <= 500
                assert ":" not in m.display_name
                assert m.payload["Notes"].startswith(f"CustomerType: {kind.customer_type}\n")
