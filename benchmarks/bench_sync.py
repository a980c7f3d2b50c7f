"""Benchmark of the sync engine against the simulator over HTTP: prints figures, asserts nothing.

    python benchmarks/bench_sync.py [--part throughput|memory|both] [--url MYSQL_SERVER_URL]

throughput  5,000 records, QuickBooks' real limits (500 requests and 40 batch requests a
            minute, 10 at a time) and 200 ms latency: records per minute as a ratio of the
            simulator's ceiling (40 batches x 30 = 1,200/min; target >= 0.9), and against a
            one-request-per-record sequential baseline measured in the same run (target >= 4x).
memory      200,000 records with the limits lifted: resident memory sampled while syncing
            (target: flat).

The simulator runs in its own process, as QuickBooks would; the MIS is a throwaway MariaDB
database (dropped afterwards).
"""

from __future__ import annotations

import argparse
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
from sync_core.demo.data import create_demo_database  # noqa: E402
from sync_core.domain.kinds import APPLICANT  # noqa: E402
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

    def state(self) -> dict:
        return requests.get(f"{self.base_url}/_simulator/state?customer_limit=0", timeout=30).json()

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


def throughput(server_url: str, data_dir: Path, records: int, baseline_records: int) -> None:
    print(f"\n== throughput: {records:,} records, QuickBooks' limits, 200 ms latency ==")
    sim = Simulator("--latency-ms", "200")
    db = Database(server_url, records)
    try:
        service = open_service(settings_for(db, sim, data_dir))
        client = service.client()
        limits = client.limiter.limits
        ceiling = limits.batch_requests_per_minute * 30
        # baseline: one create per record, one after the other (names prefixed: no clashes)
        with service.mis_engine.connect() as conn:
            page = fetch_records(conn, service.schema, APPLICANT, limit=baseline_records)
        payloads = [
            {**m.payload, "DisplayName": f"BASELINE {m.reference} {m.display_name}"[:500]}
            for m in page.mapped(service.mapping_options)
        ]
        started = time.perf_counter()
        for payload in payloads:
            client.create_customer(payload)
        baseline_s = time.perf_counter() - started
        baseline_rate = len(payloads) / baseline_s * 60
        print(
            f"  sequential baseline: {len(payloads)} creates in {baseline_s:.1f} s = "
            f"{baseline_rate:,.0f} records/min"
        )

        marks: list[tuple[float, int]] = []
        engine = service.sync_engine(
            on_progress=lambda p: marks.append((time.perf_counter(), p.done))
        )
        started = time.perf_counter()
        result = engine.run(SyncRequest("all", operator="Benchmark", batch_size=100))
        elapsed = time.perf_counter() - started
        rate = result.run.synced / elapsed * 60
        # steady state: after QuickBooks' first window, whose unused allowance is a burst
        window = limits.window_s + limits.window_margin_s
        steady = [(t, d) for t, d in marks if t - started >= window]
        steady_rate = (
            (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) * 60
            if len(steady) > 1 and steady[-1][0] > steady[0][0]
            else float("nan")
        )
        state = sim.state()
        print(
            f"  batched sync: {result.run.synced:,} synced, {result.run.failed} failed in "
            f"{elapsed:.1f} s, 429s: {state['throttled_count']}"
        )
        print(
            f"  records/min overall   {rate:8,.0f}  = {rate / ceiling:.2f} x ceiling "
            f"({ceiling:,}/min)   target >= 0.9"
        )
        print(
            f"  records/min steady    {steady_rate:8,.0f}  = {steady_rate / ceiling:.2f} x ceiling "
            "(after the first window's burst)"
        )
        print(
            f"  vs sequential         {rate / baseline_rate:8.1f} x overall, "
            f"{steady_rate / baseline_rate:.1f} x steady   target >= 4x"
        )
        service.close()
    finally:
        sim.stop()
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
    parser.add_argument("--baseline-records", type=int, default=150)
    parser.add_argument("--memory-records", type=int, default=200_000)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("throughput", "both"):
            throughput(args.url, Path(tmp) / "t", args.records, args.baseline_records)
        if args.part in ("memory", "both"):
            memory(args.url, Path(tmp) / "m", args.memory_records)


if __name__ == "__main__":
    main()
