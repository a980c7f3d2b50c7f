"""The demo MIS generator: sizes, reproducibility, the anomalies it promises, schema handling.

Every test runs on SQLite and on MariaDB (the ``empty_engine`` fixture). Checks read the rows back
and look for each anomaly in what the database returns, not in what the generator says it wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync_core.demo.data import (
    ANOMALY_CATEGORIES,
    SHOWCASE_ROWS,
    DemoSummary,
    create_demo_database,
    demo_tables,
)
from sync_core.mis import tables as mis_tables
from sync_core.mis.migrations import ensure_schema

APPLICANTS = mis_tables.applicants.name
STUDENTS = mis_tables.students.name
REGISTRATIONS = mis_tables.registrations.name


def _rows(engine: Engine, name: str, limit: int | None = None) -> list[dict]:
    table = demo_tables()[name]
    query = sa.select(table).order_by(*table.primary_key.columns)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def _digest(engine: Engine) -> str:
    digest = hashlib.sha256()
    for name in demo_tables():
        for row in _rows(engine, name):
            digest.update(repr(sorted(row.items())).encode())
    return digest.hexdigest()


def _count(engine: Engine, name: str) -> int:
    table = demo_tables()[name]
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _columns(engine: Engine, name: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(name)}


def _norm(value: str | None) -> str:
    return " ".join(value.split()).casefold() if value else ""


def _is_lookup_anomaly(value: str | None, valid: set[str]) -> bool:
    return value is None or value.strip() != value or value not in valid


def test_default_sizes_and_lookups(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine)

    assert isinstance(summary, DemoSummary)
    assert (summary.applicants, summary.students) == (850, 1200)
    assert _count(empty_engine, APPLICANTS) == 850
    assert _count(empty_engine, STUDENTS) == 1200
    assert _count(empty_engine, REGISTRATIONS) == summary.registrations > 1200
    for name, count in summary.tables.items():
        assert _count(empty_engine, name) == count, name
    assert set(summary.anomalies) == set(ANOMALY_CATEGORIES)

    campuses = _rows(empty_engine, mis_tables.campuses.name)
    names = {c["camp_full_name"] for c in campuses}
    assert {"Kigali Campus", "Rwamagana Campus", "Musanze Campus"} <= names
    assert any(c["camp_full_name"] is None and c["camp_short_name"] for c in campuses)
    intakes = _rows(empty_engine, mis_tables.intakes.name)
    months = {(i["intake_month"], i["intake_start"].year) for i in intakes}
    assert {("September", 2023), ("September", 2024), ("September", 2025)} <= months
    assert all(i["intake_no"] and i["acad_cycle_id"] for i in intakes)
    specializations = _rows(empty_engine, mis_tables.specializations.name)
    assert len(specializations) >= 12
    full = {s["splz_full_name"] for s in specializations}
    assert {"Bachelor of Information Technology", "Bachelor of Science in Nursing"} <= full
    assert any(s["splz_full_name"] is None and s["splz_short_name"] for s in specializations)
    levels = _rows(empty_engine, mis_tables.levels.name)
    assert [lv["level_full_name"] for lv in levels] == ["Year 1", "Year 2", "Year 3", "Year 4"]
    assert all(lv["level_short_name"] for lv in levels)
    modes = {m["prg_mode_full_name"] for m in _rows(empty_engine, mis_tables.program_modes.name)}
    assert modes == {"Day", "Evening", "Weekend"}
    countries = {c["cntr_name"] for c in _rows(empty_engine, mis_tables.countries.name)}
    assert len(countries) >= 15
    assert {"Rwanda", "Uganda", "Kenya", "Burundi", "France", "Belgium"} <= countries


def test_same_seed_same_rows_other_seed_other_rows(empty_engine: Engine) -> None:
    create_demo_database(empty_engine, applicants=300, students=400, seed=11)
    first = _digest(empty_engine)
    create_demo_database(empty_engine, applicants=300, students=400, seed=11, replace=True)
    assert _digest(empty_engine) == first
    create_demo_database(empty_engine, applicants=300, students=400, seed=12, replace=True)
    assert _digest(empty_engine) != first


def test_every_anomaly_is_in_the_default_data(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine)
    apps = _rows(empty_engine, APPLICANTS)
    studs = _rows(empty_engine, STUDENTS)
    regs = _rows(empty_engine, REGISTRATIONS)
    valid = {
        "camp": {str(r["camp_id"]) for r in _rows(empty_engine, mis_tables.campuses.name)},
        "splz": {str(r["splz_id"]) for r in _rows(empty_engine, mis_tables.specializations.name)},
        "intake": {str(r["intake_id"]) for r in _rows(empty_engine, mis_tables.intakes.name)},
        "cntr": {str(r["cntr_id"]) for r in _rows(empty_engine, mis_tables.countries.name)},
    }
    app_names = [(a["first_name"], a["middlename"], a["family_name"]) for a in apps]
    stu_names = [(s["fname"], s["middlename"], s["lname"]) for s in studs]
    people = app_names + stu_names
    parts = [p for name in people for p in name if p]
    camp_ids = [a["camp_id"] for a in apps] + [r["camp_id"] for r in regs]
    emails = [a["email1"] for a in apps] + [s["email1"] for s in studs]
    phones = [a["phone1"] for a in apps] + [s["phone1"] for s in studs]
    sexes = {a["sex"] for a in apps} | {s["sex"] for s in studs}
    student_regs: dict[str, list[dict]] = defaultdict(list)
    for reg in regs:
        student_regs[reg["reg_no"]].append(reg)
    students_by_reg_no = {s["reg_no"]: s for s in studs}

    def inactive_newer(rows: list[dict]) -> bool:
        newest = max(rows, key=lambda r: (r["reg_date"], r["reg_prg_id"]))
        return newest["reg_active"] == 0 and any(r["reg_active"] == 1 for r in rows)

    twins = [
        a
        for a in apps
        if a["reg_no"] in students_by_reg_no
        and students_by_reg_no[a["reg_no"]]["fname"] == a["first_name"]
        and students_by_reg_no[a["reg_no"]]["lname"] == a["family_name"]
    ]
    for app_group in (app_names, stu_names):
        groups = Counter((first, family) for first, _m, family in app_group)
        assert groups[("John", "Doe")] >= 3
        assert groups[("Jean Claude", "Habimana")] >= 2
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
        "namesake group of >= 3 across tables": max(
            Counter((f, fam) for f, _m, fam in people).values()
        )
        >= 3,
        "namesake differing only in case/spaces": any(len(v) > 1 for v in variants.values()),
        "QuickBooks employee's name": ("Jean Claude", "Habimana") in {(f, g) for f, _, g in people},
        "first_name near its 200 limit": any(len(a["first_name"] or "") >= 190 for a in apps),
        # applicant/student twins
        "twins ~35% of students": 0.30 <= len(twins) / len(studs) <= 0.40,
        "twin has the student's reg_no": all(a["reg_no"] in students_by_reg_no for a in twins),
        # lookup ids
        "camp_id with spaces (' 12')": any(c and c != c.strip() for c in camp_ids),
        "dangling camp_id": any(c and c.isdigit() and c not in valid["camp"] for c in camp_ids),
        "camp_id NULL": any(a["camp_id"] is None for a in apps),
        "lookup id ''": any("" in (a["camp_id"], a["prg_mode_id"], a["opt_1"]) for a in apps),
        "lookup id '0'": any("0" in (a["level_id"], a["intake_id"]) for a in apps),
        "non-numeric lookup id": any(
            v and v.strip() and not v.strip().isdigit()
            for a in apps
            for v in (a["camp_id"], a["intake_id"], a["opt_1"])
        ),
        "dangling opt_1": any(a["opt_1"] == "99" for a in apps),
        "valid ids are plain strings": all(
            isinstance(a["camp_id"], str) for a in apps if a["camp_id"] is not None
        ),
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
        "birth country free text": any(a["country_of_birth"] in ("Rwanda", "DRC") for a in apps)
        or any((a["country_of_birth"] or "1").isalpha() for a in apps),
        "dangling birth country": any(
            (c := a["country_of_birth"]) and c.isdigit() and c not in valid["cntr"] for a in apps
        ),
        # students and registrations
        "reg_no like 2021/BIT/0001": all(
            re.fullmatch(r"20\d\d/[A-Z]+/\d{4,}", r) for r in students_by_reg_no
        ),
        "reg_no unique": len(students_by_reg_no) == len(studs),
        "prg_type UG Day/Evening/Weekend": {"UG Day", "UG Evening", "UG Weekend"}
        <= {s["prg_type"] for s in studs},
        "cntr_id strings": all(isinstance(s["cntr_id"], str) for s in studs),
        "cntr_id dangling or odd": any(
            _is_lookup_anomaly(s["cntr_id"], valid["cntr"]) for s in studs
        ),
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
        "registration lookup id spaced or dangling": any(
            _is_lookup_anomaly(r["camp_id"], valid["camp"])
            or _is_lookup_anomaly(r["splz_id"], valid["splz"])
            for r in regs
        ),
        "every registration belongs to a student": set(student_regs) <= set(students_by_reg_no),
        # applicants
        "tracking ids like TRK-2024-000123": sum(
            1 for a in apps if re.fullmatch(r"TRK-20\d\d-\d{6}", a["tracking_id"] or "")
        )
        > 800,
        "appl_date set": all(a["appl_date"] is not None for a in apps),
        "status set": {a["status"] for a in apps} >= {0, 1, 3},
        "opt_1..opt_3 choices": any(a["opt_2"] and a["opt_3"] for a in apps),
        "intake ids resolve": any(a["intake_id"] in valid["intake"] for a in apps),
    }
    missing = sorted(name for name, present in checks.items() if not present)
    assert not missing, f"not found in the demo data: {missing}"

    expected_zero = set() if empty_engine.dialect.name == "sqlite" else {"name_over_column_limit"}
    absent = sorted(k for k, v in summary.anomalies.items() if not v and k not in expected_zero)
    assert not absent, f"summary reports no rows for {absent}"
    assert all(summary.anomalies[k] == 0 for k in expected_zero)
    assert summary.anomalies["applicant_is_also_student"] == len(twins)


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


def test_refuses_to_append_and_replace_recreates(empty_engine: Engine) -> None:
    create_demo_database(empty_engine, applicants=40, students=30)
    with pytest.raises(ValueError, match="replace=True"):
        create_demo_database(empty_engine, applicants=40, students=30)
    assert _count(empty_engine, APPLICANTS) == 40

    ensure_schema(empty_engine)
    assert "QuickBk_Status" in _columns(empty_engine, APPLICANTS)
    assert any(n.startswith("qbsync_") for n in sa.inspect(empty_engine).get_table_names())

    summary = create_demo_database(empty_engine, applicants=25, students=70, replace=True)
    assert (_count(empty_engine, APPLICANTS), _count(empty_engine, STUDENTS)) == (25, 70)
    assert summary.applicants == 25 and summary.students == 70
    # recreated as a university has it: no tracking columns, no tables of ours
    assert "QuickBk_Status" not in _columns(empty_engine, APPLICANTS)
    assert not any(n.startswith("qbsync_") for n in sa.inspect(empty_engine).get_table_names())


def test_tables_as_found_then_migrated(empty_engine: Engine) -> None:
    create_demo_database(empty_engine)
    applicant_columns = _columns(empty_engine, APPLICANTS)
    student_columns = _columns(empty_engine, STUDENTS)
    assert not applicant_columns & set(mis_tables.TRACKING_COLUMN_NAMES)
    assert student_columns & set(mis_tables.TRACKING_COLUMN_NAMES) == {"qk_id"}

    ensure_schema(empty_engine)
    for table in mis_tables.CUSTOMER_TABLES:
        assert set(mis_tables.TRACKING_COLUMN_NAMES) <= _columns(empty_engine, table.name)
        with empty_engine.connect() as conn:
            statuses = conn.execute(
                sa.select(table.c.QuickBk_Status, sa.func.count()).group_by(table.c.QuickBk_Status)
            ).all()
        assert dict(statuses) == {0: 850 if table is mis_tables.applicants else 1200}


def test_small_and_empty_sizes(empty_engine: Engine) -> None:
    summary = create_demo_database(empty_engine, applicants=0, students=0)
    assert summary.applicants == summary.students == summary.registrations == 0
    summary = create_demo_database(empty_engine, applicants=7, students=3, replace=True)
    assert (_count(empty_engine, APPLICANTS), _count(empty_engine, STUDENTS)) == (7, 3)
    with pytest.raises(ValueError):
        create_demo_database(empty_engine, applicants=-1, replace=True)


def test_lengths_fit_the_backend(empty_engine: Engine) -> None:
    create_demo_database(empty_engine)
    longest = max(len(a["first_name"] or "") for a in _rows(empty_engine, APPLICANTS))
    if empty_engine.dialect.name == "sqlite":
        assert longest == 600  # SQLite keeps what it is given
    else:
        assert longest == 200  # at the column limit, stored whole
