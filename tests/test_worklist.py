"""The worklist's pages (the Records page): keyset pages, and counts not made per page."""

from __future__ import annotations

import sqlalchemy as sa

from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import SyncStatus
from sync_core.service import worklist as wl
from sync_core.service.worklist import WorklistFilter, WorkStatus
from tests.test_preview import set_status


def _all_pages(service, flt, limit, between=None):
    seen, cursor, pages = [], None, 0
    while True:
        page = wl.worklist_page(service, flt, after=cursor, limit=limit)
        seen += [(i.kind, i.row_id) for i in page.items]
        pages += 1
        if between is not None:
            between(pages)
        cursor = page.next_cursor
        if cursor is None:
            return seen, pages, page


def test_keyset_pages_cover_every_record_once_in_order_while_rows_change(context):
    flt = WorklistFilter(statuses=(WorkStatus.NOT_SYNCED,))

    def between(pages):
        if pages == 3:  # applicants ahead synced, a student ahead failed: they leave the list
            set_status(context.mis_engine, APPLICANT, [700, 701], SyncStatus.SYNCED)
            set_status(context.mis_engine, STUDENT, [10], SyncStatus.FAILED)

    seen, pages, last = _all_pages(context, flt, 200, between)
    applicants = [r for k, r in seen if k == "applicant"]
    students = [r for k, r in seen if k == "student"]
    assert [k for k, _ in seen] == ["applicant"] * len(applicants) + ["student"] * len(students)
    assert applicants == [r for r in range(1, 851) if r not in (700, 701)]
    assert students == [r for r in range(1, 1201) if r != 10]
    assert pages == 11 and last.matching == 2050, "the first page's count, carried along"


def test_later_pages_count_nothing_the_first_reuses_the_analysis(context):
    statements: list[str] = []
    context.analyze()
    sa.event.listen(context.mis_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    flt = WorklistFilter(kinds=("student",), statuses=(WorkStatus.NOT_SYNCED, WorkStatus.FAILED))
    first = wl.worklist_page(context, flt, limit=50)
    second = wl.worklist_page(context, flt, after=first.next_cursor, limit=50)
    assert first.matching == second.matching == 1200
    assert second.items[0].row_id == first.items[-1].row_id + 1
    assert not any("count(" in s.lower() for s in statements)


def test_a_filter_by_campus_is_counted_once_for_all_its_pages(context):
    choices = wl.lookups_for_filters(context)["campus"]
    flt = WorklistFilter(campus=choices[0][0])
    statements: list[str] = []
    first = wl.worklist_page(context, flt, limit=20)
    sa.event.listen(context.mis_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    second = wl.worklist_page(context, flt, after=first.next_cursor, limit=20)
    assert 0 < first.matching == second.matching
    assert not any("count(" in s.lower() for s in statements)
