"""Where a synced record stands against what was last sent: changed, never compared, marked for
a re-push, unchanged, cannot be sent, or carried on by its counterpart's customer.

Pure (no QuickBooks, no database): the counts of ``analyze`` and the Overview classify every
synced record without importing the QuickBooks client. The update phase
(:mod:`sync_core.sync.update`) classifies with the same rules and the same words; a test holds
the two to the same answers until that module imports these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sync_core.domain.enrolment import counterpart
from sync_core.domain.fingerprint import canonical_of_mapped, fingerprint
from sync_core.domain.kinds import APPLICANT
from sync_core.domain.mapping import MappedCustomer

CHANGED = "changed"  # its mapping differs from what was last sent
FIRST = "first comparison"  # never compared: its customer's fields stand for what was sent
REPUSH = "re-push"  # marked: every mapped field is compared with its customer
UNCHANGED = "unchanged"
CANNOT = "cannot be sent"  # its mapping fails (e.g. its RegNo became blank)
CARRIED_ON = "carried on"  # an applicant whose customer is its student's


class LastSent(Protocol):
    """What the store remembers of a record's last push (:class:`sync_core.store.sent.Sent`)."""

    @property
    def qk_id(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def mark(self) -> str | None: ...


def classify(
    mapped: MappedCustomer, row: Mapping[str, Any], qk_id: str, before: LastSent | None
) -> str:
    """One of CHANGED, FIRST, REPUSH, UNCHANGED, CANNOT, CARRIED_ON (no QuickBooks read)."""
    if carried_on(mapped, row, qk_id):
        return CARRIED_ON
    if not mapped.sendable:
        return CANNOT
    if before is None or before.qk_id != qk_id:
        return FIRST
    if before.mark:
        return REPUSH
    if before.fingerprint != fingerprint(canonical_of_mapped(mapped)):
        return CHANGED
    return UNCHANGED


def carried_on(mapped: MappedCustomer, row: Mapping[str, Any], qk_id: str) -> bool:
    """An applicant whose customer is also its student's: the student's record drives that
    customer, the applicant's changes are not sent to it."""
    if mapped.kind != APPLICANT.name or not mapped.enrolled_as:
        return False
    other = counterpart(mapped, row)
    return other is not None and str(other.get("qk_id") or "") == qk_id
