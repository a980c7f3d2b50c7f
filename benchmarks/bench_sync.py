"""Benchmark of the sync engine against the simulator over HTTP: prints figures, asserts nothing.

    python benchmarks/bench_sync.py [--part throughput|memory|both] [--url MYSQL_SERVER_URL]

throughput  5,000 records, QuickBooks' real limits (500 requests a minute batch requests
            included, 40 batch requests a minute of at most 30 operations, 10 at a time) and
            200 ms latency: customers per minute against QuickBooks' true ceiling (40 x 30 by
            batch + the 460 requests batches leave = 1,660/min; target >= 0.9 x = 1,494), 429s,
            and every record exactly once in QuickBooks (no duplicate, none lost). One line,
            with the machine's load while it ran. ``--baseline-records N`` adds a sequential
            one-request-per-record baseline on a simulator of its own. ``--beside`` runs, while
            the sync goes on, ``python -m sync_core reconcile`` again and again in processes of
            its own (reads QuickBooks meters like any request; a one-record retry would wait
            for the run's lock): QuickBooks' limits are shared through the database, so the
            target there is 0 x 429 and every record exactly once.
memory      200,000 records with the limits lifted: resident memory sampled while syncing
            (target: flat).

The simulator runs in its own process, as QuickBooks would; the MIS is a throwaway MariaDB
database (dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync_core.database import create_db_engine  # noqa: E402
from sync_core.demo.data import PLANTED_FAILURES, create_demo_database  # noqa: E402
from sync_core.domain.identity import parse_notes  # noqa: E402
from sync_core.domain.kinds import APPLICANT, KINDS, STUDENT  # noqa: E402
from sync_core.mis.reader import fetch_records  # noqa: E402
from sync_core.service import open_service  # noqa: E402
from sync_core.settings import Secret, Settings  # noqa: E402
from sync_core.store.tokens import generate_key  # noqa: E402
from sync_core.sync.request import SyncRequest  # noqa: E402


class Simulator:
    """``python -m qbo_simulator`` in a child process."""

    def __init__(self, *args: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qbo_simulator", "--port", str(self.port), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"
        for line in self.process.stdout:
            if "realm id:" in line:
                self.realm_id = line.split(":", 1)[1].strip()
            if "Press Ctrl+C" in line:
                break

    def state(self, customers: int = 0) -> dict:
        url = f"{self.base_url}/_simulator/state?customer_limit={customers}"
        return requests.get(url, timeout=60).json()

    def refresh_token(self) -> str:
        return requests.post(f"{self.base_url}/_simulator/refresh-token", timeout=10).json()[
            "refresh_token"
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Database:
    def __init__(self, server_url: str, records: int) -> None:
        self.server = create_db_engine(server_url, poolclass=sa.pool.NullPool)
        self.name = f"qbsync_bench_{uuid.uuid4().hex[:8]}"
        with self.server.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
        self.url = make_url(server_url).set(database=self.name).render_as_string(False)
        engine = create_db_engine(self.url)
        started = time.perf_counter()
        create_demo_database(engine, applicants=records // 2, students=records - records // 2)
        engine.dispose()
        print(f"  MIS {self.name}: {records:,} records in {time.perf_counter() - started:.1f} s")

    def drop(self) -> None:
        with self.server.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{self.name}`")
        self.server.dispose()


def settings_for(db: Database, sim: Simulator, data_dir: Path, **limits) -> Settings:
    return Settings(
        mis_database_url=db.url,
        data_dir=data_dir,
        qbo_environment="simulator",
        qbo_api_base_url=sim.base_url,
        qbo_discovery_url=f"{sim.base_url}/.well-known/openid_configuration",
        qbo_token_key=Secret(generate_key()),
        qbo_realm_id=sim.realm_id,
        qbo_refresh_token=Secret(sim.refresh_token()),
        **limits,
    )


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


class LoadSampler:
    """The machine's 1-minute load average, sampled while a measurement runs (the machine is
    shared: a figure means little without it)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        return f"{statistics.mean(self.samples):.1f} (max {max(self.samples):.1f})"


def true_ceiling_per_minute(
    requests_per_window: int, batches_per_window: int, window_s: float
) -> int:
    """QuickBooks' ceiling for creates: full batches, plus one create per request batches
    leave (batch requests count in the 500 too)."""
    per_window = batches_per_window * 30 + (requests_per_window - batches_per_window)
    return round(per_window * 60 / window_s)


def exactly_once(service, customers: list[dict]) -> tuple[int, int, int]:
    """(duplicates, records not synced, customers no record is linked to): every record must be
    exactly one customer, the customer its row points at."""
    by_id = {str(c["Id"]): c for c in customers}
    seen: dict[tuple[str, str], int] = {}
    for c in customers:
        marks = parse_notes(c.get("Notes"))
        key = (marks.get("CustomerType", ""), marks.get("ApplicationID") or marks.get("RegNo", ""))
        seen[key] = seen.get(key, 0) + 1
    duplicates = sum(n - 1 for n in seen.values())
    missing, linked = 0, set()
    for kind in KINDS.values():
        table = service.schema.customers(kind)
        with service.mis_engine.connect() as conn:
            rows = conn.execute(sa.select(table.identity, table.status, table.quickbooks_id)).all()
        for identity, status, qk_id in rows:
            customer = by_id.get(str(qk_id)) if status == 1 else None
            marks = parse_notes(customer.get("Notes")) if customer else {}
            if customer is None or marks.get(kind.identity_field) != str(identity).strip():
                missing += 1
            else:
                linked.add(str(qk_id))
    return duplicates, missing, len(set(by_id) - linked)


def repair_planted_failures(service) -> None:
    """Correct the demo's planted failures (as the tests do): blank RegNos get a value, the
    name QuickBooks refuses a real one; every record can sync."""
    with service.mis_engine.begin() as conn:
        for failure in PLANTED_FAILURES:
            kind = STUDENT if failure.kind == STUDENT.name else APPLICANT
            table = service.schema.customers(kind)
            values = (
                {table.table.c.reg_no: f"2099/FIX/{failure.row_id:04d}"}
                if failure.column == "reg_no"
                else {table.table.c.first_name: "Clarisse", table.table.c.family_name: "Uwase"}
            )
            conn.execute(table.table.update().where(table.row_id == failure.row_id).values(values))


def throttled_by_operation(service, run_id: int) -> str:
    """Which requests QuickBooks answered 429 (from the product's audit of the run)."""
    audit = service.audit.recent(100_000, run_id=run_id)
    counts: dict[str, int] = {}
    for entry in audit:
        if entry["http_status"] == 429:
            counts[entry["operation"]] = counts.get(entry["operation"], 0) + 1
    return ", ".join(f"{op} x{n}" for op, n in sorted(counts.items())) or "none"


def baseline(server_url: str, data_dir: Path, db: Database, records: int) -> None:
    """One create per record, one after the other, on a simulator (and windows) of its own."""
    sim = Simulator("--latency-ms", "200")
    try:
        service = open_service(settings_for(db, sim, data_dir))
        client = service.client()
        with service.mis_engine.connect() as conn:
            page = fetch_records(conn, service.schema, APPLICANT, limit=records)
        payloads = [m.payload for m in page.mapped(service.mapping_options)]
        started = time.perf_counter()
        for payload in payloads:
            client.create_customer(payload)
        elapsed = time.perf_counter() - started
        print(
            f"  sequential baseline: {len(payloads)} creates in {elapsed:.1f} s = "
            f"{len(payloads) / elapsed * 60:,.0f} records/min"
        )
        service.close()
    finally:
        sim.stop()


class ReadsBeside:
    """``python -m sync_core reconcile`` in a loop, each in a process of its own, until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "QBO_", "SYNC_"))},
            "MIS_DATABASE_URL": settings.database_url,
            "QBO_ENVIRONMENT": "simulator",
            "QBO_API_BASE_URL": str(settings.qbo_api_base_url),
            "QBO_DISCOVERY_URL": str(settings.qbo_discovery_url),
            "QBO_TOKEN_KEY": settings.qbo_token_key.reveal(),
            "SYNC_DATA_DIR": str(settings.data_dir),
            "PYTHONPATH": str(ROOT),
        }
        self.runs = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            done = subprocess.run(
                [sys.executable, "-m", "sync_core", "reconcile", "--json"],
                env=self.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            self.runs += 1
            self.failures += done.returncode not in (0, 1)  # 1: findings (records in flight)

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        return f"{self.runs} reconciliations beside it ({self.failures} failed)"


def throughput(
    server_url: str, data_dir: Path, records: int, baseline_records: int, beside: bool = False
) -> None:
    what = ", CLI reconciliations beside it" if beside else ""
    print(f"\n== throughput: {records:,} records, QuickBooks' limits, 200 ms latency{what} ==")
    db = Database(server_url, records)
    try:
        if baseline_records:
            baseline(server_url, data_dir / "baseline", db, baseline_records)
        sim = Simulator("--latency-ms", "200")
        try:
            settings = settings_for(db, sim, data_dir / "run")
            service = open_service(settings)
            repair_planted_failures(service)
            service.connection_status()  # the tokens stored before another process reads them
            limits = service.client().limiter.limits
            ceiling = true_ceiling_per_minute(
                limits.requests_per_minute, limits.batch_requests_per_minute, limits.window_s
            )
            target = 0.9 * ceiling
            marks: list[tuple[float, int]] = []
            engine = service.sync_engine(
                on_progress=lambda p: marks.append((time.perf_counter(), p.done))
            )
            load = LoadSampler()
            reads = ReadsBeside(settings) if beside else None
            started = time.perf_counter()
            result = engine.run(SyncRequest("all", operator="Benchmark", batch_size=100))
            elapsed = time.perf_counter() - started
            beside_text = f"  {reads.stop()}" if reads is not None else ""
            load_text = load.stop()
            rate = result.run.synced / elapsed * 60
            state = sim.state(customers=10 * records)
            duplicates, missing, strays = exactly_once(service, state["customers"])
            clean = state["throttled_count"] == 0 and duplicates == missing == strays == 0
            if beside:  # the reads take their share of the limits: the target is no 429
                verdict = "PASS" if clean else "FAIL"
                print(
                    f"  creates {records:,} @200ms beside CLI reads: 429s="
                    f"{state['throttled_count']} target 0  {verdict}  {rate:,.0f}/min  "
                    f"duplicates={duplicates} lost={missing} strays={strays} "
                    f"failed={result.run.failed}  time={elapsed:.0f}s{beside_text}  "
                    f"load={load_text}"
                )
            else:
                verdict = "PASS" if rate >= target and clean else "FAIL"
                print(
                    f"  creates {records:,} @200ms: {rate:,.0f}/min ({rate / ceiling:.2f} of "
                    f"{ceiling:,}) target >= {target:,.0f}  {verdict}  "
                    f"429s={state['throttled_count']} duplicates={duplicates} lost={missing} "
                    f"strays={strays} failed={result.run.failed}  time={elapsed:.0f}s  "
                    f"load={load_text}"
                )
            window = limits.window_s + limits.window_margin_s
            steady = [(t, d) for t, d in marks if t - started >= window]
            if len(steady) > 1 and steady[-1][0] > steady[0][0]:
                steady_rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) * 60
                print(
                    f"  (for information: {steady_rate:,.0f}/min after the first window's "
                    f"burst, {state['request_count']:,} requests in all, 429s: "
                    f"{throttled_by_operation(service, result.run.id)})"
                )
            service.close()
        finally:
            sim.stop()
    finally:
        db.drop()


def memory(server_url: str, data_dir: Path, records: int) -> None:
    print(f"\n== memory: {records:,} records, limits lifted ==")
    sim = Simulator("--no-throttle")
    db = Database(server_url, records)
    samples: list[tuple[int, float]] = []
    try:
        service = open_service(
            settings_for(
                db,
                sim,
                data_dir,
                qbo_requests_per_minute=10**7,
                qbo_batch_requests_per_minute=10**7,
            )
        )
        progress = {"done": 0}
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                samples.append((progress["done"], rss_mib()))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        engine = service.sync_engine(on_progress=lambda p: progress.update(done=p.done))
        started = time.perf_counter()
        result = engine.run(SyncRequest("all", operator="Benchmark", batch_size=100))
        elapsed = time.perf_counter() - started
        stop.set()
        sampler.join()
        print(
            f"  {result.run.synced:,} synced in {elapsed:.0f} s "
            f"({result.run.synced / elapsed:,.0f} records/s)"
        )
        for share in (0.1, 0.25, 0.5, 0.75, 1.0):
            at = next((m for d, m in samples if d >= share * records), samples[-1][1])
            print(f"  RSS at {share:4.0%} done: {at:6.1f} MiB")
        later = [m for d, m in samples if d >= 0.1 * records]
        print(
            f"  growth from 10% to the end: {max(later) - later[0]:+.1f} MiB "
            f"(median {statistics.median(later):.1f} MiB, max {max(later):.1f} MiB)"
        )
        service.close()
    finally:
        sim.stop()
        db.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("throughput", "memory", "both"), default="both")
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument(
        "--baseline-records", type=int, default=0, help="sequential baseline (0: none)"
    )
    parser.add_argument("--memory-records", type=int, default=200_000)
    parser.add_argument(
        "--beside", action="store_true", help="also a run with CLI reconciliations beside it"
    )
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("throughput", "both"):
            throughput(args.url, Path(tmp) / "t", args.records, args.baseline_records)
            if args.beside:
                throughput(args.url, Path(tmp) / "b", args.records, 0, beside=True)
        if args.part in ("memory", "both"):
            memory(args.url, Path(tmp) / "m", args.memory_records)


if __name__ == "__main__":
    main()
