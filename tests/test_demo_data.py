"""The demo MIS generator: the legacy shape, sizes, reproducibility, the anomalies it promises, the
planted failures, the earlier integration's history, and the marker that guards --replace.

Every test runs on SQLite and on MariaDB (the ``empty_engine`` fixture). Checks read the rows back
and look for each promise in what the database returns, not in what the generator says it wrote.
The expected shape is written out here from ``shared/spec/legacy/mis.sql``, not taken from the
generator's own declarations.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync_core.demo.data import (
    ANOMALY_CATEGORIES,
    APPLICATION_STATUSES,
    CUSTOM_FIELDS,
    EARLIER_SYSTEM_SINCE,
    HAND_TYPED_CUSTOMERS,
    HISTORY_OUTCOMES,
    PLANTED_FAILURES,
    PLANTED_NAMESAKES,
    QBO_EMPLOYEE_NAMES,
    SHOWCASE_ROWS,
    DemoDatabaseRefused,
    DemoSummary,
    create_demo_database,
    demo_tables,
    legacy_customers,
    read_demo_marker,
    reset_demo_database,
)
from sync_core.demo.history import DEMO_NOW

APPLICANTS = "tbl_online_application"
STUDENTS = "tbl_personal_ug"
REGISTRATIONS = "tbl_register_program_ug"
MARKER = "qbsync_demo_marker"
STATUS = "QuickBk_status"

# The legacy shape (shared/spec/legacy/mis.sql): column -> type, "INT", "DATETIME", "FLOAT",
# "TINYINT" or a VARCHAR length.
LEGACY_SHAPE: dict[str, dict[str, str | int]] = {
    "tbl_program_type": {"prg_type_id": "INT", "prg_type_full_name": 20, "prg_type_short_name": 20},
    "tbl_country": {
        "cntr_id": "INT",
        "cntr_code": 50,
        "cntr_name": 50,
        "cntr_nationality": 50,
        "com_cntr_code": 50,
    },
    "tbl_campus": {
        "camp_id": "INT",
        "camp_full_name": 50,
        "camp_short_name": 20,
        "camp_city": 30,
        "camp_yor": "DATETIME",
        "camp_active": "INT",
        "camp_comments": 255,
        "quickbooks_id": "INT",
        "quickbooks_status": "INT",
    },
    "tbl_intake": {
        "intake_id": "INT",
        "prg_type": 255,
        "acad_cycle_id": "INT",
        "intake_no": "INT",
        "intake_month": 30,
        "intake_start": "DATETIME",
        "intake_end": "DATETIME",
        "status": "INT",
    },
    "tbl_specialization": {
        "splz_id": "INT",
        "prg_id": "INT",
        "prg_type": 255,
        "splz_full_name": 100,
        "splz_short_name": 50,
        "degree_name": 100,
        "status": "INT",
    },
    "tbl_level": {
        "level_id": "INT",
        "level_no": 20,
        "level_full_name": 50,
        "level_short_name": 10,
        "amount": 20,
        "status": "INT",
    },
    "tbl_program_mode": {
        "prg_mode_id": "INT",
        "prg_mode_full_name": 30,
        "prg_mode_short_name": 10,
    },
    APPLICANTS: {
        "appl_Id": "INT",
        "tracking_id": 200,
        "reg_no": 200,
        "first_name": 200,
        "middlename": 200,
        "family_name": 200,
        "dob": "DATETIME",
        "sex": 6,
        "phone1": 50,
        "email1": 100,
        "country_of_birth": 155,
        "nation_Id_passPort_no": 200,
        "present_nationality": 255,
        "father_name": 500,
        "mother_name": 500,
        STATUS: "INT",
        "pushed_by": 200,
        "pushed_date": "DATETIME",
        "camp_id": 155,
        "opt_1": 155,
        "opt_2": 155,
        "opt_3": 155,
        "intake_id": "INT",
        "level_id": "INT",
        "prg_mode_id": "INT",
        "spon_id": "INT",
        "appl_date": "DATETIME",
        "status": "INT",
        "quickbooks_id": 255,
        "sync_token": 10,
        "opening_balance": "FLOAT",
        "opening_balance_synced": "TINYINT",
        "opening_balance_id": 255,
    },
    STUDENTS: {
        "per_id_ug": "INT",
        "reg_no": 200,
        "prg_type": "INT",
        "sex": 6,
        "fname": 250,
        "middlename": 200,
        "lname": 100,
        "dob": "DATETIME",
        "marital_status": 7,
        "national_id": 20,
        "cntr_id": "INT",
        "province": "INT",
        "district": "INT",
        "nationality": 50,
        "phone1": 100,
        "phone2": 20,
        "email1": 50,
        "email2": 50,
        "reg_date": "DATETIME",
        "qk_id": 255,
        "pushed_by": 200,
        "pushed_date": "DATETIME",
        "sync_token": 50,
        STATUS: "INT",
    },
    REGISTRATIONS: {
        "reg_prg_id": "INT",
        "reg_no": 200,
        "intake_id": "INT",
        "prg_id": "INT",
        "splz_id": "INT",
        "level_id": "INT",
        "prg_mode_id": "INT",
        "prg_type": 20,
        "year_id": "INT",
        "camp_id": "INT",
        "reg_date": "DATETIME",
        "spon_id": "INT",
        "reg_active": "INT",
        "status_comment": 400,
        "Availability": 10,
        "qk_id": "INT",
    },
}
PRIMARY_KEYS = {
    "tbl_program_type": "prg_type_id",
    "tbl_country": "cntr_id",
    "tbl_campus": "camp_id",
    "tbl_intake": "intake_id",
    "tbl_specialization": "splz_id",
    "tbl_level": "level_id",
    "tbl_program_mode": "prg_mode_id",
    APPLICANTS: "appl_Id",
    STUDENTS: "per_id_ug",
    REGISTRATIONS: "reg_prg_id",
}
NOT_NULL = {
    STUDENTS: {"per_id_ug", "reg_no"},
    REGISTRATIONS: {
        "reg_prg_id",
        "reg_no",
        "intake_id",
        "prg_id",
        "splz_id",
        "level_id",
        "prg_mode_id",
        "prg_type",
        "camp_id",
        "status_comment",
        "Availability",
    },
}


# ---------------------------------------------------------------------------------- helpers


def _rows(engine: Engine, name: str, limit: int | None = None) -> list[dict]:
    table = sa.Table(name, sa.MetaData(), autoload_with=engine)
    query = sa.select(table).order_by(*table.primary_key.columns)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _digest(engine: Engine, skip: frozenset[str] = frozenset()) -> str:
    digest = hashlib.sha256()
    for name in demo_tables():
        for row in _rows(engine, name):
            digest.update(repr(sorted((k, v) for k, v in row.items() if k not in skip)).encode())
    return digest.hexdigest()


def _count(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _type_of(column_type: sa.types.TypeEngine) -> str | int:
    name = type(column_type).__name__.upper()
    if "TINYINT" in name or name in ("SMALLINT", "BOOLEAN"):
        return "TINYINT"
    if isinstance(column_type, sa.Integer):
        return "INT"
    if isinstance(column_type, sa.DateTime):
        return "DATETIME"
    if isinstance(column_type, sa.Float):
        return "FLOAT"
    if isinstance(column_type, sa.String):
        return column_type.length
    return name


def _norm(value: str | None) -> str:
    return " ".join(value.split()).casefold() if value else ""


def _is_lookup_anomaly(value: str | int | None, valid: set[str]) -> bool:
    if isinstance(value, int):
        return str(value) not in valid
    return value is None or value.strip() != value or value not in valid


def _empty(value: str | None) -> bool:
    return value is None or value.strip() == ""


def _lookup_names(engine: Engine) -> dict[str, dict[int, str]]:
    """What the earlier system wrote for each lookup id (readable name; "" when none)."""
    return {
        "Level": {r["level_id"]: r["level_full_name"] for r in _rows(engine, "tbl_level")},
        "Campus": {r["camp_id"]: r["camp_full_name"] for r in _rows(engine, "tbl_campus")},
        "Intake": {
            r["intake_id"]: f"{r['intake_month']} {r['intake_no']}".strip()
            for r in _rows(engine, "tbl_intake")
        },
        "Program": {r["splz_id"]: r["splz_full_name"] for r in _rows(engine, "tbl_specialization")},
        "ProgramType": {
            r["prg_type_id"]: r["prg_type_full_name"] for r in _rows(engine, "tbl_program_type")
        },
    }


def _earlier_fields(
    student: dict, registrations: list[dict], names: dict[str, dict[int, str]]
) -> dict[str, str]:
    """The custom fields the earlier system wrote for a student: its latest registration,
    active ones first; empty values left out."""
    latest: dict = {}
    if registrations:
        latest = max(
            registrations, key=lambda r: (r["reg_active"] == 1, r["reg_date"], r["reg_prg_id"])
        )
    fields = {
        "CustomerType": "Student",
        "RegNo": student["reg_no"],
        "Gender": student["sex"] or "",
        "Level": names["Level"].get(latest.get("level_id"), ""),
        "Campus": names["Campus"].get(latest.get("camp_id"), ""),
        "Intake": names["Intake"].get(latest.get("intake_id"), ""),
        "Program": names["Program"].get(latest.get("splz_id"), ""),
        "NationalID": student["national_id"] or "",
        "ProgramType": names["ProgramType"].get(student["prg_type"], ""),
    }
    return {name: value for name, value in fields.items() if value}


# ---------------------------------------------------------------------------------- shape


def test_tables_have_the_legacy_shape(empty_engine: Engine) -> None:
    create_demo_database(empty_engine, applicants=20, students=20)
    inspector = sa.inspect(empty_engine)
    assert set(LEGACY_SHAPE) | {MARKER} == set(inspector.get_table_names())
    assert set(demo_tables()) == set(LEGACY_SHAPE)
    for table, expected in LEGACY_SHAPE.items():
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        found = {name: _type_of(c["type"]) for name, c in columns.items()}
        assert found == expected, table
        pk = inspector.get_pk_constraint(table)["constrained_columns"]
        assert pk == [PRIMARY_KEYS[table]], table
        for name in NOT_NULL.get(table, ()):
            assert not columns[name]["nullable"], f"{table}.{name}"
    for table in (APPLICANTS, STUDENTS):
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        # spelled with a lower-case s, and only once whatever the case
        assert [n for n in columns if n.casefold() == STATUS.casefold()] == [STATUS]
        assert columns[STATUS]["nullable"]
        assert "0" in str(columns[STATUS]["default"])
        assert "System Auto Push" in str(columns["pushed_by"]["default"])
    assert "address" not in {c["name"] for c in inspector.get_columns(STUDENTS)}
    assert "qk_id" not in {c["name"] for c in inspector.get_columns(APPLICANTS)}
    assert "quickbooks_id" not in {c["name"] for c in inspector.get_columns(STUDENTS)}
    indexed = [ix["column_names"] for ix in inspector.get_indexes(REGISTRATIONS)]
    assert ["reg_no"] in indexed
    if empty_engine.dialect.name != "sqlite":
        with empty_engine.connect() as conn:
            options = conn.execute(
                sa.text(
                    "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE()"
                )
            ).all()
        assert {name for name, _e, _c in options} == set(LEGACY_SHAPE) | {MARKER}
        assert all(
            engine == "InnoDB" and collation.startswith("utf8mb4")
            for _n, engine, collation in options
        )


def test_default_sizes_and_lookups(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine)

    assert isinstance(summary, DemoSummary)
    assert (summary.applicants, summary.students) == (850, 1200)
    assert _count(empty_engine, APPLICANTS) == 850
    assert _count(empty_engine, STUDENTS) == 1200
    assert _count(empty_engine, REGISTRATIONS) == summary.registrations > 1200
    assert list(summary.tables) == list(demo_tables())
    for name, count in summary.tables.items():
        assert _count(empty_engine, name) == count, name
    assert set(summary.anomalies) == set(ANOMALY_CATEGORIES)
    assert summary.describe()

    types = {t["prg_type_id"]: t for t in _rows(empty_engine, "tbl_program_type")}
    assert {k: (t["prg_type_full_name"], t["prg_type_short_name"]) for k, t in types.items()}[
        1
    ] == ("Day", "DAY")
    assert (types[2]["prg_type_full_name"], types[3]["prg_type_full_name"]) == (
        "Evening",
        "Weekend",
    )
    assert any(t["prg_type_full_name"] == "" and t["prg_type_short_name"] for t in types.values())
    campuses = _rows(empty_engine, "tbl_campus")
    names = {c["camp_full_name"] for c in campuses}
    assert {"Kigali Campus", "Rwamagana Campus", "Musanze Campus"} <= names
    assert any(c["camp_full_name"] == "" and c["camp_short_name"] for c in campuses)
    intakes = _rows(empty_engine, "tbl_intake")
    months = {(i["intake_month"], i["intake_start"].year) for i in intakes}
    assert {("September", 2019), ("September", 2024), ("September", 2025)} <= months
    assert all(i["intake_no"] and i["acad_cycle_id"] for i in intakes)
    specializations = _rows(empty_engine, "tbl_specialization")
    assert len(specializations) >= 12
    full = {s["splz_full_name"] for s in specializations}
    assert {"Bachelor of Information Technology", "Bachelor of Science in Nursing"} <= full
    assert any(s["splz_full_name"] == "" and s["splz_short_name"] for s in specializations)
    levels = _rows(empty_engine, "tbl_level")
    assert [lv["level_full_name"] for lv in levels] == ["Year 1", "Year 2", "Year 3", "Year 4"]
    assert all(lv["level_short_name"] for lv in levels)
    modes = {m["prg_mode_full_name"] for m in _rows(empty_engine, "tbl_program_mode")}
    assert {"Full time", "Part time"} <= modes
    countries = {c["cntr_name"] for c in _rows(empty_engine, "tbl_country")}
    assert len(countries) >= 15
    assert {"Rwanda", "Uganda", "Kenya", "Burundi", "France", "Belgium"} <= countries


def test_applications_span_years_and_statuses(empty_engine: Engine) -> None:
    create_demo_database(empty_engine)
    apps = _rows(empty_engine, APPLICANTS)
    years = Counter(a["appl_date"].year for a in apps)
    assert set(years) >= set(range(2019, 2026))
    before = sum(1 for a in apps if a["appl_date"] < EARLIER_SYSTEM_SINCE)
    assert 0.5 <= before / len(apps) <= 0.9, "a good share applied before the cut-off"
    assert all(a["appl_date"] < DEMO_NOW for a in apps)
    statuses = Counter(a["status"] for a in apps)
    assert set(statuses) == set(APPLICATION_STATUSES)
    assert all(count >= 10 for count in statuses.values())
    # enrolled applicants are admitted
    assert all(a["status"] == 2 for a in apps if a["reg_no"])


def test_same_seed_same_rows_other_seed_other_rows(empty_engine: Engine) -> None:
    create_demo_database(empty_engine, applicants=300, students=400, seed=11)
    first = _digest(empty_engine)
    create_demo_database(empty_engine, applicants=300, students=400, seed=11, replace=True)
    assert _digest(empty_engine) == first
    create_demo_database(empty_engine, applicants=300, students=400, seed=12, replace=True)
    assert _digest(empty_engine) != first


def test_history_changes_only_the_tracking_columns(empty_engine: Engine) -> None:
    tracking = frozenset({STATUS, "pushed_by", "pushed_date", "quickbooks_id", "qk_id"})
    tracking |= {"sync_token"}
    create_demo_database(empty_engine, applicants=900, students=700, seed=5)
    people = _digest(empty_engine, skip=tracking)
    plain = _digest(empty_engine)
    first = create_demo_database(
        empty_engine, applicants=900, students=700, seed=5, replace=True, with_history=True
    )
    assert _digest(empty_engine, skip=tracking) == people
    history = _digest(empty_engine)
    assert history != plain
    again = create_demo_database(
        empty_engine, applicants=900, students=700, seed=5, replace=True, with_history=True
    )
    assert _digest(empty_engine) == history
    assert again.customers == first.customers and again.history == first.history


# ---------------------------------------------------------------------------------- anomalies


def test_every_anomaly_is_in_the_default_data(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine)
    apps = _rows(empty_engine, APPLICANTS)
    studs = _rows(empty_engine, STUDENTS)
    regs = _rows(empty_engine, REGISTRATIONS)
    valid = {
        name: {str(r[key]) for r in _rows(empty_engine, table)}
        for name, table, key in (
            ("camp", "tbl_campus", "camp_id"),
            ("splz", "tbl_specialization", "splz_id"),
            ("intake", "tbl_intake", "intake_id"),
            ("level", "tbl_level", "level_id"),
            ("cntr", "tbl_country", "cntr_id"),
            ("type", "tbl_program_type", "prg_type_id"),
        )
    }
    app_names = [(a["first_name"], a["middlename"], a["family_name"]) for a in apps]
    stu_names = [(s["fname"], s["middlename"], s["lname"]) for s in studs]
    people = app_names + stu_names
    parts = [p for name in people for p in name if p]
    camp_ids = [a["camp_id"] for a in apps]
    emails = [a["email1"] for a in apps] + [s["email1"] for s in studs]
    phones = [a["phone1"] for a in apps] + [s["phone1"] for s in studs]
    sexes = {a["sex"] for a in apps} | {s["sex"] for s in studs}
    student_regs: dict[str, list[dict]] = defaultdict(list)
    for reg in regs:
        student_regs[reg["reg_no"]].append(reg)
    students_by_reg_no = {s["reg_no"]: s for s in studs if s["reg_no"].strip()}

    def inactive_newer(rows: list[dict]) -> bool:
        newest = max(rows, key=lambda r: (r["reg_date"], r["reg_prg_id"]))
        return newest["reg_active"] == 0 and any(r["reg_active"] == 1 for r in rows)

    cut = None if empty_engine.dialect.name == "sqlite" else 200

    def first_name(student: dict) -> str | None:  # first_name is VARCHAR(200), fname 250
        return student["fname"][:cut] if student["fname"] else student["fname"]

    twins = [
        a
        for a in apps
        if a["reg_no"] in students_by_reg_no
        and first_name(students_by_reg_no[a["reg_no"]]) == a["first_name"]
        and students_by_reg_no[a["reg_no"]]["lname"] == a["family_name"]
    ]
    for app_group in (app_names, stu_names):
        groups = Counter((first, family) for first, _m, family in app_group)
        assert groups[PLANTED_NAMESAKES[0]] >= 3
        assert groups[PLANTED_NAMESAKES[1]] >= 2
    variants = defaultdict(set)
    for first, _m, family in people:
        if first or family:
            variants[(_norm(first), _norm(family))].add((first, family))

    checks = {
        # names
        "Rwandan family names": {"Uwimana", "Mukamana", "Niyonzima", "Habimana"} <= set(parts),
        "accent": any(p in parts for p in ("Théogène", "Françoise", "Émilienne", "Dieudonné")),
        "apostrophe": any("'" in p for p in parts) and "O'Brien" in parts,
        "English names": {"Grace", "Peace", "Patience", "Emmanuel"} & set(parts) != set(),
        "middle names": sum(1 for _f, m, _l in people if m and m.strip()) > 100,
        "both names NULL": any(f is None and fam is None for f, _m, fam in people),
        "both names ''": any(f == "" and fam == "" for f, _m, fam in people),
        "only first name": any(f and f.strip() and not fam for f, _m, fam in people),
        "only family name": any(fam and fam.strip() and not f for f, _m, fam in people),
        "whitespace-only name": any(p.strip() == "" for p in parts),
        "leading/trailing spaces": any(p.strip() and p != p.strip(" ") for p in parts),
        "double spaces": any("  " in p.strip() for p in parts),
        "colon": any(":" in p for p in parts),
        "tab": any("\t" in p for p in parts),
        "newline": any("\n" in p for p in parts),
        "name of refused characters only": any(
            (f or fam) and not re.sub(r"[:\s]", "", f"{f or ''}{fam or ''}")
            for f, _m, fam in people
        ),
        "namesake group of >= 3 across tables": max(
            Counter((f, fam) for f, _m, fam in people).values()
        )
        >= 3,
        "namesake differing only in case/spaces": any(len(v) > 1 for v in variants.values()),
        "QuickBooks employee's name": any(
            f and fam and f"{f} {fam}" in QBO_EMPLOYEE_NAMES for f, _m, fam in people
        ),
        "first_name near its 200 limit": any(len(a["first_name"] or "") >= 190 for a in apps),
        # applicant/student twins
        "twins ~35% of students": 0.30 <= len(twins) / len(studs) <= 0.40,
        "twin has the student's reg_no": all(a["reg_no"] in students_by_reg_no for a in twins),
        # lookup ids: strings where the column is a VARCHAR ...
        "camp_id with spaces (' 12')": any(c and c != c.strip() for c in camp_ids),
        "dangling camp_id": any(c and c.isdigit() and c not in valid["camp"] for c in camp_ids),
        "camp_id NULL": None in camp_ids,
        "camp_id ''": "" in camp_ids,
        "non-numeric lookup id": any(
            v and v.strip() and not v.strip().isdigit()
            for a in apps
            for v in (a["camp_id"], a["opt_1"])
        ),
        "dangling opt_1": any(a["opt_1"] == "99" for a in apps),
        "valid string ids are plain strings": all(
            isinstance(a["camp_id"], str) for a in apps if a["camp_id"] is not None
        ),
        # ... and only NULL, 0 or a missing id where it is an INT
        "INT lookup ids are ints": all(
            isinstance(a[c], int) for a in apps for c in ("intake_id", "level_id") if a[c]
        ),
        "intake_id NULL": any(a["intake_id"] is None for a in apps),
        "level_id 0": any(a["level_id"] == 0 for a in apps),
        "dangling intake_id": any(
            a["intake_id"] and str(a["intake_id"]) not in valid["intake"] for a in apps
        ),
        "intake ids resolve": any(str(a["intake_id"]) in valid["intake"] for a in apps),
        # contact fields
        "invalid e-mails": {"john@", "n/a", "x@y", "john doe@gmail.com", "none"} <= set(emails),
        "e-mail with trailing dot": any(e and e.endswith(".") for e in emails),
        "e-mail NULL": None in emails,
        "e-mail ''": "" in emails,
        "applicant e-mail of 100 characters": any(len(a["email1"] or "") >= 100 for a in apps),
        "valid e-mails": sum(1 for e in emails if e and re.fullmatch(r"[^@\s]+@[\w.]+\.\w+", e))
        > 1500,
        "phone 0788123456 style": any(p and re.fullmatch(r"07\d{8}", p) for p in phones),
        "phone +250 788 123 456 style": any(
            p and re.fullmatch(r"\+250 7\d\d \d{3} \d{3}", p) for p in phones
        ),
        "phone 250788123456 style": any(p and re.fullmatch(r"2507\d{8}", p) for p in phones),
        "phone 078-812-3456 style": any(p and re.fullmatch(r"07\d-\d{3}-\d{4}", p) for p in phones),
        "Ugandan and Kenyan phones": any(p and p.startswith("+256") for p in phones)
        and any(p and p.startswith("+254") for p in phones),
        "junk phones": {"N/A", "call me"} <= set(phones),
        "phone NULL": None in phones,
        "sex variants": {"M", "F", "Male", "female", "", None} <= sexes,
        "16-digit national id": any(
            re.fullmatch(r"1\d{15}", a["nation_Id_passPort_no"] or "") for a in apps
        ),
        "national id with spaces": any(
            " " in (r.get("nation_Id_passPort_no") or r.get("national_id") or "")
            for r in apps + studs
        ),
        "passport number": any(
            re.fullmatch(r"[A-Z]{1,2}\d{6,8}", a["nation_Id_passPort_no"] or "") for a in apps
        ),
        "national id NULL": any(a["nation_Id_passPort_no"] is None for a in apps),
        "birth country id": any(a["country_of_birth"] in valid["cntr"] for a in apps),
        "birth country free text": any(a["country_of_birth"] in ("Rwanda", "DRC") for a in apps),
        "dangling birth country": any(
            (c := a["country_of_birth"]) and c.isdigit() and c not in valid["cntr"] for a in apps
        ),
        "father and mother names": sum(1 for a in apps if a["father_name"] and a["mother_name"])
        > 300,
        # students and registrations
        "reg_no like 2021/BIT/0001": all(
            re.fullmatch(r"20\d\d/[A-Z]+/\d{4,}", r) for r in students_by_reg_no
        ),
        "reg_no unique": len(students_by_reg_no) == len(studs) - 2,
        "blank reg_no ' ' and ''": {s["reg_no"] for s in studs} >= {" ", ""},
        "prg_type Day/Evening/Weekend ids": {1, 2, 3} <= {s["prg_type"] for s in studs},
        "prg_type NULL, 0 and dangling": {None, 0} <= {s["prg_type"] for s in studs}
        and any(s["prg_type"] and str(s["prg_type"]) not in valid["type"] for s in studs),
        "cntr_id ints": all(isinstance(s["cntr_id"], int) for s in studs if s["cntr_id"]),
        "cntr_id NULL, 0 and dangling": any(s["cntr_id"] is None for s in studs)
        and any(s["cntr_id"] == 0 for s in studs)
        and any(s["cntr_id"] and str(s["cntr_id"]) not in valid["cntr"] for s in studs),
        "nationality as text or as an id": any((s["nationality"] or "").isdigit() for s in studs)
        and any((s["nationality"] or "").isalpha() for s in studs),
        "student without registration ~3%": 0.015
        <= sum(1 for s in studs if s["reg_no"] not in student_regs) / len(studs)
        <= 0.06,
        "student with 2 registrations": any(len(r) == 2 for r in student_regs.values()),
        "student with 3 registrations": any(len(r) >= 3 for r in student_regs.values()),
        "inactive registration newer than the active one": any(
            inactive_newer(r) for r in student_regs.values()
        ),
        "two registrations with the same reg_date": any(
            len({x["reg_date"] for x in r}) < len(r) for r in student_regs.values()
        ),
        "registration lookup id 0 or dangling": any(
            _is_lookup_anomaly(r["camp_id"], valid["camp"])
            or _is_lookup_anomaly(r["splz_id"], valid["splz"])
            or _is_lookup_anomaly(r["level_id"], valid["level"])
            for r in regs
        ),
        "registration prg_type spaced": any(r["prg_type"] != r["prg_type"].strip() for r in regs),
        "every registration belongs to a student": set(student_regs) <= set(students_by_reg_no),
        # applicants
        "tracking ids like TRK-2024-000123": sum(
            1 for a in apps if re.fullmatch(r"TRK-20\d\d-\d{6}", a["tracking_id"] or "")
        )
        > 800,
        "appl_date set": all(a["appl_date"] is not None for a in apps),
        "opt_1..opt_3 choices": any(a["opt_2"] and a["opt_3"] for a in apps),
    }
    missing = sorted(name for name, present in checks.items() if not present)
    assert not missing, f"not found in the demo data: {missing}"

    expected_zero = set() if empty_engine.dialect.name == "sqlite" else {"name_over_column_limit"}
    absent = sorted(k for k, v in summary.anomalies.items() if not v and k not in expected_zero)
    assert not absent, f"summary reports no rows for {absent}"
    assert all(summary.anomalies[k] == 0 for k in expected_zero)
    assert summary.anomalies["applicant_is_also_student"] == len(twins)
    assert summary.anomalies["reg_no_blank"] == 2


def test_first_page_already_shows_the_anomalies(empty_engine: Engine) -> None:
    create_demo_database(empty_engine)
    apps = _rows(empty_engine, APPLICANTS, limit=SHOWCASE_ROWS)
    studs = _rows(empty_engine, STUDENTS, limit=SHOWCASE_ROWS)
    for rows, first, family in ((apps, "first_name", "family_name"), (studs, "fname", "lname")):
        names = [(r[first], r[family]) for r in rows]
        assert (None, None) in names and ("", "") in names
        assert names.count(("John", "Doe")) >= 2
        assert any(":" in (f or "") for f, _ in names)
        assert any("\t" in f"{f}{g}" or "\n" in f"{f}{g}" for f, g in names)
        assert any("'" in f"{f}{g}" for f, g in names)
        assert any(not f"{f}{g}".isascii() for f, g in names)
        assert any(r["email1"] in ("john@", "x@y", "none") for r in rows)
        assert any(r["phone1"] in ("N/A", "call me", "0") for r in rows)
    assert any(a["camp_id"] == " 12" for a in apps)
    assert any(a["camp_id"] == "99" for a in apps)
    assert any(a["reg_no"] for a in apps), "an applicant who is also a student"
    assert any(_empty(s["reg_no"]) for s in studs), "a student with a blank RegNo"


def test_planted_failures_are_where_the_constant_says(empty_engine: Engine) -> None:
    assert {(f.kind, f.column) for f in PLANTED_FAILURES} == {
        ("student", "reg_no"),  # blank RegNos
        ("applicant", "first_name"),  # a name QuickBooks refuses (only ':' and tab)
    }
    blank = [f for f in PLANTED_FAILURES if f.column == "reg_no"]
    assert {f.value for f in blank} == {" ", ""}
    assert all(f.row_id <= SHOWCASE_ROWS and f.reason for f in PLANTED_FAILURES)
    for with_history in (False, True):
        create_demo_database(empty_engine, with_history=with_history, replace=with_history)
        rows = {
            APPLICANTS: {a["appl_Id"]: a for a in _rows(empty_engine, APPLICANTS)},
            STUDENTS: {s["per_id_ug"]: s for s in _rows(empty_engine, STUDENTS)},
        }
        registered = {r["reg_no"] for r in _rows(empty_engine, REGISTRATIONS)}
        for failure in PLANTED_FAILURES:
            row = rows[failure.table][failure.row_id]
            assert row[failure.column] == failure.value, failure
            assert row[STATUS] == 0, "left untouched by the earlier system"
            assert failure.value not in registered
        blank_rows = [s for s in rows[STUDENTS].values() if _empty(s["reg_no"])]
        assert {s["per_id_ug"] for s in blank_rows} == {f.row_id for f in blank}


def test_lengths_fit_the_backend(empty_engine: Engine) -> None:
    create_demo_database(empty_engine)
    longest = max(len(a["first_name"] or "") for a in _rows(empty_engine, APPLICANTS))
    if empty_engine.dialect.name == "sqlite":
        assert longest == 600  # SQLite keeps what it is given
    else:
        assert longest == 200  # at the column limit, stored whole


# ---------------------------------------------------------------------------------- history


def test_without_history_every_record_is_a_clean_start(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine)
    assert not summary.with_history and summary.history == {} and summary.customers == []
    for table, id_column in ((APPLICANTS, "quickbooks_id"), (STUDENTS, "qk_id")):
        for row in _rows(empty_engine, table):
            assert row[STATUS] == 0
            assert row[id_column] is None and row["sync_token"] is None
            assert row["pushed_date"] is None
            assert row["pushed_by"] == "System Auto Push"
    assert legacy_customers(empty_engine) == []


def test_history_rows_and_customers_agree(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine, with_history=True)
    assert summary.with_history
    customers = summary.customers
    assert legacy_customers(empty_engine) == customers
    by_id = {c["Id"]: c for c in customers}
    assert len(by_id) == len(customers), "customer Ids are unique"
    names = Counter(c["DisplayName"].casefold() for c in customers)
    assert max(names.values()) == 1, "DisplayNames are unique (QuickBooks compares them so)"
    assert not {n.casefold() for n in QBO_EMPLOYEE_NAMES} & set(names)
    hand_typed = [c for c in customers if int(c["Id"]) < 1000]
    assert hand_typed == [dict(c) for c in HAND_TYPED_CUSTOMERS]
    earlier = [c for c in customers if int(c["Id"]) >= 1000]
    assert sorted(int(c["Id"]) for c in earlier) == list(range(1000, 1000 + len(earlier)))
    assert all(c["SyncToken"] in ("0", "1", "2", "3") for c in customers)
    by_name = {c["DisplayName"]: c for c in earlier}

    apps = _rows(empty_engine, APPLICANTS)
    studs = _rows(empty_engine, STUDENTS)
    lookups = _lookup_names(empty_engine)
    regs_of: dict[str, list[dict]] = defaultdict(list)
    for reg in _rows(empty_engine, REGISTRATIONS):
        regs_of[reg["reg_no"]].append(reg)
    matched: set[str] = set()
    for kind, rows, identity, id_column in (
        ("applicants", apps, "tracking_id", "quickbooks_id"),
        ("students", studs, "reg_no", "qk_id"),
    ):
        outcomes: Counter[str] = Counter()
        for row in rows:
            status, qid = row[STATUS], row[id_column]
            customer = by_name.get(row[identity]) if row[identity] else None
            if customer is not None:
                matched.add(customer["Id"])
            touched = status != 0 or customer is not None
            if touched and kind == "applicants":
                assert row["appl_date"] >= EARLIER_SYSTEM_SINCE, "the earlier system's scope"
            if status in (1, 2):
                assert EARLIER_SYSTEM_SINCE <= row["pushed_date"] <= DEMO_NOW
            if status == 1 and not _empty(qid):
                outcome = "synced"
                assert customer is not None and customer["Id"] == qid
                assert int(customer["SyncToken"]) >= int(row["sync_token"])
            elif status == 1:
                outcome = "synced_without_id" if customer else "synced_customer_missing"
                assert row["sync_token"] is None
            elif status == 3:
                outcome = "stuck_in_progress"
                assert customer is not None and qid is None
            elif status == 2:
                outcome = "failed"
                assert customer is None and qid is None
            elif customer is not None:
                outcome = "answer_lost"
                assert qid is None and row["pushed_date"] is None
            else:
                assert qid is None and row["sync_token"] is None
                continue
            outcomes[outcome] += 1
            if customer is None:
                continue
            # the earlier system's shapes: raw MIS values, names trimmed as QuickBooks does
            first = row["first_name" if kind == "applicants" else "fname"].strip()
            family = row["family_name" if kind == "applicants" else "lname"].strip()
            assert (customer["GivenName"], customer["FamilyName"]) == (first, family)
            assert customer["CompanyName"] == f"{first} {family}"
            assert customer.get("PrimaryPhone", {}).get("FreeFormNumber") == (row["phone1"] or None)
            assert customer.get("PrimaryEmailAddr", {}).get("Address") == (row["email1"] or None)
            if kind == "applicants":
                assert customer["Notes"] == (
                    f"Applicant synchronized from MIS - Tracking ID: {row['tracking_id']}"
                )
                assert "CustomField" not in customer
            else:
                fields = {f["Name"]: f for f in customer["CustomField"]}
                assert all(f["Type"] == "StringType" and f["StringValue"] for f in fields.values())
                assert all(CUSTOM_FIELDS[f["DefinitionId"]] == n for n, f in fields.items())
                assert fields["CustomerType"]["StringValue"] == "Student"
                assert fields["RegNo"]["StringValue"] == row["reg_no"]
                expected = _earlier_fields(row, regs_of[row["reg_no"]], lookups)
                assert {n: f["StringValue"] for n, f in fields.items()} == expected
        assert dict(outcomes) == {k: v for k, v in summary.history[kind].items() if v}
        assert set(outcomes) == set(HISTORY_OUTCOMES), f"{kind}: every outcome occurs"
        in_scope = [r for r in rows if kind == "students" or r["appl_date"] >= EARLIER_SYSTEM_SINCE]
        assert 0.08 <= outcomes["synced"] / len(in_scope) <= 0.25, kind
    assert matched == {c["Id"] for c in earlier}, "every earlier customer is one MIS row's"

    # the hand-typed customers merely share a real person's name; no MIS row points at them
    people = {(a["first_name"], a["family_name"]) for a in apps}
    people |= {(s["fname"], s["lname"]) for s in studs}
    for customer in hand_typed:
        assert (customer["GivenName"], customer["FamilyName"]) in people
        assert customer["Notes"] == "Walk-in customer entered by hand in QuickBooks"
    ids = {a["quickbooks_id"] for a in apps} | {s["qk_id"] for s in studs}
    assert not ids & {c["Id"] for c in hand_typed}
    assert (apps[-1]["first_name"], apps[-1]["family_name"]) == ("Alice", "Uwase")
    assert apps[-1][STATUS] == 0


def test_history_timestamps_are_mis_local_time(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine, applicants=600, students=300, with_history=True)
    created = {
        c["DisplayName"]: c["MetaData"]["CreateTime"] for c in summary.customers if "MetaData" in c
    }
    assert created and all(t.endswith("+02:00") for t in created.values())
    for row in _rows(empty_engine, STUDENTS):
        if row[STATUS] == 1 and row["qk_id"]:
            stamp = datetime.fromisoformat(created[row["reg_no"]]).replace(tzinfo=None)
            assert stamp == row["pushed_date"], "pushed_date is the CreateTime in Kigali time"


# ---------------------------------------------------------------------------------- marker


def test_marker_records_the_demo(empty_engine: Engine) -> None:
    assert read_demo_marker(empty_engine) is None
    create_demo_database(empty_engine, applicants=30, students=20, seed=7, with_history=True)
    marker = read_demo_marker(empty_engine)
    assert marker is not None
    assert (marker.seed, marker.applicants, marker.students, marker.with_history) == (
        7,
        30,
        20,
        True,
    )
    assert isinstance(marker.created_at, datetime)


def test_refuses_to_append_and_replace_keeps_the_products_tables(empty_engine: Engine) -> None:
    create_demo_database(empty_engine, applicants=40, students=30)
    with pytest.raises(ValueError, match="replace=True"):
        create_demo_database(empty_engine, applicants=40, students=30)
    assert _count(empty_engine, APPLICANTS) == 40

    # the product's own table, and a column it added to the MIS
    with empty_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE qbsync_run (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
        conn.execute(sa.text("INSERT INTO qbsync_run (id, note) VALUES (1, 'kept')"))
        conn.execute(sa.text(f"ALTER TABLE {APPLICANTS} ADD COLUMN extra_col INTEGER"))

    summary = create_demo_database(empty_engine, applicants=25, students=70, replace=True)
    assert (_count(empty_engine, APPLICANTS), _count(empty_engine, STUDENTS)) == (25, 70)
    assert summary.applicants == 25 and summary.students == 70
    assert "extra_col" not in {c["name"] for c in sa.inspect(empty_engine).get_columns(APPLICANTS)}
    assert _rows(empty_engine, "qbsync_run") == [{"id": 1, "note": "kept"}]
    marker = read_demo_marker(empty_engine)
    assert marker is not None and (marker.applicants, marker.students) == (25, 70)


def test_refuses_mis_tables_it_did_not_create(empty_engine: Engine) -> None:
    # a university's MIS: same table names, no marker
    with empty_engine.begin() as conn:
        conn.execute(
            sa.text(f"CREATE TABLE {STUDENTS} (per_id_ug INTEGER PRIMARY KEY, reg_no VARCHAR(200))")
        )
        conn.execute(sa.text(f"INSERT INTO {STUDENTS} VALUES (1, '2020/BIT/001')"))
    for replace in (False, True):
        with pytest.raises(DemoDatabaseRefused, match="did not create"):
            create_demo_database(empty_engine, applicants=5, students=5, replace=replace)
    with pytest.raises(DemoDatabaseRefused):
        reset_demo_database(empty_engine)
    with pytest.raises(DemoDatabaseRefused):
        legacy_customers(empty_engine)
    assert _tables(empty_engine) == {STUDENTS}
    assert _rows(empty_engine, STUDENTS) == [{"per_id_ug": 1, "reg_no": "2020/BIT/001"}]

    # a demo whose marker was removed is no longer the demo's to replace
    with empty_engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {STUDENTS}"))
    create_demo_database(empty_engine, applicants=5, students=5)
    with empty_engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {MARKER}"))
    with pytest.raises(DemoDatabaseRefused, match=MARKER):
        create_demo_database(empty_engine, applicants=5, students=5, replace=True)
    assert _count(empty_engine, APPLICANTS) == 5


def test_reset_puts_the_demo_back(empty_engine: Engine) -> None:
    first = create_demo_database(
        empty_engine, applicants=120, students=90, seed=3, with_history=True
    )
    initial = _digest(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {APPLICANTS} SET {STATUS} = 1, quickbooks_id = '77'"))
        conn.execute(sa.text(f"DELETE FROM {STUDENTS} WHERE per_id_ug > 10"))
        conn.execute(sa.text("CREATE TABLE qbsync_state (id INTEGER PRIMARY KEY)"))
    assert _digest(empty_engine) != initial
    summary = reset_demo_database(empty_engine)
    assert _digest(empty_engine) == initial
    assert (summary.seed, summary.applicants, summary.students) == (3, 120, 90)
    assert summary.with_history and summary.customers == first.customers
    assert "qbsync_state" in _tables(empty_engine)


def test_small_and_empty_sizes(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine, applicants=0, students=0)
    assert summary.applicants == summary.students == summary.registrations == 0
    summary = create_demo_database(empty_engine, applicants=7, students=3, replace=True)
    assert (_count(empty_engine, APPLICANTS), _count(empty_engine, STUDENTS)) == (7, 3)
    summary = create_demo_database(
        empty_engine, applicants=7, students=3, replace=True, with_history=True
    )
    assert summary.customers == [dict(c) for c in HAND_TYPED_CUSTOMERS]
    for bad in ({"applicants": -1}, {"students": True}, {"seed": "x"}, {"seed": 2**64}):
        with pytest.raises(ValueError):
            create_demo_database(empty_engine, replace=True, **bad)
