"""Two MIS records with one identity (a RegNo shared by two students, a tracking id by two
applicants): flagged by check, analyze and the Preview, and never sent, while the rest of
the batch syncs."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import record_rows, update_record

from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import Outcome, SyncStatus
from sync_core.service.check import run_check
from sync_core.sync.request import SyncRequest


def _share_reg_no(service) -> str:
    """Student 21 is given student 20's RegNo, as a typing slip in the MIS would."""
    reg_no = next(r[1] for r in record_rows(service, STUDENT) if r[0] == 20)
    update_record(service, STUDENT, 21, reg_no=reg_no)
    return reg_no


def test_a_shared_reg_no_is_flagged_everywhere_and_neither_record_is_sent(context, simulator):
    reg_no = _share_reg_no(context)
    # Preview: both records show why they will not go
    page = context.preview(STUDENT, limit=30)
    errors = {i.mapped.row_id: i.mapped.error for i in page.items}
    for row_id in (20, 21):
        assert errors[row_id] is not None
        assert f"2 student records in the MIS have the RegNo {reg_no!r}" in errors[row_id]
    assert errors[22] is None
    # analyze counts them; check names the problem
    assert context.analyze().students.shared_identity == 2
    assert context.analyze().as_dict()["overall"]["total_shared_identity"] == 2
    report = run_check(context.settings)
    assert report.duplicates["students_reg_no"] == {"values": 1, "records": 2}
    assert any("RegNo values are shared by 2 records" in p.what for p in report.problems)
    # a sync sends neither; the others go
    result = context.sync_engine().run(SyncRequest("students", operator="Registrar", limit=30))
    failed = {
        e["row_id"]: e["message"]
        for e in context.run_entries(result.run.id, outcome=Outcome.FAILED)
    }
    assert {20, 21} <= set(failed)
    assert "could not tell them apart" in failed[20]
    statuses = {r[0]: r[2] for r in record_rows(context, STUDENT)}
    assert statuses[20] == statuses[21] == SyncStatus.FAILED
    assert statuses[22] == SyncStatus.SYNCED
    names = {c["DisplayName"] for c in simulator.inspect().customers}
    assert not any(reg_no in (c.get("Notes") or "") for c in simulator.inspect().customers)
    assert len(names) == result.run.synced


def test_a_shared_tracking_id_holds_back_both_applicants(context):
    table = context.schema.applicants
    assert table.has("tracking_id")  # the demo MIS has the column, as the legacy one does
    with context.mis_engine.connect() as conn:
        value = conn.execute(
            sa.select(table.table.c.tracking_id).where(table.row_id == 5)
        ).scalar_one()
    update_record(context, APPLICANT, 6, tracking_id=value)
    page = context.preview(APPLICANT, limit=10)
    errors = {i.mapped.row_id: i.mapped.error for i in page.items}
    for row_id in (5, 6):
        assert f"2 applicant records in the MIS have the tracking id {value!r}" in errors[row_id]
    assert errors[7] is None
    assert context.analyze().applicants.shared_identity == 2
