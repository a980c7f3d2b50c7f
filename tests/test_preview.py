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


# ---------------------------------------------------------------- keyset pages


def _copy_row(engine, kind, row_id: int) -> int:
    """A new record at the end of the table, a copy of ``row_id`` (as a registrar adds one)."""
    found = inspect_schema(engine).customers(kind)
    table = sa.Table(found.table.name, sa.MetaData(), autoload_with=engine)
    key = table.c[found.row_id.name]
    with engine.begin() as conn:
        row = dict(conn.execute(sa.select(table).where(key == row_id)).one()._mapping)
        new_id = int(conn.execute(sa.select(sa.func.max(key))).scalar_one()) + 1
        row[key.name] = new_id
        conn.execute(table.insert().values(row))
    return new_id


def test_keyset_pages_cover_every_waiting_record_once_in_order_while_rows_change(demo_engine):
    schema = inspect_schema(demo_engine)
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        with demo_engine.connect() as conn:
            page = preview(conn, schema, APPLICANT, limit=100, after=after, total=0)
        seen += [i.source.row_id for i in page.items]
        pages += 1
        if pages == 2:  # between two pages: rows ahead synced, one already shown synced,
            set_status(demo_engine, APPLICANT, [250, 251], SyncStatus.SYNCED)
            set_status(demo_engine, APPLICANT, [5], SyncStatus.SYNCED)
            added = _copy_row(demo_engine, APPLICANT, 7)  # and a new record at the end
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(seen) and len(seen) == len(set(seen)), "in order, none twice"
    assert set(seen) == (set(range(1, 851)) - {250, 251}) | {added}
    assert pages == 9  # 850 - 2 + 1 records, 100 a page


def test_last_page_and_previous_pages_walk_back_to_the_first(demo_engine):
    schema = inspect_schema(demo_engine)
    with demo_engine.connect() as conn:
        last = preview(conn, schema, STUDENT, limit=100, last=True, total=0)
        assert [i.source.row_id for i in last.items] == list(range(1101, 1201))
        assert last.next_after is None and last.previous_before == 1101
        walked = [i.source.row_id for i in last.items]
        before = last.previous_before
        while before is not None:
            page = preview(conn, schema, STUDENT, limit=100, before=before, total=0)
            walked = [i.source.row_id for i in page.items] + walked
            assert page.next_after == page.items[-1].source.row_id
            before = page.previous_before
    assert walked == list(range(1, 1201))


def test_a_page_given_its_total_does_not_count_and_offset_still_works(demo_engine):
    schema = inspect_schema(demo_engine)
    statements: list[str] = []
    sa.event.listen(demo_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with demo_engine.connect() as conn:
        page = preview(conn, schema, APPLICANT, limit=10, after=500, total=12345)
        by_offset = preview(conn, schema, APPLICANT, limit=10, offset=500)
    assert page.total == 12345
    assert not any("count(" in s.lower() for s in statements[: len(statements) // 2])
    assert [i.source.row_id for i in page.items] == list(range(501, 511))
    assert [i.source.row_id for i in by_offset.items] == list(range(501, 511))
    assert by_offset.total == 850 and by_offset.next_after == 510
    with demo_engine.connect() as conn, pytest.raises(ValueError):
        preview(conn, schema, APPLICANT, offset=10, after=5)


def test_facade_totals_come_from_a_recent_analysis(context):
    statements: list[str] = []
    context.analyze()
    sa.event.listen(context.mis_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    first = context.preview("applicants", limit=5)
    following = context.preview("applicants", limit=5, after=first.next_after)
    assert first.total == following.total == 850
    assert [i.source.row_id for i in following.items] == [6, 7, 8, 9, 10]
    assert not any("count(" in s.lower() for s in statements), "no count per page"
