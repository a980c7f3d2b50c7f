"""Benchmark of the data half on MariaDB with 200,000 records: prints figures, asserts nothing.

    python benchmarks/bench_foundation.py [--url URL] [--records 200000] [--fresh]

Uses the benchmarks' MIS (built once, reused across runs: benchmarks/bench_db.py; half
applicants, half students), then measures, printing one verdict line per target with the load:
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
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_db  # noqa: E402
import verdict  # noqa: E402

from sync_core.domain.kinds import APPLICANT, STUDENT  # noqa: E402
from sync_core.domain.mapping import MappingOptions  # noqa: E402
from sync_core.mis.reader import fetch_records  # noqa: E402
from sync_core.mis.schema import inspect_schema  # noqa: E402
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
    parser.add_argument("--fresh", action="store_true", help="rebuild the benchmark MIS")
    args = parser.parse_args()

    print(verdict.machine(), flush=True)
    engine = bench_db.bench_engine("mariadb", args.url, args.records, args.fresh)
    label = f"@{args.records // 1000}k (mariadb)"
    try:
        schema = inspect_schema(engine)
        with engine.connect() as conn:
            analysis_times = timed(lambda: analyze(conn, schema), 7)
            counts = analyze(conn, schema)
            figure = statistics.median(analysis_times) * 1000
            verdict.report(
                f"analysis {label}",
                f"{figure:.0f} ms (max {max(analysis_times) * 1000:.0f} ms; "
                f"{counts.overall.total:,} records, {counts.overall.synced:,} synced)",
                "< 300 ms",
                figure < 300,
            )
            total = counts.students.not_synced
            pages = {  # alternated: first, last, deep by keyset; the seed's offset
                "first": lambda: preview(conn, schema, STUDENT, limit=100, total=total),
                "last": lambda: preview(conn, schema, STUDENT, limit=100, last=True, total=total),
                "offset half": lambda: preview(
                    conn, schema, STUDENT, limit=100, offset=total // 2, total=total
                ),
            }
            times: dict[str, list[float]] = {name: [] for name in pages}
            for _ in range(7):
                for name, fn in pages.items():
                    times[name] += timed(fn, 1)
            for name, values in times.items():
                figure = statistics.median(values) * 1000
                verdict.report(
                    f"preview 100 students, {name} {label}",
                    f"{figure:.0f} ms (max {max(values) * 1000:.0f} ms)",
                    "< 200 ms",
                    figure < 200,
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
            verdict.report(
                f"mapping {label}",
                f"{mapped / mapping_s:,.0f} records/s ({mapped:,} in {mapping_s:.1f} s)",
                ">= 20,000 records/s",
                mapped / mapping_s >= 20_000,
            )
        print(f"peak memory   {peak_rss_mib():7.0f} MiB resident")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
