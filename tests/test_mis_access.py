"""How the product meets the MIS account it is given: the product's tables kept apart, grants
missing, the server unreachable. Each failure names what failed and what to do; none carries
SQL text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from conftest import load_legacy_mis

from sync_core.database import create_db_engine
from sync_core.domain.errors import DatabaseUnavailable, SchemaProblem
from sync_core.service import open_service
from sync_core.service.check import run_check

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tables(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return {t.lower() for t in sa.inspect(engine).get_table_names()}
    finally:
        engine.dispose()


def test_the_products_tables_live_apart_and_the_mis_gains_only_tracking_columns(
    make_database, backend, simulator, make_settings
):
    mis_url, store_url = make_database(backend), make_database(backend)
    engine = create_db_engine(mis_url)
    load_legacy_mis(engine)
    before = _tables(mis_url)
    engine.dispose()
    service = open_service(make_settings(simulator, mis_url, sync_database_url=store_url))
    try:
        assert _tables(mis_url) == before  # no qbsync_ table in the MIS
        assert "qbsync_run" in _tables(store_url)
        assert "Product tables" in service.describe_configuration()
        assert service.analyze().overall.total == 8
    finally:
        service.close()


@pytest.fixture
def limited_account(mariadb_server, make_database):
    """A MIS on MariaDB whose account may read and write rows but not ALTER or CREATE."""
    url = make_database("mariadb")
    admin = create_db_engine(url)
    # the seed's shape: no tracking columns yet, so the product must ALTER
    with admin.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE tbl_online_application (appl_Id INT PRIMARY KEY, "
            "first_name VARCHAR(200), family_name VARCHAR(200))"
        )
        conn.exec_driver_sql(
            "CREATE TABLE tbl_personal_ug (per_id_ug INT PRIMARY KEY, reg_no VARCHAR(200), "
            "fname VARCHAR(250), lname VARCHAR(100))"
        )
    database = sa.make_url(url).database
    user = f"qbs_ro_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'pw-{user}'")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{database}`.* TO '{user}'@'%%'"
        )
    limited = sa.make_url(url).set(username=user, password=f"pw-{user}")
    yield limited.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP USER '{user}'@'%%'")
    admin.dispose()


def test_an_account_without_alter_is_told_which_grant_and_which_statement(
    limited_account, simulator, make_settings
):
    with pytest.raises(SchemaProblem) as caught:
        open_service(make_settings(simulator, limited_account))
    error = caught.value
    assert "the ALTER grant is missing" in error.message
    assert "ALTER TABLE" in error.what_to_do and "ADD COLUMN" in error.what_to_do
    assert "GRANT ALTER ON" in error.what_to_do
    # check still works (read-only) and says what will be needed
    report = run_check(make_settings(simulator, limited_account))
    assert report.reachable
    assert any("tracking columns not there yet" in p.what for p in report.problems)
    assert any("GRANT SELECT, INSERT, UPDATE, DELETE" in g for g in report.grants)


def test_an_account_without_create_is_told_which_grant_before_and_at_the_start(
    limited_account, simulator, make_settings
):
    """The tracking columns are there (a DBA added them); the product's own tables are not,
    and the account may not CREATE them: check says so beforehand, the start names the grant."""
    from sync_core.mis.setup import ensure_tracking_columns

    limited = sa.make_url(limited_account)
    admin = create_db_engine(
        sa.URL.create(
            limited.drivername,
            username="root",
            host=limited.host,
            port=limited.port,
            database=limited.database,
        ).render_as_string(hide_password=False)
    )
    ensure_tracking_columns(admin)
    admin.dispose()
    report = run_check(make_settings(simulator, limited_account))
    told = [p for p in report.problems if p.what.startswith("the product's tables are not in")]
    assert told and "CREATE and INDEX grants" in told[0].what_to_do
    with pytest.raises(SchemaProblem) as caught:
        open_service(make_settings(simulator, limited_account))
    assert "the CREATE grant is missing" in caught.value.message
    assert "GRANT CREATE, INDEX ON" in caught.value.what_to_do


def test_the_cli_says_it_once_with_exit_2_and_no_sql(limited_account, simulator, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": PROJECT_ROOT,
        "MIS_DATABASE_URL": limited_account,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": simulator.base_url,
        "QBO_DISCOVERY_URL": simulator.discovery_url,
        "SYNC_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "sync_core", "analyze", "--json"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    answer = json.loads(done.stdout)
    assert answer["success"] is False and answer["error"]["category"] == "configuration"
    assert "ALTER grant is missing" in answer["error"]["message"]
    assert "Traceback" not in done.stderr and "SQL:" not in done.stdout + done.stderr


def test_an_unreachable_mis_is_said_to_be_unreachable(tmp_path, simulator, make_settings):
    nowhere = "mysql+pymysql://nobody:secret@127.0.0.1:1/mis"  # a closed port
    with pytest.raises(DatabaseUnavailable, match="Cannot reach the MIS database"):
        open_service(make_settings(simulator, nowhere))
    report = run_check(make_settings(simulator, nowhere))
    assert not report.reachable
    assert [p.what for p in report.problems] == ["Cannot reach the MIS database"]
    assert "secret" not in json.dumps(report.as_dict())


def test_a_database_that_is_not_the_mis_is_a_schema_problem_not_unreachable(
    make_database, backend, simulator, make_settings
):
    with pytest.raises(SchemaProblem, match="not found: this database is not the MIS"):
        open_service(make_settings(simulator, make_database(backend)))
