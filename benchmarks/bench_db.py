"""The benchmarks' MIS with 200,000 records, built once and reused across runs.

A database named ``qbsync_bench_<records>`` on the server (MariaDB) or a file
``/tmp/qbsync_bench_<records>.sqlite`` (SQLite) is reused when it holds the demo's marker and
that many records; otherwise it is (re)built with the demo generator (half applicants, half
students; minutes at 200,000), then a third of the applicants set synced and one student in 50
failed, so that statuses are a realistic mix. ``--fresh`` in the benchmarks rebuilds it.
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from sync_core.database import create_db_engine


def _records_in(engine: Engine) -> int:
    from sync_core.mis.schema import inspect_schema

    try:
        schema = inspect_schema(engine)
        with engine.connect() as conn:
            return sum(
                int(conn.execute(sa.select(sa.func.count()).select_from(t.table)).scalar_one())
                for t in schema.customer_tables
            )
    except Exception:
        return -1


def bench_engine(backend: str, server_url: str, records: int, fresh: bool = False) -> Engine:
    """An engine on the benchmark MIS of ``records`` records, built if needed."""
    name = f"qbsync_bench_{records}"
    if backend == "sqlite":
        path = Path(f"/tmp/{name}.sqlite")
        if fresh:
            path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        server = create_db_engine(server_url, poolclass=sa.pool.NullPool)
        with server.begin() as conn:
            if fresh:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        server.dispose()
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_db_engine(url)
    if _records_in(engine) == records:
        print(f"reusing {backend} database {name} ({records:,} records)", flush=True)
        return engine
    build(engine, records)
    return engine


def build(engine: Engine, records: int) -> None:
    from sync_core.demo.data import create_demo_database
    from sync_core.mis.schema import inspect_schema
    from sync_core.mis.setup import ensure_tracking_columns
    from sync_core.store.setup import ensure_tables

    started = time.perf_counter()
    half = records // 2
    create_demo_database(engine, applicants=half, students=records - half, replace=True)
    ensure_tracking_columns(engine)
    ensure_tables(engine)
    schema = inspect_schema(engine)
    with engine.begin() as conn:
        for table, status, modulo in ((schema.applicants, 1, 3), (schema.students, 2, 50)):
            conn.execute(
                sa.update(table.table)
                .where(table.row_id % modulo == 0)
                .values({table.status: status})
            )
    print(f"built {records:,} records in {time.perf_counter() - started:.0f} s", flush=True)
