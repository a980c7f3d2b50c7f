"""What was last sent for each synced record (``qbsync_record_sent``): the fingerprint of its
mapped fields and the fields themselves, so that a change in the MIS is seen, field by field,
without reading QuickBooks.

A row is written when a create or an update succeeds, when an existing customer is adopted or
linked (then it holds that customer's fields as QuickBooks had them), and when a record synced
before this table existed is first compared with its customer (then it holds the customer's
fields as read: the lazy first comparison). No row: never compared yet. ``mark`` asks the next
update to compare every mapped field with the customer (a re-push, or a student carrying on an
applicant's customer).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync_core.domain.clock import utcnow
from sync_core.domain.fingerprint import Canonical, fingerprint
from sync_core.store.tables import MYSQL_TABLE_ARGS, metadata

record_sent = sa.Table(
    "qbsync_record_sent",
    metadata,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("row_id", sa.Integer, primary_key=True),
    sa.Column("qk_id", sa.String(50), nullable=False),  # the customer the fields are of
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),  # the canonical fields, as JSON
    # created / updated / adopted / linked / compared (read from QuickBooks)
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    # "repush": compare every mapped field with the customer at the next update
    sa.Column("mark", sa.String(20)),
    sa.Column("marked_by", sa.String(200)),
    sa.Column("marked_at", sa.DateTime),
    **MYSQL_TABLE_ARGS,
)

REPUSH = "repush"
CHUNK = 500  # row ids per IN (...)


@dataclass(frozen=True)
class Sent:
    row_id: int
    qk_id: str
    fingerprint: str
    fields: Canonical
    source: str
    sent_at: dt.datetime
    mark: str | None = None


@dataclass(frozen=True)
class Baseline:
    """What to remember for one record."""

    row_id: int
    qk_id: str
    fields: Mapping[str, str]
    source: str


def load(conn: Connection, kind: str, row_ids: Iterable[int]) -> dict[int, Sent]:
    ids = sorted(set(row_ids))
    found: dict[int, Sent] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = sa.select(record_sent).where(
            record_sent.c.kind == kind, record_sent.c.row_id.in_(ids[start : start + CHUNK])
        )
        for row in conn.execute(stmt).mappings():
            found[int(row["row_id"])] = Sent(
                row_id=int(row["row_id"]),
                qk_id=str(row["qk_id"]),
                fingerprint=str(row["fingerprint"]),
                fields=_fields(row["fields"]),
                source=str(row["source"]),
                sent_at=row["sent_at"],
                mark=row["mark"],
            )
    return found


def customers_of(conn: Connection, kind: str, row_ids: Iterable[int]) -> dict[int, str]:
    """The customer each of these records' row is of (only the records that have a row)."""
    ids = sorted(set(row_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = sa.select(record_sent.c.row_id, record_sent.c.qk_id).where(
            record_sent.c.kind == kind, record_sent.c.row_id.in_(ids[start : start + CHUNK])
        )
        found.update((int(r[0]), str(r[1])) for r in conn.execute(stmt))
    return found


def known_rows(conn: Connection, kind: str, row_ids: Iterable[int]) -> set[int]:
    """Which of these records have a row."""
    return set(customers_of(conn, kind, row_ids))


def _fields(text: str | None) -> Canonical:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def remember(
    conn: Connection, kind: str, baselines: Sequence[Baseline], run_id: int | None = None
) -> None:
    """Write (or replace) each record's baseline; a mark is cleared (the record is as sent)."""
    if not baselines:
        return
    last = {b.row_id: b for b in baselines}  # the last word on a record wins
    existing = known_rows(conn, kind, last)
    now = utcnow()
    rows = [
        {
            "b_row_id": b.row_id,
            "qk_id": b.qk_id[:50],
            "fingerprint": fingerprint(b.fields),
            "fields": json.dumps(dict(b.fields), ensure_ascii=False),
            "source": b.source[:20],
            "sent_at": now,
            "run_id": run_id,
        }
        for b in last.values()
    ]
    updates = [r for r in rows if r["b_row_id"] in existing]
    inserts = [
        {**{k: v for k, v in r.items() if k != "b_row_id"}, "kind": kind, "row_id": r["b_row_id"]}
        for r in rows
        if r["b_row_id"] not in existing
    ]
    if updates:
        conn.execute(
            record_sent.update()
            .where(record_sent.c.kind == kind, record_sent.c.row_id == sa.bindparam("b_row_id"))
            .values(
                qk_id=sa.bindparam("qk_id"),
                fingerprint=sa.bindparam("fingerprint"),
                fields=sa.bindparam("fields"),
                source=sa.bindparam("source"),
                sent_at=sa.bindparam("sent_at"),
                run_id=sa.bindparam("run_id"),
                mark=None,
                marked_by=None,
                marked_at=None,
            ),
            updates,
        )
    if inserts:
        conn.execute(record_sent.insert(), inserts)


def mark(conn: Connection, kind: str, row_ids: Sequence[int], what: str, by: str) -> int:
    """Mark records whose baseline exists (answers how many were marked)."""
    if not row_ids:
        return 0
    result = conn.execute(
        record_sent.update()
        .where(record_sent.c.kind == kind, record_sent.c.row_id.in_(sorted(set(row_ids))))
        .values(mark=what, marked_by=by[:200], marked_at=utcnow())
    )
    return int(result.rowcount)


def forget(conn: Connection, kind: str, row_ids: Sequence[int]) -> None:
    """The record is no longer linked to the customer its baseline is of."""
    if row_ids:
        conn.execute(
            record_sent.delete().where(
                record_sent.c.kind == kind, record_sent.c.row_id.in_(sorted(set(row_ids)))
            )
        )
