"""The two kinds of MIS record that become QuickBooks Customers: applicants and students."""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.domain.errors import InvalidRequest


@dataclass(frozen=True)
class RecordKind:
    name: str  # "applicant" / "student": how the product names the kind in tables and logs
    plural: str
    identity_field: str  # the identity's name among the seed's custom fields
    reference_prefix: str  # "APP 1234" / "REG 2021/BIT/001" in disambiguated names
    customer_type: str  # the seed's CustomerType value
    title: str  # "Applicants" / "Students"

    def reference(self, identity: str) -> str:
        return f"{self.reference_prefix} {identity}"


APPLICANT = RecordKind(
    name="applicant",
    plural="applicants",
    identity_field="ApplicationID",
    reference_prefix="APP",
    customer_type="Applicant",
    title="Applicants",
)

STUDENT = RecordKind(
    name="student",
    plural="students",
    identity_field="RegNo",
    reference_prefix="REG",
    customer_type="Student",
    title="Students",
)

KINDS: dict[str, RecordKind] = {APPLICANT.name: APPLICANT, STUDENT.name: STUDENT}


def kind_named(name: str | RecordKind) -> RecordKind:
    """Accept a kind, or "applicant", "applicants", "student", "students" (any case)."""
    if isinstance(name, RecordKind):
        return name
    key = name.strip().lower().removesuffix("s")
    try:
        return KINDS[key]
    except KeyError:
        raise InvalidRequest(f"unknown record kind {name!r}: use applicants or students") from None


@dataclass(frozen=True, order=True)
class RecordRef:
    """One MIS record: its kind and its row id (the table's primary key)."""

    kind: str  # "applicant" / "student"
    row_id: int
