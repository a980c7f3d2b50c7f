"""The MIS as found: which of the columns customer sync reads exist in the live tables, under
which spelling, and which tracking columns each customer table uses.

The product does not declare the MIS tables: a university's MIS carries many columns it never
reads and lacks some a generator might invent, and declares the same id as INT in one
installation and VARCHAR in another. So the tables are inspected at start, and each column the
mapping uses is bound under its canonical name (``Column.key``, the spelling of
``shared/spec/mis-schema.md``) to the column the live table has, compared without regard to
case, as MySQL/MariaDB compare column names. SQL then renders the real name; rows come back
under the canonical one (:meth:`CustomerTable.select_columns`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from sync_core.domain.errors import SchemaProblem
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind
from sync_core.domain.lookups import LOOKUPS
from sync_core.domain.records import PUSHED_BY, PUSHED_DATE, QUICKBOOKS_ID, STATUS
from sync_core.mis.server import ServerFeatures, detect_features

APPLICANTS_TABLE = "tbl_online_application"
STUDENTS_TABLE = "tbl_personal_ug"
REGISTRATIONS_TABLE = "tbl_register_program_ug"

SYNC_TOKEN = "sync_token"
# The QuickBooks Id column each table may already have, in order of preference: the university's
# invoice and payment syncs read quickbooks_id on applicants and qk_id on students.
ID_COLUMN_NAMES = {
    APPLICANT.name: ("quickbooks_id", "qk_id"),
    STUDENT.name: ("qk_id", "quickbooks_id"),
}


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str  # the primary key: the row id
    identity: str  # the record's identity towards QuickBooks and the operator
    required: tuple[str, ...]  # without these the table cannot be used
    optional: tuple[str, ...]  # without these a field is left empty (and the operator told)


APPLICANTS = TableSpec(
    APPLICANTS_TABLE,
    key="appl_Id",
    identity="appl_Id",
    required=("appl_Id", "first_name", "family_name"),
    optional=(
        "tracking_id",
        "reg_no",
        "middlename",
        "dob",
        "sex",
        "phone1",
        "email1",
        "country_of_birth",
        "nation_Id_passPort_no",
        "camp_id",
        "opt_1",
        "intake_id",
        "level_id",
        "prg_mode_id",
        "appl_date",
        "status",
    ),
)
STUDENTS = TableSpec(
    STUDENTS_TABLE,
    key="per_id_ug",
    identity="reg_no",
    required=("per_id_ug", "reg_no", "fname", "lname"),
    optional=(
        "prg_type",
        "sex",
        "middlename",
        "dob",
        "national_id",
        "cntr_id",
        "nationality",
        "phone1",
        "phone2",
        "email1",
        "email2",
        "reg_date",
    ),
)
REGISTRATIONS = TableSpec(
    REGISTRATIONS_TABLE,
    key="reg_prg_id",
    identity="reg_no",
    required=("reg_prg_id", "reg_no"),
    optional=(
        "intake_id",
        "splz_id",
        "level_id",
        "prg_mode_id",
        "camp_id",
        "reg_date",
        "reg_active",
    ),
)
CUSTOMER_SPECS = {APPLICANT.name: APPLICANTS, STUDENT.name: STUDENTS}

# What a missing column costs: the Customer field it feeds (shown with the warning).
FEEDS = {
    "tracking_id": "TrackingID",
    "reg_no": "the applicant-to-student link",
    "middlename": "MiddleName",
    "dob": "nothing sent (date of birth is not synced)",
    "sex": "Gender",
    "phone1": "PrimaryPhone",
    "email1": "PrimaryEmailAddr",
    "country_of_birth": "BirthCountry",
    "nation_Id_passPort_no": "NationalID",
    "camp_id": "Campus",
    "opt_1": "Program",
    "intake_id": "Intake",
    "level_id": "Level",
    "prg_mode_id": "ProgramMode",
    "appl_date": "the applicants-from date of the sync scope",
    "status": "the application-status filter of the sync scope",
    "prg_type": "ProgramType",
    "national_id": "NationalID",
    "cntr_id": "nothing sent",
    "nationality": "nothing sent",
    "phone2": "nothing sent",
    "email2": "nothing sent",
    "reg_date": "nothing sent",
}
REGISTRATION_FEEDS = "Level, Campus, Intake, Program and ProgramMode of students"
TRACKING_COLUMNS = (STATUS, PUSHED_BY, PUSHED_DATE)


@dataclass(frozen=True)
class CustomerTable:
    """One customer table as found, its columns bound under their canonical names."""

    kind: RecordKind
    spec: TableSpec
    table: sa.Table
    missing: tuple[str, ...] = ()  # optional columns the live table lacks
    # the condition of the office's sync scope (mis/scope.py); None: every record is in scope
    in_scope: sa.ColumnElement[bool] | None = None

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def row_id(self) -> sa.Column[Any]:
        return self.table.c[self.spec.key]

    @property
    def identity(self) -> sa.Column[Any]:
        return self.table.c[self.spec.identity]

    @property
    def status(self) -> sa.Column[Any]:
        return self.table.c[STATUS]

    @property
    def quickbooks_id(self) -> sa.Column[Any]:
        return self.table.c[QUICKBOOKS_ID]

    @property
    def sync_token(self) -> sa.Column[Any] | None:
        return self.table.c.get(SYNC_TOKEN)

    def has(self, key: str) -> bool:
        return key in self.table.c

    def select_columns(self) -> list[sa.Label[Any]]:
        """Every bound column, labelled with its canonical name."""
        return [column.label(column.key) for column in self.table.c]


@dataclass(frozen=True)
class MisSchema:
    applicants: CustomerTable
    students: CustomerTable
    registrations: sa.Table | None
    lookups: Mapping[str, sa.Table] = field(default_factory=dict)  # by lookup name ("campus")
    features: ServerFeatures = field(default_factory=lambda: ServerFeatures("unknown", ""))

    def customers(self, kind: RecordKind) -> CustomerTable:
        return self.applicants if kind is APPLICANT else self.students

    @property
    def customer_tables(self) -> tuple[CustomerTable, CustomerTable]:
        return (self.applicants, self.students)

    def warnings(self) -> list[str]:
        """What the MIS lacks that the mapping would use, one line each, for the Preview, the
        Overview, ``analyze`` and ``check``."""
        lines = [
            f"{table.name} has no column {column}: {_cost(column)}"
            for table in self.customer_tables
            for column in table.missing
        ]
        if self.registrations is None:
            lines.append(f"{REGISTRATIONS_TABLE} not found: {REGISTRATION_FEEDS} are sent empty")
        for spec in LOOKUPS.values():
            if spec.name not in self.lookups:
                lines.append(
                    f"{spec.table} not found: {spec.label} ids are sent as they are, not as names"
                )
        return lines


def _cost(column: str) -> str:
    feeds = FEEDS.get(column, "nothing sent")
    if feeds.startswith("nothing") or feeds.startswith("the "):
        return feeds if not feeds.startswith("the ") else f"{feeds} is not available"
    return f"{feeds} is not sent"


# ---------------------------------------------------------------- inspection


def live_columns(inspector: sa.Inspector, table: str) -> list[dict[str, Any]]:
    """The table's columns as reflected. A type the dialect cannot rebuild exactly (SQLite's
    ``TINYINT(1)``) is taken without its arguments, silently: only its name matters here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Could not instantiate type", sa.exc.SAWarning)
        return [dict(c) for c in inspector.get_columns(table)]


def _columns_by_lower_name(inspector: sa.Inspector, table: str) -> dict[str, dict[str, Any]]:
    return {c["name"].lower(): c for c in live_columns(inspector, table)}


def _bind(
    table_name: str, found: Mapping[str, Mapping[str, Any]], wanted: Iterable[str]
) -> tuple[sa.Table, tuple[str, ...]]:
    """A Table holding the ``wanted`` columns that exist, each keyed by its canonical name."""
    columns: list[sa.Column[Any]] = []
    missing: list[str] = []
    seen: set[str] = set()
    for key in wanted:
        if key in seen:
            continue
        seen.add(key)
        live = found.get(key.lower())
        if live is None:
            missing.append(key)
            continue
        columns.append(sa.Column(live["name"], live["type"], key=key))
    return sa.Table(table_name, sa.MetaData(), *columns), tuple(missing)


def _customer_table(inspector: sa.Inspector, kind: RecordKind, table_names: set[str]) -> Any:
    spec = CUSTOMER_SPECS[kind.name]
    if spec.name.lower() not in table_names:
        return None
    actual = next(t for t in inspector.get_table_names() if t.lower() == spec.name.lower())
    found = _columns_by_lower_name(inspector, actual)
    absent = [c for c in spec.required if c.lower() not in found]
    if absent:
        raise SchemaProblem(
            f"{spec.name} has no column {', '.join(absent)}: the {kind.name}s cannot be read",
            what_to_do="Point MIS_DATABASE_URL at the MIS database, or ask the DBA which "
            "column holds this value.",
        )
    id_column = next((n for n in ID_COLUMN_NAMES[kind.name] if n in found), None)
    table, missing = _bind(
        actual,
        found,
        [*spec.required, *spec.optional, *TRACKING_COLUMNS, SYNC_TOKEN],
    )
    if id_column is not None:
        live = found[id_column]
        table.append_column(sa.Column(live["name"], live["type"], key=QUICKBOOKS_ID))
    tracking_missing = {STATUS, PUSHED_BY, PUSHED_DATE, SYNC_TOKEN}
    missing = tuple(m for m in missing if m not in tracking_missing)
    return CustomerTable(kind=kind, spec=spec, table=table, missing=missing)


def inspect_schema(engine: sa.Engine, *, portable: bool = False) -> MisSchema:
    """The MIS as it is now. Raises :class:`SchemaProblem` when a customer table or one of its
    identity or name columns is missing. ``portable`` takes the path every server supports."""
    inspector = sa.inspect(engine)
    table_names = {t.lower() for t in inspector.get_table_names()}
    applicants = _customer_table(inspector, APPLICANT, table_names)
    students = _customer_table(inspector, STUDENT, table_names)
    absent = [
        spec.name for spec, found in ((APPLICANTS, applicants), (STUDENTS, students)) if not found
    ]
    if absent:
        raise SchemaProblem(
            f"{', '.join(absent)} not found: this database is not the MIS",
            what_to_do="Set MIS_DATABASE_URL to the university's MIS database.",
        )
    tracking_absent = [
        f"{t.name}.{c}"
        for t in (applicants, students)
        for c in (*TRACKING_COLUMNS, QUICKBOOKS_ID)
        if not t.has(c)
    ]
    if tracking_absent:
        raise SchemaProblem(
            f"the tracking columns {', '.join(tracking_absent)} are missing",
            what_to_do="Open the product once with an account allowed to ALTER the MIS tables.",
        )
    registrations = None
    if REGISTRATIONS_TABLE.lower() in table_names:
        actual = next(
            t for t in inspector.get_table_names() if t.lower() == REGISTRATIONS_TABLE.lower()
        )
        found = _columns_by_lower_name(inspector, actual)
        if all(c.lower() in found for c in REGISTRATIONS.required):
            registrations, _ = _bind(
                actual, found, [*REGISTRATIONS.required, *REGISTRATIONS.optional]
            )
    lookups: dict[str, sa.Table] = {}
    for spec in LOOKUPS.values():
        if spec.table.lower() not in table_names:
            continue
        actual = next(t for t in inspector.get_table_names() if t.lower() == spec.table.lower())
        found = _columns_by_lower_name(inspector, actual)
        if spec.key.lower() in found:
            lookups[spec.name], _ = _bind(actual, found, [spec.key, *spec.columns])
    features = detect_features(engine, portable=portable)
    return MisSchema(applicants, students, registrations, lookups, features)
