"""Benchmark of the Preview's and the worklist's pages at any depth of 200,000 records: prints
figures and one verdict line per target, asserts nothing.

    python benchmarks/bench_pages.py [--backend mariadb|sqlite|both] [--records 200000]
                                     [--rounds 7] [--url URL] [--fresh]

The MIS (half applicants, half students, a third of the applicants synced, one student in 50
failed) is built once and reused across runs (benchmarks/bench_db.py; ``--fresh`` rebuilds it).
Pages are asked as the product asks them: by keyset (after the last row seen; the last page
from the end), with the total of a recent analysis (the service's counts, made once, not per
page). Each round alternates first page, last page, a page after a row deep in the table, and
(for comparison only) the same deep page by offset, so that the machine's load falls on all.
  targets: every keyset page <= 60 ms (median); last page within 1.5x of the first
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_db  # noqa: E402
import verdict  # noqa: E402

from sync_core.domain.kinds import STUDENT  # noqa: E402
from sync_core.mis.worklist import Position  # noqa: E402
from sync_core.service import open_service  # noqa: E402
from sync_core.service import worklist as wl  # noqa: E402
from sync_core.settings import Settings  # noqa: E402

TARGET_MS = 60.0
RATIO = 1.5
PAGE = 25  # the Preview's default rows per page
WORK_PAGE = wl.PAGE_SIZE


def timed_ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def measure(backend: str, args: argparse.Namespace) -> bool:
    engine = bench_db.bench_engine(backend, args.url, args.records, args.fresh)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    with tempfile.TemporaryDirectory() as data:
        service = open_service(Settings(mis_database_url=url, data_dir=Path(data)))
        try:
            return _measure(backend, service, args)
        finally:
            service.close()


def _measure(backend: str, service, args: argparse.Namespace) -> bool:
    label = f"@{args.records // 1000}k ({backend})"
    started = time.perf_counter()
    counts = service.analyze()  # what the pages' totals come from (reused for 5 s)
    analysis_ms = (time.perf_counter() - started) * 1000
    students = counts.students.not_synced
    total = students
    table = service.schema.customers(STUDENT)
    with service.mis_engine.connect() as conn:
        import sqlalchemy as sa

        deep = int(
            conn.execute(
                sa.select(table.row_id).order_by(table.row_id.desc()).limit(1).offset(3 * PAGE)
            ).scalar_one()
        )

    def preview(**where) -> Callable[[], object]:
        return lambda: service.preview("students", limit=PAGE, total=total, **where)

    flt = wl.WorklistFilter()  # every record, by row id: applicants then students
    matching = counts.overall.total

    def work(after: wl.Cursor | None) -> Callable[[], object]:
        return lambda: wl.worklist_page(service, flt, after=after, limit=WORK_PAGE)

    deep_cursor = wl.Cursor("student", Position(deep, deep), matching)
    end_cursor = wl.Cursor("student", Position(deep + 2 * PAGE, deep + 2 * PAGE), matching)
    cases: dict[str, Callable[[], object]] = {
        "preview first": preview(),
        "preview last": preview(last=True),
        "preview deep (after)": preview(after=deep),
        "preview deep (offset, seed)": preview(offset=students - 3 * PAGE),
        "worklist first": work(None),
        "worklist deep (after)": work(deep_cursor),
        "worklist last": work(end_cursor),
    }
    for fn in cases.values():  # warm: connections, compiled statements
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        service.analyze()  # as the dashboard's Overview does: the pages reuse its counts
        for name, fn in cases.items():
            times[name].append(timed_ms(fn))
    print(f"analysis (counts for the totals, once) {label}: {analysis_ms:.0f} ms")
    for name, values in times.items():
        print(
            f"{name:<28} {label}: median {statistics.median(values):6.1f} ms "
            f"(min {min(values):.1f}, max {max(values):.1f}) over {len(values)}"
        )
    med = {name: statistics.median(values) for name, values in times.items()}
    ok = True
    for what, first, last, deep_name in (
        ("preview", "preview first", "preview last", "preview deep (after)"),
        ("worklist", "worklist first", "worklist last", "worklist deep (after)"),
    ):
        worst = max(med[first], med[last], med[deep_name])
        ratio = med[last] / med[first]
        ok &= verdict.report(
            f"{what} last page {label}",
            f"{med[last]:.0f} ms (first {med[first]:.0f} ms, {ratio:.2f}x; "
            f"deep {med[deep_name]:.0f} ms)",
            f"<= {TARGET_MS:.0f} ms, <= {RATIO}x",
            worst <= TARGET_MS and ratio <= RATIO,
        )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("mariadb", "sqlite", "both"), default="mariadb")
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="rebuild the benchmark MIS")
    args = parser.parse_args()
    print(verdict.machine(), flush=True)
    backends = ("mariadb", "sqlite") if args.backend == "both" else (args.backend,)
    for backend in backends:
        measure(backend, args)


if __name__ == "__main__":
    main()
