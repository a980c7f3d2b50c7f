"""The MIS tables customer sync reads, declared once (see ``shared/spec/mis-schema.md``).

Column names keep the MIS's own spelling. Many "id" columns that point at another table are
strings in the MIS although the table they point at has an INTEGER key; enrichment compares them
after normalising (see :mod:`sync_core.domain.lookups`).

The four tracking columns are declared here because the product reads and writes them, but the
MIS does not have them until :func:`sync_core.mis.migrations.ensure_schema` adds them.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

MYSQL_TABLE_ARGS = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

STATUS_NOT_SYNCED = 0
STATUS_SYNCED = 1
STATUS_FAILED = 2
STATUS_IN_PROGRESS = 3
STATUS_LABELS = {
    STATUS_NOT_SYNCED: "not synced",
    STATUS_SYNCED: "synced",
    STATUS_FAILED: "failed",
    STATUS_IN_PROGRESS: "in progress",
}

TRACKING_COLUMN_NAMES = ("QuickBk_Status", "pushed_by", "pushed_date", "qk_id")
DEFAULT_PUSHED_BY = "System Auto Push"


def tracking_columns() -> list[sa.Column]:
    """Fresh Column objects for the tracking columns (a Column belongs to one table)."""
    return [
        sa.Column("QuickBk_Status", sa.Integer, server_default=sa.text("0")),
        sa.Column("pushed_by", sa.String(200), server_default=DEFAULT_PUSHED_BY),
        sa.Column("pushed_date", sa.DateTime),
        sa.Column("qk_id", sa.String(255)),
    ]


def status_index(table: sa.Table) -> sa.Index:
    """The index that makes status counts and "next records to sync" cheap."""
    return next(ix for ix in table.indexes if ix.name == f"ix_{table.name}_qb_status")


def _id_string() -> sa.String:
    return sa.String(50)


applicants = sa.Table(
    "tbl_online_application",
    metadata,
    sa.Column("appl_Id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tracking_id", sa.String(200)),
    sa.Column("reg_no", sa.String(200)),
    sa.Column("first_name", sa.String(200)),
    sa.Column("middlename", sa.String(200)),
    sa.Column("family_name", sa.String(200)),
    sa.Column("dob", sa.DateTime),
    sa.Column("sex", sa.String(6)),
    sa.Column("phone1", sa.String(50)),
    sa.Column("email1", sa.String(100)),
    sa.Column("country_of_birth", _id_string()),
    sa.Column("nation_Id_passPort_no", sa.String(200)),
    sa.Column("present_nationality", _id_string()),
    sa.Column("camp_id", _id_string()),
    sa.Column("opt_1", _id_string()),
    sa.Column("opt_2", _id_string()),
    sa.Column("opt_3", _id_string()),
    sa.Column("intake_id", _id_string()),
    sa.Column("level_id", _id_string()),
    sa.Column("prg_mode_id", _id_string()),
    sa.Column("spon_id", _id_string()),
    sa.Column("appl_date", sa.DateTime),
    sa.Column("status", sa.Integer),
    *tracking_columns(),
    sa.Index("ix_tbl_online_application_qb_status", "QuickBk_Status"),
    **MYSQL_TABLE_ARGS,
)

students = sa.Table(
    "tbl_personal_ug",
    metadata,
    sa.Column("per_id_ug", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reg_no", sa.String(200), nullable=False),
    sa.Column("prg_type", _id_string(), nullable=False),
    sa.Column("sex", sa.String(6)),
    sa.Column("fname", sa.String(250)),
    sa.Column("middlename", sa.String(200)),
    sa.Column("lname", sa.String(100)),
    sa.Column("dob", sa.DateTime),
    sa.Column("national_id", sa.String(20)),
    sa.Column("cntr_id", _id_string(), nullable=False),
    sa.Column("nationality", sa.String(50)),
    sa.Column("phone1", sa.String(100)),
    sa.Column("phone2", sa.String(20)),
    sa.Column("email1", sa.String(50)),
    sa.Column("email2", sa.String(50)),
    sa.Column("address", sa.String(200)),
    sa.Column("reg_date", sa.DateTime),
    *tracking_columns(),
    sa.Index("ix_tbl_personal_ug_reg_no", "reg_no"),
    sa.Index("ix_tbl_personal_ug_qb_status", "QuickBk_Status"),
    **MYSQL_TABLE_ARGS,
)

registrations = sa.Table(
    "tbl_register_program_ug",
    metadata,
    sa.Column("reg_prg_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reg_no", sa.String(200), nullable=False),
    sa.Column("intake_id", _id_string(), nullable=False),
    sa.Column("prg_id", _id_string(), nullable=False),
    sa.Column("splz_id", _id_string(), nullable=False),
    sa.Column("level_id", _id_string(), nullable=False),
    sa.Column("prg_mode_id", _id_string(), nullable=False),
    sa.Column("prg_type", _id_string(), nullable=False),
    sa.Column("camp_id", _id_string(), nullable=False),
    sa.Column("year_id", _id_string()),
    sa.Column("reg_date", sa.DateTime),
    sa.Column("reg_active", sa.Integer),
    sa.Column("status_comment", sa.String(400)),
    sa.Column("Availability", sa.String(50)),
    sa.Index("ix_tbl_register_program_ug_reg_no", "reg_no"),
    **MYSQL_TABLE_ARGS,
)

campuses = sa.Table(
    "tbl_campus",
    metadata,
    sa.Column("camp_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("camp_full_name", sa.String(50)),
    sa.Column("camp_short_name", sa.String(20)),
    sa.Column("camp_city", sa.String(50)),
    sa.Column("camp_active", sa.Integer),
    **MYSQL_TABLE_ARGS,
)

intakes = sa.Table(
    "tbl_intake",
    metadata,
    sa.Column("intake_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("intake_month", sa.String(30)),
    sa.Column("intake_no", sa.Integer),
    sa.Column("intake_start", sa.DateTime),
    sa.Column("acad_cycle_id", _id_string()),
    sa.Column("prg_type", _id_string()),
    sa.Column("status", sa.Integer),
    **MYSQL_TABLE_ARGS,
)

specializations = sa.Table(
    "tbl_specialization",
    metadata,
    sa.Column("splz_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("splz_full_name", sa.String(100)),
    sa.Column("splz_short_name", sa.String(50)),
    sa.Column("prg_id", _id_string()),
    sa.Column("degree_name", sa.String(100)),
    **MYSQL_TABLE_ARGS,
)

levels = sa.Table(
    "tbl_level",
    metadata,
    sa.Column("level_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("level_full_name", sa.String(50)),
    sa.Column("level_short_name", sa.String(10)),
    sa.Column("level_no", sa.Integer),
    **MYSQL_TABLE_ARGS,
)

program_modes = sa.Table(
    "tbl_program_mode",
    metadata,
    sa.Column("prg_mode_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("prg_mode_full_name", sa.String(30)),
    sa.Column("prg_mode_short_name", sa.String(10)),
    **MYSQL_TABLE_ARGS,
)

countries = sa.Table(
    "tbl_country",
    metadata,
    sa.Column("cntr_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("cntr_name", sa.String(100)),
    sa.Column("cntr_nationality", sa.String(100)),
    sa.Column("cntr_code", sa.String(10)),
    **MYSQL_TABLE_ARGS,
)

CUSTOMER_TABLES = (applicants, students)
LOOKUP_TABLES = (campuses, intakes, specializations, levels, program_modes, countries)


def mis_table_as_found(table: sa.Table, target: sa.MetaData) -> sa.Table:
    """A copy of ``table`` without the tracking columns: the MIS as a university has it.

    ``tbl_personal_ug`` keeps ``qk_id`` because the earlier system already added it there.
    """
    keep_qk_id = table.name == students.name
    columns = [
        c._copy()
        for c in table.columns
        if c.name not in TRACKING_COLUMN_NAMES or (keep_qk_id and c.name == "qk_id")
    ]
    indexes = [
        sa.Index(ix.name, *[c.name for c in ix.columns])
        for ix in table.indexes
        if not any(c.name in TRACKING_COLUMN_NAMES for c in ix.columns)
    ]
    return sa.Table(table.name, target, *columns, *indexes, **MYSQL_TABLE_ARGS)
