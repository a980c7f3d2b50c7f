"""The two kinds of MIS record that become QuickBooks Customers: applicants and students."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sync_core.mis import tables as mis_tables


@dataclass(frozen=True)
class RecordKind:
    name: str  # "applicant" / "student": how the product names the kind in tables and logs
    plural: str
    table: sa.Table
    row_id_column: str  # the table's primary key, used for every status write
    identity_column: str  # the record's identity towards QuickBooks and the operator
    identity_field: str  # its name among the seed's custom fields
    reference_prefix: str  # "APP 1234" / "REG 2021/BIT/001" in disambiguated names
    customer_type: str  # the seed's CustomerType value
    title: str  # "Applicants" / "Students"

    @property
    def row_id(self) -> sa.Column:
        return self.table.c[self.row_id_column]

    @property
    def identity(self) -> sa.Column:
        return self.table.c[self.identity_column]

    @property
    def status(self) -> sa.Column:
        return self.table.c.QuickBk_Status

    def reference(self, identity: str) -> str:
        return f"{self.reference_prefix} {identity}"


APPLICANT = RecordKind(
    name="applicant",
    plural="applicants",
    table=mis_tables.applicants,
    row_id_column="appl_Id",
    identity_column="appl_Id",
    identity_field="ApplicationID",
    reference_prefix="APP",
    customer_type="Applicant",
    title="Applicants",
)

STUDENT = RecordKind(
    name="student",
    plural="students",
    table=mis_tables.students,
    row_id_column="per_id_ug",
    identity_column="reg_no",
    identity_field="RegNo",
    reference_prefix="REG",
    customer_type="Student",
    title="Students",
)

KINDS: dict[str, RecordKind] = {APPLICANT.name: APPLICANT, STUDENT.name: STUDENT}


def kind_named(name: str) -> RecordKind:
    """Accept "applicant", "applicants", "student", "students" (any case)."""
    key = name.strip().lower().removesuffix("s")
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"unknown record kind {name!r}: use applicants or students") from None
