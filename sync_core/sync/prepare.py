"""Stage 2, map: read the claimed records and turn each into the exact payload it is sent as,
or a readable reason it cannot be sent at all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync_core.domain.enrolment import waits_for_counterpart
from sync_core.domain.kinds import RecordKind, RecordRef
from sync_core.domain.mapping import MappingOptions
from sync_core.mis.reader import fetch_records
from sync_core.store.record_state import Attempt
from sync_core.sync.claim import Databases, release
from sync_core.sync.outcomes import Failed, Pending

FIX_IN_MIS = "Correct the record in the MIS, then retry it."


def map_claimed(
    dbs: Databases, kind: RecordKind, attempts: Sequence[Attempt], options: MappingOptions
) -> tuple[list[Pending], list[Failed]]:
    with dbs.mis.connect() as conn:
        page = fetch_records(conn, dbs.schema, kind, row_ids=[a.row_id for a in attempts])
    mapped = {m.row_id: m for m in page.mapped(options)}
    qk_ids = {r.row_id: r.qk_id for r in page.records}
    rows = {r.row_id: r.row for r in page.records}
    pending: list[Pending] = []
    invalid: list[Failed] = []
    for attempt in attempts:
        m = mapped.get(attempt.row_id)
        if m is None:
            invalid.append(
                Failed(
                    RecordRef(kind.name, attempt.row_id),
                    str(attempt.row_id),
                    None,
                    None,
                    "The record is no longer in the MIS",
                    "Nothing to do if it was deleted on purpose; otherwise restore it in the MIS.",
                )
            )
        elif not m.sendable:
            invalid.append(
                Failed(
                    RecordRef(kind.name, attempt.row_id),
                    m.identity,
                    m.display_name,
                    "MIS",
                    m.error or "",
                    FIX_IN_MIS,
                )
            )
        else:
            pending.append(Pending(m, attempt, qk_ids.get(attempt.row_id)))
    if options.continues_applicants:
        pending = _without_continuations(dbs, pending, rows)
    return pending, invalid


def _without_continuations(
    dbs: Databases, pending: list[Pending], rows: dict[int, dict[str, Any]]
) -> list[Pending]:
    """SYNC_STUDENT_CUSTOMER=continue: a record whose applicant (or student) has the person's
    customer is not created on its own; it goes back unsent and is linked to that customer
    after the creates (:func:`sync_core.sync.update.run_updates`). Not when an earlier attempt
    may have created a customer for it (that is looked up first), nor when the MIS holds an Id
    of its own."""
    deferred = [
        p
        for p in pending
        if not p.attempt.previously_unknown
        and not p.prelinked
        and waits_for_counterpart(p.mapped, rows.get(p.mapped.row_id, {}))
    ]
    if deferred:
        release(dbs, [p.ref for p in deferred])
    held = {p.ref for p in deferred}
    return [p for p in pending if p.ref not in held]
