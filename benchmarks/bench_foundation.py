"""Benchmark of the data half on MariaDB with 200,000 records: prints figures, asserts nothing.

    python benchmarks/bench_foundation.py [--url URL] [--records 200000]

Creates a throwaway database (dropped at the end unless --keep), fills it with the demo
generator (half applicants, half students), then measures:
  analysis       the grouped status counts of both tables      target < 0.3 s
  preview        100 not-yet-synced records, enriched + mapped  target < 0.2 s
  mapping        records mapped per second (pure mapping)      target >= 20,000 /s
  peak memory    resident set size of this process
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_core.database import create_db_engine  # noqa: E402
from sync_core.demo.data import create_demo_database  # noqa: E402
from sync_core.domain.kinds import APPLICANT, STUDENT  # noqa: E402
from sync_core.domain.mapping import MappingOptions  # noqa: E402
from sync_core.mis.reader import fetch_records  # noqa: E402
from sync_core.mis.schema import inspect_schema  # noqa: E402
from sync_core.mis.setup import ensure_tracking_columns  # noqa: E402
from sync_core.service.analysis import analyze  # noqa: E402
from sync_core.service.preview import preview  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    server = create_db_engine(args.url, poolclass=sa.pool.NullPool)
    name = f"qbsync_bench_{uuid.uuid4().hex[:8]}"
    with server.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = make_url(args.url).set(database=name)
    engine = create_db_engine(url)
    try:
        started = time.perf_counter()
        half = args.records // 2
        create_demo_database(engine, applicants=half, students=args.records - half)
        ensure_tracking_columns(engine)
        schema = inspect_schema(engine)
        print(
            f"database {name}: {args.records:,} records filled in "
            f"{time.perf_counter() - started:.1f} s"
        )
        with engine.connect() as conn:
            # a third synced, some failed: counts over a realistic mix of statuses
            # (the tracking columns as the MIS spells them: bound by the inspected schema)
            for table, status, modulo in ((schema.applicants, 1, 3), (schema.students, 2, 50)):
                conn.execute(
                    sa.update(table.table)
                    .where(table.row_id % modulo == 0)
                    .values({table.status: status})
                )
            conn.commit()

            analysis_times = timed(lambda: analyze(conn, schema), 7)
            counts = analyze(conn, schema).overall
            print(
                f"analysis      median {statistics.median(analysis_times) * 1000:7.1f} ms  "
                f"(max {max(analysis_times) * 1000:.1f} ms; {counts.total:,} records, "
                f"{counts.synced:,} synced)   target < 300 ms"
            )

            for kind, offset in ((APPLICANT, 0), (STUDENT, 0), (STUDENT, half // 2)):
                preview_times = timed(
                    lambda k=kind, o=offset: preview(conn, schema, k, limit=100, offset=o), 7
                )
                print(
                    f"preview 100   median {statistics.median(preview_times) * 1000:7.1f} ms  "
                    f"({kind.plural}, offset {offset:,})   target < 200 ms"
                )

            options = MappingOptions()
            mapped = 0
            mapping_s = 0.0
            for kind in (APPLICANT, STUDENT):
                row_id = schema.customers(kind).row_id
                last = 0
                while True:
                    rows = (
                        conn.execute(
                            sa.select(row_id).where(row_id > last).order_by(row_id).limit(2000)
                        )
                        .scalars()
                        .all()
                    )
                    if not rows:
                        break
                    last = rows[-1]
                    page = fetch_records(conn, schema, kind, row_ids=rows)
                    started = time.perf_counter()
                    mapped += len(page.mapped(options))
                    mapping_s += time.perf_counter() - started
            print(
                f"mapping       {mapped / mapping_s:10,.0f} records/s  "
                f"({mapped:,} records in {mapping_s:.1f} s)   target >= 20,000/s"
            )
        print(f"peak memory   {peak_rss_mib():7.0f} MiB resident")
    finally:
        engine.dispose()
        if not args.keep:
            with server.begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.dispose()


if __name__ == "__main__":
    main()
