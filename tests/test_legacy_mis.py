"""The MIS as universities have it: ``shared/spec/legacy/mis.sql`` (the tables as the earlier
QuickBooks integration left them) with ``legacy/customers.json`` already in QuickBooks.

The product runs there unchanged, configuration being only the URL: it uses the columns already
there, adopts the customers the earlier system made for these records, never twins them and
never links a record to somebody else's customer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from conftest import (
    legacy_customers,
    legacy_statements,
    record_rows,
    status_counts,
    update_record,
)

from qbo_simulator import QuickBooksSimulator, SimulatorConfig
from sync_core.demo.data import PLANTED_FAILURES
from sync_core.domain.access import Actor, Role
from sync_core.domain.errors import SchemaProblem
from sync_core.domain.identity import Verdict, identify
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import Outcome, RunState, Scope, SyncStatus
from sync_core.quickbooks.client import RetryPolicy
from sync_core.service import open_service
from sync_core.sync.request import SyncRequest

FAST_RETRY = RetryPolicy(attempts=8, initial_wait_s=0.05, max_wait_s=0.5)
ADMIN = Actor("Legacy Tester", Role.ADMIN)
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_mis(engine, statements) -> None:
    """Run DDL/DML as a DBA would; on SQLite, MySQL's AUTO_INCREMENT becomes SQLite's."""
    with engine.begin() as conn:
        for statement in statements:
            if engine.dialect.name == "sqlite":
                statement = statement.replace(
                    "INT NOT NULL AUTO_INCREMENT PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"
                )
            conn.exec_driver_sql(statement)


@pytest.fixture
def legacy_sim():
    """A QuickBooks company that already holds the earlier integration's customers."""
    sim = QuickBooksSimulator(
        SimulatorConfig(realm_id=str(9_400_000_000_000_000 + random.randrange(10**15))),
        customers=legacy_customers(),
    ).start()
    yield sim
    sim.stop()


def open_legacy(db_url, sim, make_settings, statements=None, **settings):
    from sync_core.database import create_db_engine

    engine = create_db_engine(db_url)
    create_mis(engine, statements if statements is not None else legacy_statements())
    engine.dispose()
    return open_service(make_settings(sim, db_url, **settings))


def sync(service, scope=Scope.ALL, **kwargs):
    kwargs.setdefault("retry_failed", True)
    request = SyncRequest(scope=scope, operator=ADMIN.name, **kwargs)
    return service.sync_engine(retry=FAST_RETRY).run(request)


def customers(sim) -> dict[str, dict]:
    return {c["Id"]: c for c in sim.inspect().customers}


def ids_by_row(service, kind) -> dict[int, str | None]:
    """The QuickBooks Id each record holds in the MIS (None for NULL, blank or 0)."""
    rows = record_rows(service, kind)
    return {int(r[0]): (str(r[3]).strip() if r[3] is not None else "") or None for r in rows}


def assert_no_record_has_two_customers(service, sim) -> None:
    """For every MIS record, exactly one customer identifies it (and it is the linked one)."""
    everyone = list(customers(sim).values())
    for kind in (APPLICANT, STUDENT):
        page = service.preview(kind, limit=100, include_failed=True)  # those not synced
        assert page.total == 0, f"{kind.plural} left unsynced: {page.total}"
        linked = ids_by_row(service, kind)
        for row_id, qk_id in linked.items():
            mapped = service.record(kind, row_id).mapped
            theirs = [c for c in everyone if identify(c, mapped).verdict is Verdict.THIS]
            assert len(theirs) == 1, (kind.name, row_id, [c["Id"] for c in theirs])
            assert theirs[0]["Id"] == qk_id


# ---------------------------------------------------------------- one run, no twins


def test_one_run_syncs_the_legacy_mis_and_adopts_the_earlier_customers(
    db_url, legacy_sim, make_settings
):
    service = open_legacy(db_url, legacy_sim, make_settings)
    try:
        # the columns already there are used, none is added beside them
        assert service.schema.applicants.quickbooks_id.name == "quickbooks_id"
        assert service.schema.applicants.status.name == "QuickBk_status"
        assert not service.schema.applicants.has("address")
        added = [a for a in service.setup_actions if a.startswith("added column")]
        assert added == []
        before = service.analyze()
        assert before.applicants.synced == 1 and before.applicants.in_progress == 1

        result = sync(service)
        assert result.run.state is RunState.COMPLETED, result.run.message

        applicants = ids_by_row(service, APPLICANT)
        students = ids_by_row(service, STUDENT)
        assert applicants[2] == "301"  # kept, as the invoice sync reads it
        assert applicants[4] == "303"  # left at 3 by the earlier system: adopted
        assert students[2] == "302"
        assert applicants[1] != "304"  # Alice Uwase typed by hand is not applicant 1
        everyone = customers(legacy_sim)
        assert everyone[applicants[1]]["DisplayName"] == "Alice Uwase (APP 1)"
        assert everyone["304"]["Notes"] == "Walk-in customer entered by hand in QuickBooks"
        # four customers were there; five records had none
        assert len(everyone) == 4 + 5
        assert_no_record_has_two_customers(service, legacy_sim)

        # students' ProgramType through tbl_program_type, not the raw id
        eric = everyone[students[1]]
        assert "ProgramType: Day" in eric["Notes"]
        # the adoption is told to the operator
        adopted = service.run_entries(result.run.id, outcome=Outcome.ADOPTED)
        assert {(e["kind"], e["row_id"]) for e in adopted} >= {("applicant", 4)}
        # SyncToken written where the MIS keeps one; pushed_date in the MIS server's own time
        with service.mis_engine.connect() as conn:
            token, pushed, now = conn.execute(
                sa.text(
                    "SELECT sync_token, pushed_date, CURRENT_TIMESTAMP FROM tbl_personal_ug "
                    "WHERE per_id_ug = 1"
                )
            ).one()
        assert token is not None
        if isinstance(now, str):  # SQLite answers text
            now = dt.datetime.fromisoformat(now)
            pushed = (
                pushed if isinstance(pushed, dt.datetime) else dt.datetime.fromisoformat(pushed)
            )
        assert abs((now - pushed).total_seconds()) < 120
    finally:
        service.close()


def test_a_second_run_finds_nothing_to_do_and_makes_nothing(db_url, legacy_sim, make_settings):
    service = open_legacy(db_url, legacy_sim, make_settings)
    try:
        sync(service)
        count = len(customers(legacy_sim))
        assert service.nothing_to_sync(SyncRequest(Scope.ALL, "x", retry_failed=True))
        assert sync(service).run.synced == 0
        assert len(customers(legacy_sim)) == count
    finally:
        service.close()


# ---------------------------------------------------------------- each failure, regressed


def test_an_id_in_the_mis_that_is_another_records_customer_is_not_linked(
    db_url, legacy_sim, make_settings
):
    """A wrong Id in the MIS once linked an applicant to somebody else's customer."""
    service = open_legacy(db_url, legacy_sim, make_settings)
    try:
        update_record(service, APPLICANT, 3, qk_id="302", QuickBk_Status=0)  # Fiona's customer
        result = sync(service)
        failed = service.run_entries(result.run.id, outcome=Outcome.FAILED)
        assert [(e["kind"], e["row_id"]) for e in failed] == [("applicant", 3)]
        assert "points at customer '2024/BBA/002'" in failed[0]["message"]
        assert "student 2024/BBA/002" in failed[0]["message"]
        assert failed[0]["hint"]
        assert ids_by_row(service, APPLICANT)[3] == "302"  # the MIS as it was: for a person
        assert status_counts(service, APPLICANT)[SyncStatus.FAILED] == 1
    finally:
        service.close()


def test_rows_synced_without_an_id_are_linked_where_their_customer_exists(
    db_url, legacy_sim, make_settings
):
    service = open_legacy(db_url, legacy_sim, make_settings)
    try:
        # the earlier system set applicant 4 to 1 but never wrote its Id; student 3 at 1 too,
        # whose customer does not exist
        update_record(service, APPLICANT, 4, QuickBk_Status=1)
        update_record(service, STUDENT, 3, QuickBk_Status=1)
        counts = service.analyze()
        assert counts.applicants.synced_without_id == 1 and counts.students.synced_without_id == 1
        sync(service)
        assert ids_by_row(service, APPLICANT)[4] == "303"
        assert ids_by_row(service, STUDENT)[3] is None  # stays listed, not created blindly
        after = service.analyze()
        assert after.applicants.synced_without_id == 0 and after.students.synced_without_id == 1
    finally:
        service.close()


def test_the_sync_scope_leaves_old_applicants_out_and_says_so(db_url, legacy_sim, make_settings):
    service = open_legacy(
        db_url,
        legacy_sim,
        make_settings,
        applicants_from=dt.date(2025, 2, 3),
        application_statuses=(1,),
    )
    try:
        counts = service.analyze()
        # applicants 1 (Feb 1, not synced) and 3 (Feb 3 but failed: in scope) -> 1 out
        assert counts.applicants.out_of_scope == 1
        assert service.preview(APPLICANT).total == 0  # applicant 3 is failed, not new
        sync(service)
        assert status_counts(service, APPLICANT)[SyncStatus.NOT_SYNCED] == 1
        assert ids_by_row(service, APPLICANT)[1] is None  # never synced
    finally:
        service.close()


# each variant: (replacements in the DBA's script, statements run after it)
VARIANTS = {
    "status column spelled QuickBk_Status": ([("QuickBk_status", "QuickBk_Status")], []),
    "status column spelled quickbk_status": ([("QuickBk_status", "quickbk_status")], []),
    "students' qk_id declared INT": (
        [("reg_date DATETIME, qk_id VARCHAR(255)", "reg_date DATETIME, qk_id INT")],
        [],
    ),
    "applicants' quickbooks_id declared INT": (
        [("quickbooks_id VARCHAR(255), sync_token", "quickbooks_id INT, sync_token")],
        [],
    ),
    "ids declared VARCHAR": (
        [
            (
                "intake_id INT, level_id INT, prg_mode_id INT, spon_id INT",
                "intake_id VARCHAR(20), level_id VARCHAR(20), prg_mode_id VARCHAR(20), "
                "spon_id VARCHAR(20)",
            ),
            ("NOT NULL, prg_type INT,", "NOT NULL, prg_type VARCHAR(20),"),
            ("cntr_id INT, province", "cntr_id VARCHAR(20), province"),
        ],
        [],
    ),
    "optional columns missing": (
        [],
        [
            "ALTER TABLE tbl_personal_ug DROP COLUMN middlename",
            "ALTER TABLE tbl_personal_ug DROP COLUMN email1",
            "ALTER TABLE tbl_online_application DROP COLUMN phone1",
            "ALTER TABLE tbl_online_application DROP COLUMN appl_date",
        ],
    ),
    "no registrations and no lookup tables": (
        [],
        [
            f"DROP TABLE {t}"
            for t in (
                "tbl_register_program_ug",
                "tbl_campus",
                "tbl_intake",
                "tbl_level",
                "tbl_specialization",
                "tbl_program_mode",
                "tbl_program_type",
                "tbl_country",
            )
        ],
    ),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_schema_variants_run_unchanged(db_url, legacy_sim, make_settings, variant):
    replacements, after = VARIANTS[variant]
    original = legacy_statements()
    for old, _ in replacements:  # each replacement finds its text: the variant is tested
        assert any(old in s for s in original), old
    statements = []
    for statement in original:
        for old, new in replacements:
            statement = statement.replace(old, new)
        statements.append(statement)
    assert statements != original or not replacements
    service = open_legacy(db_url, legacy_sim, make_settings, statements=statements + after)
    try:
        warnings = service.schema_warnings()
        if variant == "optional columns missing":
            assert "tbl_personal_ug has no column middlename: MiddleName is not sent" in warnings
            assert "tbl_personal_ug has no column email1: PrimaryEmailAddr is not sent" in warnings
            assert "tbl_online_application has no column phone1: PrimaryPhone is not sent" in (
                warnings
            )
        elif variant == "no registrations and no lookup tables":
            assert any(w.startswith("tbl_register_program_ug not found") for w in warnings)
            assert any(w.startswith("tbl_program_type not found") for w in warnings)
        else:
            assert warnings == []
        result = sync(service)
        assert result.run.state is RunState.COMPLETED, result.run.message
        assert ids_by_row(service, APPLICANT)[2] == "301"
        assert ids_by_row(service, APPLICANT)[4] == "303"
        assert_no_record_has_two_customers(service, legacy_sim)
    finally:
        service.close()


def test_a_missing_identity_or_name_column_is_a_configuration_error_naming_it(
    db_url, legacy_sim, make_settings
):
    text = ";\n".join(legacy_statements(inserts=False)).replace("lname VARCHAR(100), ", "")
    with pytest.raises(SchemaProblem, match="tbl_personal_ug has no column lname"):
        open_legacy(db_url, legacy_sim, make_settings, statements=text.split(";\n"))


@pytest.mark.parametrize(
    "drop, kept, said",
    [
        (
            "per_id_ug INT NOT NULL AUTO_INCREMENT PRIMARY KEY, reg_no VARCHAR(200) NOT NULL, ",
            "per_id_ug INT NOT NULL AUTO_INCREMENT PRIMARY KEY, ",
            "tbl_personal_ug has no column reg_no",
        ),
        (
            "family_name VARCHAR(200), dob DATETIME",
            "dob DATETIME",
            "tbl_online_application has no column family_name",
        ),
    ],
    ids=["students without reg_no", "applicants without family_name"],
)
def test_the_cli_names_a_missing_identity_column_and_exits_2(db_url, drop, kept, said):
    import json
    import os
    import subprocess
    import sys

    from sync_core.database import create_db_engine

    statements = legacy_statements(inserts=False)
    assert any(drop in s for s in statements), drop
    engine = create_db_engine(db_url)
    create_mis(engine, [s.replace(drop, kept) for s in statements])
    engine.dispose()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "SYNC_", "QBO_"))}
    done = subprocess.run(
        [sys.executable, "-m", "sync_core", "analyze", "--json"],
        env={**env, "MIS_DATABASE_URL": db_url, "PYTHONPATH": root},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert said in error["message"] and error["category"] == "configuration"
    assert "Traceback" not in done.stderr and "SELECT" not in done.stdout


def test_the_portable_path_gives_the_same_answer(db_url, legacy_sim, make_settings):
    """MySQL 5.7 has no window functions and no SKIP LOCKED: forced here on any server."""
    service = open_legacy(db_url, legacy_sim, make_settings, portable_sql=True)
    try:
        assert not service.schema.features.window_functions
        assert not service.schema.features.skip_locked
        eric = service.record(STUDENT, 1)
        assert eric.source.row["registration"]["level_id"] == 2  # the 2025 registration
        result = sync(service)
        assert result.run.state is RunState.COMPLETED
        assert_no_record_has_two_customers(service, legacy_sim)
    finally:
        service.close()


# ---------------------------------------------------------------- crashes on a real-shaped MIS

HOSTILE_NAMES = {  # appl_Id -> (first, family): backslashes, apostrophes, case differences
    61: ("Back\\slash", "O'Brien"),
    62: ("Ends With\\", "D'Amour"),
    63: ("jean claude", "HABIMANA"),  # a case variant of a planted namesake and an employee
    64: ("JOHN", "doe"),
    65: ("Amélie", "N'Guessan\\Kouassi"),
}


def _child_env(service, sim) -> dict[str, str]:
    s = service.settings
    return {
        **os.environ,
        "MIS_DATABASE_URL": s.database_url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": sim.base_url,
        "QBO_DISCOVERY_URL": sim.discovery_url,
        "QBO_TOKEN_KEY": s.qbo_token_key.reveal(),
        "SYNC_DATA_DIR": str(s.data_dir),
        "QBO_MAX_CONCURRENT": "2",
        "PYTHONPATH": PROJECT_ROOT,
    }


def _in_flight(service, pid: int, done_at_least: int) -> bool:
    run = service.active_run()
    if run is None or run.pid != pid or run.done < done_at_least:
        return False
    counts = status_counts(service, APPLICANT) + status_counts(service, STUDENT)
    return counts[SyncStatus.IN_PROGRESS] > 0


@pytest.mark.slow
def test_sigkill_on_a_legacy_shaped_mis_with_hostile_names_leaves_no_twin(db_url, make_settings):
    from sync_core.database import create_db_engine
    from sync_core.demo.data import create_demo_database

    engine = create_db_engine(db_url)
    summary = create_demo_database(engine, applicants=400, students=400, with_history=True)
    engine.dispose()
    sim = QuickBooksSimulator(
        SimulatorConfig(realm_id=str(9_500_000_000_000_000 + random.randrange(10**15))),
        customers=summary.customers,
    ).start()
    service = open_service(make_settings(sim, db_url))
    try:
        for row_id, (first, family) in HOSTILE_NAMES.items():
            update_record(service, APPLICANT, row_id, first_name=first, family_name=family)
        service.connection_status()  # connected and stored before the children start
        sim.set_faults(latency_ms=400)  # with 2 at a time, a run lasts several seconds
        rng = random.Random(9)
        for _trial in range(3):
            child = subprocess.Popen(
                [sys.executable, "-m", "sync_core", "all", "--retry-failed", "--batch-size", "20"],
                env=_child_env(service, sim),
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            target = rng.randint(10, 150)
            deadline = time.monotonic() + 90
            while not _in_flight(service, child.pid, target):
                assert child.poll() is None, "the run ended before it could be killed"
                assert time.monotonic() < deadline, "the child's run never got going"
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
            child.wait()
        stuck = (status_counts(service, APPLICANT) + status_counts(service, STUDENT))[
            SyncStatus.IN_PROGRESS
        ]
        assert stuck > 0  # killed mid-step: records left at 3, maybe sent
        sim.set_faults(latency_ms=0)
        result = sync(service)
        assert result.run.state in (RunState.COMPLETED, RunState.COMPLETED_WITH_ERRORS)
        failed = service.run_entries(result.run.id, outcome=Outcome.FAILED)
        # blank RegNos and a name QuickBooks refuses: the registrar must fix them
        planted = {(f.kind, f.row_id) for f in PLANTED_FAILURES}
        assert {(e["kind"], e["row_id"]) for e in failed} <= planted
        everyone = list(customers(sim).values())
        unlinked = service.analyze().overall.synced_without_id  # the earlier system's, no customer
        for kind in (APPLICANT, STUDENT):
            for row_id, qk_id in ids_by_row(service, kind).items():
                if (kind.name, row_id) in planted:
                    continue
                if qk_id is None:  # at 1 with no Id and no customer: listed, never created
                    unlinked -= 1
                    continue
                mapped = service.record(kind, row_id).mapped
                theirs = [c["Id"] for c in everyone if identify(c, mapped).verdict is Verdict.THIS]
                assert len(theirs) == 1, (kind.name, row_id, mapped.display_name, theirs)
                assert qk_id == theirs[0]
        assert unlinked == 0
        names = Counter(c["DisplayName"].casefold() for c in everyone)
        assert max(names.values()) == 1  # QuickBooks' own rule held throughout
    finally:
        service.close()
        sim.stop()


# ---------------------------------------------------------------- check


def test_check_reports_the_mis_as_found_before_anything_changes(
    db_url, legacy_sim, make_settings, tmp_path
):
    from sync_core.database import create_db_engine

    engine = create_db_engine(db_url)
    create_mis(engine, legacy_statements())
    with engine.begin() as conn:  # a data-entry error: two students share a RegNo
        conn.exec_driver_sql(
            "UPDATE tbl_personal_ug SET reg_no = '2024/BIT/001' WHERE per_id_ug = 3"
        )
    engine.dispose()
    env = {
        **os.environ,
        "PYTHONPATH": PROJECT_ROOT,
        "MIS_DATABASE_URL": db_url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": legacy_sim.base_url,
        "QBO_DISCOVERY_URL": legacy_sim.discovery_url,
        "SYNC_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "sync_core", "check", "--json"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["data"]
    assert report["ok"] is True and report["reachable"] is True
    assert report["status_columns"] == {"applicant": "QuickBk_status", "student": "QuickBk_status"}
    assert report["id_columns"] == {"applicant": "quickbooks_id", "student": "qk_id"}
    assert report["sync_token_columns"]["student"] == "sync_token"
    students = next(t for t in report["tables"] if t["name"] == "tbl_personal_ug")
    assert {"name": "reg_no", "found": True}.items() <= students["columns"][1].items()
    assert report["counts"]["overall"]["total_customers"] == 8
    assert report["earlier_system"]["applicant"]["linked_before_this_product"] == 1
    assert report["earlier_system"]["applicant"]["left_in_progress"] == 1
    assert report["duplicates"]["students_reg_no"] == {"values": 1, "records": 2}
    problems = {p["what"]: p for p in report["problems"]}
    assert "1 RegNo values are shared by 2 records" in problems
    assert problems["1 record is left in progress (status 3)"]["what_to_do"]
    # what the first start will still do, and the grants it needs, said before it is tried
    for table in ("tbl_online_application", "tbl_personal_ug"):
        index = problems[f"{table} has no index on its status column yet"]
        assert "INDEX grant" in index["what_to_do"]
    ours = next(w for w in problems if w.startswith("the product's tables are not in"))
    assert "CREATE and INDEX grants" in problems[ours]["what_to_do"]
    text = subprocess.run(
        [sys.executable, "-m", "sync_core", "check"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "status column QuickBk_status, QuickBooks Id column quickbooks_id" in text
    # nothing was changed by looking: no tracking index, no table of ours yet
    assert "qbsync_run" not in {
        t.lower() for t in sa.inspect(create_db_engine(db_url)).get_table_names()
    }
