"""An applicant who enrolled: the MIS's link between the applicant and the student they became,
and what it means for their customers under SYNC_STUDENT_CUSTOMER. Pure.

``separate`` (the default, the seed's behaviour): the student gets a customer of their own, named
per the clash rules ("John Doe (REG 2025/BBA/004)" when the applicant holds "John Doe").
``continue``: the applicant's customer becomes the student's (CustomerType Student, the RegNo
added and the ApplicationID kept in its Notes, the student's fields): one customer per person.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_core.domain.kinds import APPLICANT
from sync_core.domain.mapping import ENROLMENT, MappedCustomer
from sync_core.domain.statuses import SyncStatus

SEPARATE, CONTINUE = "separate", "continue"


def counterpart(mapped: MappedCustomer, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The other record of the pair as the reader found it (row id, identity, status, qk_id,
    in_scope), when the MIS links exactly one."""
    key = "students" if mapped.kind == APPLICANT.name else "applicants"
    wanted = mapped.enrolled_as if mapped.kind == APPLICANT.name else mapped.enrolled_from
    found = [c for c in (row.get(ENROLMENT) or {}).get(key, []) if c.get("identity") == wanted]
    return found[0] if wanted and len(found) == 1 else None


def _pending(other: Mapping[str, Any]) -> bool:
    status = SyncStatus.of(other.get("status"))
    if status is SyncStatus.IN_PROGRESS:
        return True
    return status is SyncStatus.NOT_SYNCED and bool(other.get("in_scope", True))


def waits_for_counterpart(mapped: MappedCustomer, row: Mapping[str, Any]) -> bool:
    """With SYNC_STUDENT_CUSTOMER=continue, a record not to create on its own: a student whose
    applicant has a customer (or will, in this or the next run of applicants), an applicant
    whose student has one. It is linked to that customer after the creates
    (:mod:`sync_core.sync.update`), never created as a second customer of the person."""
    if not mapped.continues:
        return False
    other = counterpart(mapped, row)
    if other is None:
        return False
    if other.get("qk_id"):
        return True
    return mapped.kind != APPLICANT.name and _pending(other)


def describe_link(mapped: MappedCustomer, mode: str) -> str | None:
    """What the operator reads on the Records and Preview pages, before pushing."""
    if mapped.kind == APPLICANT.name:
        if not mapped.enrolled_as:
            return None
        if mode == CONTINUE:
            return (
                f"Enrolled as student {mapped.enrolled_as}. SYNC_STUDENT_CUSTOMER=continue: this "
                "applicant's customer becomes the student's (CustomerType Student, the RegNo "
                "and the student's fields; the ApplicationID kept): one customer for the person."
            )
        return (
            f"Enrolled as student {mapped.enrolled_as}. SYNC_STUDENT_CUSTOMER=separate: the "
            "student gets a customer of their own (named with its RegNo if the name is taken); "
            "this applicant's customer stays as it is."
        )
    if not mapped.enrolled_from:
        return None
    if mode == CONTINUE:
        return (
            f"Was applicant {mapped.enrolled_from}. SYNC_STUDENT_CUSTOMER=continue: this student "
            "carries on the applicant's customer (updated to the student's fields, its Notes "
            "keeping the ApplicationID); no second customer is created."
        )
    return (
        f"Was applicant {mapped.enrolled_from}. SYNC_STUDENT_CUSTOMER=separate: this student "
        "gets a customer of their own, beside the applicant's (named with its RegNo if the "
        "name is taken)."
    )
