"""The demo MIS's own table definitions: the tables as universities actually have them.

The shape follows the earlier QuickBooks integration's models and its live-database dump
(``shared/spec/legacy/mis.sql``), not what the product needs: the status column is spelled
``QuickBk_status`` (lower-case s), the QuickBooks Id columns already exist (``quickbooks_id`` +
``sync_token`` on applicants, ``qk_id`` + ``sync_token`` on students), some foreign ids are INT and
others VARCHAR(155), ``tbl_personal_ug.prg_type`` is an INT pointing at ``tbl_program_type``, many
columns the product never reads are there (``father_name``, ``opening_balance*``,
``marital_status``, ``province``, ...) and ``tbl_personal_ug`` has no ``address``.

These declarations belong to the demo alone: the product inspects the live schema instead of
importing them. Nothing here depends on the product's own modules.

Besides the MIS tables, a demo database holds :data:`marker`, the table that says "the demo
generator created this database" (when, with which seed, sizes and history): ``demo-db
--replace`` and :func:`sync_core.demo.data.reset_demo_database` only ever drop a database's
MIS tables when the marker is there.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}
DEFAULT_PUSHED_BY = "System Auto Push"
MARKER_TABLE = "qbsync_demo_marker"

# MySQL's TINYINT(1) (what the earlier system's BOOLEAN columns are); a small integer elsewhere.
_TINYINT_1 = sa.SmallInteger().with_variant(mysql.TINYINT(display_width=1), "mysql", "mariadb")


def _status() -> sa.Column:
    return sa.Column("QuickBk_status", sa.Integer, nullable=True, server_default=sa.text("0"))


def _pushed_by() -> sa.Column:
    return sa.Column("pushed_by", sa.String(200), server_default=DEFAULT_PUSHED_BY)


# ---------------------------------------------------------------------------- lookup tables

program_types = sa.Table(
    "tbl_program_type",
    metadata,
    sa.Column("prg_type_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("prg_type_full_name", sa.String(20), nullable=False),
    sa.Column("prg_type_short_name", sa.String(20), nullable=False),
    **MYSQL_TABLE_ARGS,
)

countries = sa.Table(
    "tbl_country",
    metadata,
    sa.Column("cntr_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("cntr_code", sa.String(50)),
    sa.Column("cntr_name", sa.String(50)),
    sa.Column("cntr_nationality", sa.String(50)),
    sa.Column("com_cntr_code", sa.String(50)),
    **MYSQL_TABLE_ARGS,
)

campuses = sa.Table(
    "tbl_campus",
    metadata,
    sa.Column("camp_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("camp_full_name", sa.String(50), nullable=False),
    sa.Column("camp_short_name", sa.String(20), nullable=False),
    sa.Column("camp_city", sa.String(30), nullable=False),
    sa.Column("camp_yor", sa.DateTime, nullable=False),
    sa.Column("camp_active", sa.Integer, nullable=False),
    sa.Column("camp_comments", sa.String(255), nullable=False),
    sa.Column("quickbooks_id", sa.Integer, nullable=True),
    sa.Column("quickbooks_status", sa.Integer, nullable=True),
    **MYSQL_TABLE_ARGS,
)

intakes = sa.Table(
    "tbl_intake",
    metadata,
    sa.Column("intake_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("prg_type", sa.String(255), nullable=False),
    sa.Column("acad_cycle_id", sa.Integer, nullable=False),
    sa.Column("intake_no", sa.Integer, nullable=False),
    sa.Column("intake_month", sa.String(30), nullable=False),
    sa.Column("intake_start", sa.DateTime, nullable=False),
    sa.Column("intake_end", sa.DateTime, nullable=False),
    sa.Column("status", sa.Integer, nullable=False, server_default=sa.text("1")),
    **MYSQL_TABLE_ARGS,
)

specializations = sa.Table(
    "tbl_specialization",
    metadata,
    sa.Column("splz_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("prg_id", sa.Integer, nullable=False),
    sa.Column("prg_type", sa.String(255), nullable=False),
    sa.Column("splz_full_name", sa.String(100), nullable=False),
    sa.Column("splz_short_name", sa.String(50), nullable=False),
    sa.Column("degree_name", sa.String(100), nullable=False),
    sa.Column("status", sa.Integer),
    **MYSQL_TABLE_ARGS,
)

levels = sa.Table(
    "tbl_level",
    metadata,
    sa.Column("level_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("level_no", sa.String(20), nullable=False),
    sa.Column("level_full_name", sa.String(50), nullable=False),
    sa.Column("level_short_name", sa.String(10), nullable=False),
    sa.Column("amount", sa.String(20), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    **MYSQL_TABLE_ARGS,
)

program_modes = sa.Table(
    "tbl_program_mode",
    metadata,
    sa.Column("prg_mode_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("prg_mode_full_name", sa.String(30), nullable=False),
    sa.Column("prg_mode_short_name", sa.String(10), nullable=False),
    **MYSQL_TABLE_ARGS,
)

# ---------------------------------------------------------------------------- customer tables

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
    sa.Column("country_of_birth", sa.String(155)),
    sa.Column("nation_Id_passPort_no", sa.String(200)),
    sa.Column("present_nationality", sa.String(255)),
    sa.Column("father_name", sa.String(500)),
    sa.Column("mother_name", sa.String(500)),
    _status(),
    _pushed_by(),
    sa.Column("pushed_date", sa.DateTime),
    sa.Column("camp_id", sa.String(155)),
    sa.Column("opt_1", sa.String(155)),
    sa.Column("opt_2", sa.String(155)),
    sa.Column("opt_3", sa.String(155)),
    sa.Column("intake_id", sa.Integer),
    sa.Column("level_id", sa.Integer),
    sa.Column("prg_mode_id", sa.Integer),
    sa.Column("spon_id", sa.Integer),
    sa.Column("appl_date", sa.DateTime),
    sa.Column("status", sa.Integer),
    sa.Column("quickbooks_id", sa.String(255)),
    sa.Column("sync_token", sa.String(10)),
    sa.Column("opening_balance", sa.Float, server_default=sa.text("0")),
    sa.Column("opening_balance_synced", _TINYINT_1, server_default=sa.text("0")),
    sa.Column("opening_balance_id", sa.String(255)),
    **MYSQL_TABLE_ARGS,
)

students = sa.Table(
    "tbl_personal_ug",
    metadata,
    sa.Column("per_id_ug", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reg_no", sa.String(200), nullable=False),
    sa.Column("prg_type", sa.Integer),
    sa.Column("sex", sa.String(6)),
    sa.Column("fname", sa.String(250)),
    sa.Column("middlename", sa.String(200)),
    sa.Column("lname", sa.String(100)),
    sa.Column("dob", sa.DateTime),
    sa.Column("marital_status", sa.String(7)),
    sa.Column("national_id", sa.String(20)),
    sa.Column("cntr_id", sa.Integer),
    sa.Column("province", sa.Integer),
    sa.Column("district", sa.Integer),
    sa.Column("nationality", sa.String(50)),
    sa.Column("phone1", sa.String(100)),
    sa.Column("phone2", sa.String(20)),
    sa.Column("email1", sa.String(50)),
    sa.Column("email2", sa.String(50)),
    sa.Column("reg_date", sa.DateTime),
    sa.Column("qk_id", sa.String(255)),
    _pushed_by(),
    sa.Column("pushed_date", sa.DateTime),
    sa.Column("sync_token", sa.String(50)),
    _status(),
    # the registry looks students up by RegNo all day long
    sa.Index("ix_tbl_personal_ug_reg_no", "reg_no"),
    **MYSQL_TABLE_ARGS,
)

registrations = sa.Table(
    "tbl_register_program_ug",
    metadata,
    sa.Column("reg_prg_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reg_no", sa.String(200), nullable=False),
    sa.Column("intake_id", sa.Integer, nullable=False),
    sa.Column("prg_id", sa.Integer, nullable=False),
    sa.Column("splz_id", sa.Integer, nullable=False),
    sa.Column("level_id", sa.Integer, nullable=False),
    sa.Column("prg_mode_id", sa.Integer, nullable=False),
    sa.Column("prg_type", sa.String(20), nullable=False),
    sa.Column("year_id", sa.Integer),
    sa.Column("camp_id", sa.Integer, nullable=False),
    sa.Column("reg_date", sa.DateTime),
    sa.Column("spon_id", sa.Integer),
    sa.Column("reg_active", sa.Integer),
    sa.Column("status_comment", sa.String(400), nullable=False),
    sa.Column("Availability", sa.String(10), nullable=False),
    # the earlier integration's own column on registrations (unrelated to customers)
    sa.Column("qk_id", sa.Integer),
    sa.Index("ix_tbl_register_program_ug_reg_no", "reg_no"),
    **MYSQL_TABLE_ARGS,
)

LOOKUP_TABLES = (
    program_types,
    countries,
    campuses,
    intakes,
    specializations,
    levels,
    program_modes,
)
CUSTOMER_TABLES = (applicants, students)
# The order tables are created, filled and reported in.
MIS_TABLES = (*LOOKUP_TABLES, students, registrations, applicants)

# ---------------------------------------------------------------------------- the marker

marker_metadata = sa.MetaData()

marker = sa.Table(
    MARKER_TABLE,
    marker_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("generator_version", sa.Integer, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("applicants", sa.Integer, nullable=False),
    sa.Column("students", sa.Integer, nullable=False),
    sa.Column("with_history", sa.Integer, nullable=False),
    sa.Column("note", sa.String(255), nullable=False),
    **MYSQL_TABLE_ARGS,
)


def length(table: sa.Table, column: str) -> int:
    """The declared VARCHAR length of ``table.column``."""
    length = getattr(table.c[column].type, "length", None)
    assert isinstance(length, int), f"{table.name}.{column} is not a VARCHAR"
    return length
