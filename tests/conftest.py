"""Shared fixtures: a fresh MIS database on SQLite and on MariaDB for every SQL test.

MariaDB tests run against ``TEST_MARIADB_URL`` (default root@127.0.0.1:3306). Where MariaDB is
not reachable they skip with the reason, except under CI (``CI`` set), where an unreachable
MariaDB fails the run: CI must prove the SQL on MariaDB.

Tiers: every test is ``fast`` (pure or one module, no database, no HTTP), ``integration``
(databases, the simulator over HTTP, child processes) or ``browser`` (Chromium). A test is
integration when it uses one of the fixtures below that stand for a service; ``pytest -m fast``
is the tier a developer runs on every change.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from sync_core.database import create_db_engine

MARIADB_SERVER_URL = os.environ.get("TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
IN_CI = bool(os.environ.get("CI"))
BACKENDS = ("sqlite", "mariadb")


def _mariadb_unavailable_reason() -> str | None:
    try:
        engine = create_db_engine(MARIADB_SERVER_URL, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "not here"
        return f"MariaDB not reachable at {MARIADB_SERVER_URL} ({type(exc).__name__}: {exc})"


# fixtures that stand for a service: a test using one of them is an integration test
SERVICE_FIXTURES = {
    "mariadb_server",
    "make_database",
    "db_url",
    "empty_engine",
    "demo_engine",
    "simulator",
    "simulator_process",
    "context",
    "sim",
    "shared_sim",
    "demo",
    "tmp_mis",
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.get_closest_marker("browser"):
            continue
        if item.get_closest_marker("integration") or SERVICE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    reason = _mariadb_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI requires the MariaDB suite", pytrace=False)
        pytest.skip(f"{reason}; start MariaDB to run the MariaDB suite")
    return MARIADB_SERVER_URL


@pytest.fixture
def make_database(request, tmp_path) -> Iterator:
    """Factory: ``make_database("sqlite"|"mariadb") -> URL`` of a new empty database."""
    created: list[tuple[Engine, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'mis_{uuid.uuid4().hex[:8]}.sqlite'}"
        server = request.getfixturevalue("mariadb_server")
        name = f"qbsync_test_{uuid.uuid4().hex[:12]}"
        admin = create_db_engine(server, poolclass=sa.pool.NullPool)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        created.append((admin, name))
        return make_url(server).set(database=name).render_as_string(hide_password=False)

    yield make
    for admin, name in created:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def db_url(backend, make_database) -> str:
    """URL of a new, empty database on each backend."""
    return make_database(backend)


@pytest.fixture
def empty_engine(db_url) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_engine(empty_engine) -> Engine:
    """A database holding the default demo MIS data (850 applicants, 1,200 students), migrated."""
    from sync_core.demo.data import create_demo_database
    from sync_core.mis.setup import ensure_tracking_columns
    from sync_core.store.setup import ensure_tables

    create_demo_database(empty_engine)
    ensure_tracking_columns(empty_engine)
    ensure_tables(empty_engine)
    return empty_engine


# ---------------------------------------------------------------- QuickBooks simulator


@pytest.fixture
def simulator():
    """A QuickBooks simulator over real HTTP with its own company (a fresh realm per test, so
    no request window or limiter is shared between tests)."""
    from qbo_simulator import QuickBooksSimulator, SimulatorConfig

    realm = str(9_300_000_000_000_000 + uuid.uuid4().int % 10**15)
    sim = QuickBooksSimulator(SimulatorConfig(realm_id=realm)).start()
    yield sim
    sim.stop()


@pytest.fixture
def simulator_process():
    """``start(*cli_args)``: the simulator in its own process (``python -m qbo_simulator``), as
    QuickBooks is to the product: nothing shared but HTTP. Answers what it printed (base_url,
    discovery_url, realm_id, client_id, refresh_token); stopped after the test."""
    import re
    import subprocess
    import sys
    from types import SimpleNamespace

    procs: list[subprocess.Popen] = []

    def start(*args: str) -> SimpleNamespace:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qbo_simulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "Press Ctrl+C" not in lines[-1]:
            lines.append(proc.stdout.readline())
            assert lines[-1], "the simulator stopped: " + "".join(lines)
        out = "".join(lines)

        def field(pattern: str) -> str:
            found = re.search(pattern, out)
            assert found, out
            return found.group(1)

        return SimpleNamespace(
            proc=proc,
            base_url=field(r"running at (http://\S+)"),
            discovery_url=field(r"discovery URL:\s+(\S+)"),
            realm_id=field(r"realm id:\s+(\S+)"),
            client_id=field(r"client id:\s+(\S+)"),
            refresh_token=field(r"refresh token:\s+(\S+)"),
        )

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def make_settings(tmp_path):
    """Settings for the product pointed at a simulator and a database URL."""
    from sync_core.settings import Secret, Settings
    from sync_core.store.tokens import generate_key

    key = generate_key()

    def make(sim, db_url: str, **overrides):
        values = {
            "mis_database_url": db_url,
            "data_dir": tmp_path / "data",
            "qbo_environment": "simulator",
            "qbo_api_base_url": sim.base_url,
            "qbo_discovery_url": sim.discovery_url,
            "qbo_token_key": Secret(key),
            "qbo_realm_id": sim.config.realm_id,
            "qbo_refresh_token": Secret(sim.issue_refresh_token()),
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def context(demo_engine, db_url, simulator, make_settings):
    """The product's service on the demo MIS (on each backend), connected to the simulator."""
    from sync_core.service import open_service

    service = open_service(make_settings(simulator, db_url))
    yield service
    service.close()


# ---------------------------------------------------------------- hostile data


def _blank_reg_no(settings) -> int:
    """The demo MIS's own data-entry error (:data:`sync_core.demo.data.PLANTED_FAILURES`): a
    student whose RegNo is blank. Such a record can never become a customer, so a full sync of
    the demo ends with readable failures. Answers the first such student's row id; the demo
    database is created if it is not there yet."""
    from sync_core.demo.data import PLANTED_FAILURES
    from sync_core.demo.embedded import ensure_demo_database

    ensure_demo_database(settings, with_history=False)  # unless the test made one already
    return next(f.row_id for f in PLANTED_FAILURES if f.column == "reg_no")


@pytest.fixture(scope="session")
def blank_reg_no():
    """``blank_reg_no(settings) -> row_id`` of the demo's first blank-RegNo student."""
    return _blank_reg_no


# ---------------------------------------------------------------- poking the MIS in tests


def update_record(service, kind, row_id: int, **values) -> None:
    """Change columns of one MIS record (by canonical column name), as a registrar would."""
    table = service.schema.customers(kind)
    with service.mis_engine.begin() as conn:
        conn.execute(
            table.table.update()
            .where(table.row_id == row_id)
            .values({table.table.c[k]: v for k, v in values.items()})
        )


def status_counts(service, kind):
    """Records of ``kind`` per status (NULL counts as not synced)."""
    from collections import Counter

    from sync_core.domain.statuses import SyncStatus

    table = service.schema.customers(kind)
    with service.mis_engine.connect() as conn:
        found = conn.execute(sa.select(table.status, sa.func.count()).group_by(table.status)).all()
    counts: Counter = Counter()
    for status, n in found:
        counts[SyncStatus.of(status)] += n
    return counts


def record_rows(service, kind):
    """(row id, identity, status, QuickBooks Id, pushed_by) of every record of ``kind``."""
    table = service.schema.customers(kind)
    with service.mis_engine.connect() as conn:
        return conn.execute(
            sa.select(
                table.row_id,
                table.identity,
                table.status,
                table.quickbooks_id,
                table.table.c.pushed_by,
            )
        ).all()


# ---------------------------------------------------------------- the MIS as universities have it

LEGACY_DIR = os.path.join(os.path.dirname(__file__), "fixtures", "legacy")


def legacy_statements(*, inserts: bool = True) -> list[str]:
    """The statements of ``fixtures/legacy/mis.sql`` (a copy of shared/spec/legacy/mis.sql):
    the MIS tables as the earlier integration left them, with its sample rows."""
    with open(os.path.join(LEGACY_DIR, "mis.sql"), encoding="utf-8") as fh:
        text = "\n".join(line for line in fh if not line.lstrip().startswith("--"))
    statements = [s.strip() for s in text.split(";") if s.strip()]
    if not inserts:
        statements = [s for s in statements if s.upper().startswith("CREATE")]
    return statements


def load_legacy_mis(engine, *, inserts: bool = True) -> None:
    """Run the legacy MIS script as a DBA would; on SQLite, MySQL's AUTO_INCREMENT becomes
    SQLite's own spelling (the only translation)."""
    with engine.begin() as conn:
        for statement in legacy_statements(inserts=inserts):
            if engine.dialect.name == "sqlite":
                statement = statement.replace(
                    "INT NOT NULL AUTO_INCREMENT PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT"
                )
            conn.exec_driver_sql(statement)


def legacy_customers() -> list[dict]:
    """The customers the earlier integration created for the legacy rows."""
    import json

    with open(os.path.join(LEGACY_DIR, "customers.json"), encoding="utf-8") as fh:
        return json.load(fh)


def repair_planted_failures(service) -> list[int]:
    """Do what the registrar would: give the demo's planted blank RegNos a value and the name
    QuickBooks refuses a real one, so a test can start from a demo whose every record can sync.
    Answers the student row ids repaired."""
    from sync_core.demo.data import PLANTED_FAILURES
    from sync_core.domain.kinds import APPLICANT, STUDENT

    repaired = []
    for failure in PLANTED_FAILURES:
        if failure.kind == STUDENT.name and failure.column == "reg_no":
            update_record(service, STUDENT, failure.row_id, reg_no=f"2099/FIX/{failure.row_id:04d}")
            repaired.append(failure.row_id)
        elif failure.kind == APPLICANT.name and failure.column == "first_name":
            update_record(
                service, APPLICANT, failure.row_id, first_name="Clarisse", family_name="Iradukunda"
            )
    return repaired
