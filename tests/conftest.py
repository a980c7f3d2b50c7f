"""Shared fixtures: a fresh MIS database on SQLite and on MariaDB for every SQL test.

MariaDB tests run against ``TEST_MARIADB_URL`` (default root@127.0.0.1:3306). Where MariaDB is
not reachable they skip with the reason, except under CI (``CI`` set), where an unreachable
MariaDB fails the run: CI must prove the SQL on MariaDB.
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
    from sync_core.mis.migrations import ensure_schema

    create_demo_database(empty_engine)
    ensure_schema(empty_engine)
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
    """The product's context on the demo MIS (on each backend), connected to the simulator."""
    from sync_core.service.context import open_context

    ctx = open_context(make_settings(simulator, db_url))
    yield ctx
    ctx.close()


# ---------------------------------------------------------------- hostile data


def _blank_reg_no(settings, row_id: int = 55) -> int:
    """A registrar's data-entry error in the demo MIS: a student whose RegNo is blank. Such a
    record can never become a customer, so a full sync ends with one readable failure."""
    from sync_core.demo.embedded import ensure_demo_database
    from sync_core.mis import tables as mis_tables

    ensure_demo_database(settings)
    engine = create_db_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                mis_tables.students.update()
                .where(mis_tables.students.c.per_id_ug == row_id)
                .values(reg_no=" ")
            )
    finally:
        engine.dispose()
    return row_id


@pytest.fixture(scope="session")
def blank_reg_no():
    """``blank_reg_no(settings, row_id=55) -> row_id`` on the demo database of ``settings``."""
    return _blank_reg_no
