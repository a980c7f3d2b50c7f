"""The tracking columns as the sync reads them (sync_core/mis/tracking.py), on the demo MIS."""

from __future__ import annotations

from sync_core.domain.kinds import APPLICANT
from sync_core.mis.schema import inspect_schema
from sync_core.mis.tracking import synced_without_id


def test_records_synced_without_an_id_are_looked_at_in_turns_never_the_same_first_ones(
    demo_engine,
):
    """25 applicants at 1 with no Id, 10 looked up per run: runs 1, 2, 3 see different rows,
    and every row is seen within three runs (those whose customer is never found do not keep
    the others waiting forever)."""
    table = inspect_schema(demo_engine).customers(APPLICANT)
    with demo_engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id <= 25)
            .values({table.status: 1, table.quickbooks_id: None})
        )
    with demo_engine.connect() as conn:
        turns = [synced_without_id(conn, table, 10, turn=t) for t in range(3)]
        assert synced_without_id(conn, table, 10, turn=3) == turns[0][5:] + turns[1][:5]
    assert [len(t) for t in turns] == [10, 10, 10]
    assert turns[0] == list(range(1, 11)) and turns[1] == list(range(11, 21))
    assert turns[2] == [21, 22, 23, 24, 25, 1, 2, 3, 4, 5], "wraps around without repeats"
    assert set().union(*turns) == set(range(1, 26))
    with demo_engine.connect() as conn:
        assert synced_without_id(conn, table, 100, turn=7) == list(range(1, 26))
