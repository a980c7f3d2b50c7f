"""Analysis counts and preview pagination on the demo MIS (SQLite and MariaDB)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.schema import inspect_schema
from sync_core.service.analysis import StatusCounts, analyze
from sync_core.service.preview import preview


def set_status(engine, kind, row_ids, status):
    table = inspect_schema(engine).customers(kind)
    with engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id.in_(list(row_ids)))
            .values({table.status: status})
        )


def test_analysis_counts_each_status_per_kind_and_overall(demo_engine):
    with demo_engine.connect() as conn:
        fresh = analyze(conn, inspect_schema(demo_engine))
    assert fresh.applicants == StatusCounts(total=850, not_synced=850)
    assert fresh.students == StatusCounts(total=1200, not_synced=1200)
    set_status(demo_engine, APPLICANT, range(1, 101), SyncStatus.SYNCED)
    set_status(demo_engine, APPLICANT, range(101, 111), SyncStatus.FAILED)
    set_status(demo_engine, STUDENT, range(1, 4), SyncStatus.IN_PROGRESS)
    set_status(demo_engine, STUDENT, [4], None)  # a NULL left by an older system: not synced
    with demo_engine.connect() as conn:
        result = analyze(conn, inspect_schema(demo_engine))
    assert result.applicants == StatusCounts(
        total=850, synced=100, not_synced=740, failed=10, in_progress=0, synced_without_id=100
    )
    assert result.students == StatusCounts(total=1200, not_synced=1197, in_progress=3)
    assert result.applicants.progress_pct == 11.7
    overall = result.as_dict()["overall"]
    assert overall == {
        "total_customers": 2050,
        "total_synced": 100,
        "total_not_synced": 1937,
        "total_failed": 10,
        "total_in_progress": 3,
        "total_out_of_scope": 0,
        "total_synced_without_id": 100,
        "total_shared_identity": 0,
        "progress_pct": 4.8,
    }


def test_progress_never_rounds_up_to_100_percent():
    assert StatusCounts(total=2050, synced=2049).progress_pct == 99.9
    assert StatusCounts(total=0).progress_pct == 0.0


def test_analysis_is_two_grouped_queries_per_table(demo_engine):
    """The statuses in one grouped query, the identities two records share in another: never
    a query per status or per record."""
    schema = inspect_schema(demo_engine)
    statements = []
    sa.event.listen(demo_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with demo_engine.connect() as conn:
        analyze(conn, schema)
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 4 and all("GROUP BY" in q.upper() for q in queries)


def test_preview_pages_through_not_yet_synced_records(demo_engine):
    schema = inspect_schema(demo_engine)
    with demo_engine.connect() as conn:
        first = preview(conn, schema, APPLICANT)
        second = preview(conn, schema, APPLICANT, limit=10, offset=10)
        big = preview(conn, schema, STUDENT, limit=500)
        tail = preview(conn, schema, APPLICANT, limit=100, offset=800)
    assert first.limit == 10 and len(first.items) == 10 and first.total == 850
    assert [i.source.row_id for i in first.items] == list(range(1, 11))
    assert [i.source.row_id for i in second.items] == list(range(11, 21))
    assert big.limit == 100 and len(big.items) == 100  # capped at 100
    assert len(tail.items) == 50
    item = first.items[0]
    assert item.mapped.payload["DisplayName"]
    assert item.source.row["appl_Id"] == 1
    with demo_engine.connect() as conn, pytest.raises(ValueError):
        preview(conn, schema, APPLICANT, limit=0)


def test_preview_skips_synced_records(demo_engine):
    set_status(demo_engine, APPLICANT, range(1, 6), SyncStatus.SYNCED)
    schema = inspect_schema(demo_engine)
    with demo_engine.connect() as conn:
        page = preview(conn, schema, APPLICANT, limit=3)
    assert page.total == 845
    assert [i.source.row_id for i in page.items] == [6, 7, 8]


def test_preview_shows_warnings_of_the_messy_demo_rows(demo_engine):
    schema = inspect_schema(demo_engine)
    with demo_engine.connect() as conn:
        applicants = preview(conn, schema, APPLICANT, limit=60)
        students = preview(conn, schema, STUDENT, limit=60)
    warnings = [w for p in (applicants, students) for i in p.items for w in i.mapped.warnings]
    assert any("not an address" in w for w in warnings)
    assert any("not a phone number" in w for w in warnings)
    assert any("not found in the MIS" in w for w in warnings)
    assert any("no name in the MIS" in w for w in warnings)
    assert any("no registration" in w for w in warnings)
