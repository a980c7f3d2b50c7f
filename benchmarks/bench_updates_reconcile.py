"""Benchmark of updates and reconciliation against the simulator over HTTP: prints figures,
asserts nothing. Each line: what, the figure, the target and a verdict; the machine's load with
them (on a loaded machine every figure is lower).

    python benchmarks/bench_updates_reconcile.py [--part updates|reconcile|both]
        [--url MYSQL_SERVER_URL] [--records 5000] [--customers 200000]

updates    ``--records`` synced records, every one changed in the MIS, sent as sparse updates
           under QuickBooks' real limits (500 requests a minute batch requests included, 40
           batch requests a minute, 10 at a time) with 200 ms latency: updates per minute
           against QuickBooks' true ceiling (40 x 30 by batch + the 460 requests batches leave
           = 1,660/min; target >= 0.9 x = 1,494), 429s, and every customer updated exactly once
           (its SyncToken one up, the new value in it). One line, with the machine's load while
           it ran. The records are created beforehand on the same simulator with its limits
           lifted, then the simulator is restarted on the same store with the real ones.
reconcile  a company of exactly ``--customers`` customers (the MIS's records, plus twins,
           orphans and customers typed by hand) and a MIS of as many records, a few drifted,
           missing and inactive: read calls (target <= 1 per 1,000 customers: 200), seconds and
           peak memory of the reconciliation, which runs in a process of its own so its peak is
           its own.

The simulator runs in its own process, as QuickBooks would; the MIS is a throwaway MariaDB
database (dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync_core.database import create_db_engine  # noqa: E402
from sync_core.domain.access import Actor, Role  # noqa: E402
from sync_core.domain.kinds import APPLICANT, STUDENT  # noqa: E402
from sync_core.domain.names import with_distinct_name  # noqa: E402
from sync_core.domain.statuses import Scope  # noqa: E402
from sync_core.mis.reader import fetch_records  # noqa: E402
from sync_core.service import open_service  # noqa: E402
from sync_core.settings import Secret, Settings  # noqa: E402
from sync_core.store.tokens import generate_key  # noqa: E402
from sync_core.sync.request import SyncRequest  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_sync  # noqa: E402
from bench_sync import (  # noqa: E402
    Database,
    LoadSampler,
    repair_planted_failures,
    true_ceiling_per_minute,
)

BENCH = Actor("Benchmark", Role.ADMIN)
LIFTED = {
    "qbo_requests_per_minute": 10**7,
    "qbo_batch_requests_per_minute": 10**7,
    "qbo_max_concurrent": 10,
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def line(what: str, figure: str, target: str, ok: bool | None) -> None:
    verdict = "n/a" if ok is None else ("MEETS" if ok else "MISSES")
    print(f"  {what:<44} {figure:>22}   target {target:<16} {verdict}   [{load()}]")


class Simulator(bench_sync.Simulator):
    """bench_sync's simulator process, which can also be handed customers to start from."""

    def state(self, customers: int = 0) -> dict:
        url = f"{self.base_url}/_simulator/state?customer_limit={customers}"
        return requests.get(url, timeout=120).json()  # 200,000 customers take a while

    def load(self, customers: list[dict]) -> None:
        answer = requests.post(
            f"{self.base_url}/_simulator/customers/load", json=customers, timeout=600
        )
        answer.raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def settings_for(
    db: Database, sim: Simulator, data_dir: Path, key: str, **limits: object
) -> Settings:
    return Settings(
        mis_database_url=db.url,
        data_dir=data_dir,
        qbo_environment="simulator",
        qbo_api_base_url=sim.base_url,
        qbo_discovery_url=f"{sim.base_url}/.well-known/openid_configuration",
        qbo_token_key=Secret(key),
        qbo_realm_id=sim.realm_id,
        qbo_refresh_token=Secret(sim.refresh_token()),
        **limits,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- updates


def updates(server_url: str, data_dir: Path, records: int) -> None:

    print(f"\n== updates: {records:,} changed records, QuickBooks' limits, 200 ms latency ==")
    store = data_dir / "qbo.sqlite"
    realm = str(9_900_000_000_000_000 + uuid.uuid4().int % 10**15)
    key = generate_key()
    db = Database(server_url, records)
    sim = Simulator("--no-throttle", "--store", str(store), "--realm-id", realm)
    try:
        service = open_service(settings_for(db, sim, data_dir, key, **LIFTED))
        repair_planted_failures(service)  # every record can be created, then updated
        started = time.perf_counter()
        created = service.run_sync(
            SyncRequest(Scope.ALL, operator="Benchmark", batch_size=100), BENCH
        )
        assert created is not None
        print(
            f"  created {created.run.synced:,} customers (limits lifted) in "
            f"{time.perf_counter() - started:.0f} s"
        )
        # the creates' batch requests are in the company's window (shared by every process of
        # the product): wait until it is empty, so that the updates start as a fresh company's
        # run would (the method of bench_sync.py)
        window = service.client().limiter.limits.counted_window_s
        service.close()
        sim.stop()
        print(f"  waiting {window:.0f} s for QuickBooks' window to empty")
        time.sleep(window)
        # every record changes in the MIS: a new e-mail address
        engine = create_db_engine(db.url)
        with engine.begin() as conn:
            for table, key_column in (
                ("tbl_online_application", "appl_Id"),
                ("tbl_personal_ug", "per_id_ug"),
            ):
                conn.exec_driver_sql(
                    f"UPDATE {table} SET email1 = CONCAT('changed.', {key_column}, "
                    "'@example.org') WHERE QuickBk_Status = 1"
                )
        engine.dispose()
        sim = Simulator("--latency-ms", "200", "--store", str(store), "--realm-id", realm)
        before = {str(c["Id"]): int(c["SyncToken"]) for c in sim.state(10 * records)["customers"]}
        service = open_service(settings_for(db, sim, data_dir, key))
        limits = service.client().limiter.limits
        ceiling = true_ceiling_per_minute(
            limits.requests_per_minute, limits.batch_requests_per_minute, limits.window_s
        )
        target = 0.9 * ceiling
        sampler = LoadSampler()
        started = time.perf_counter()
        result = service.run_sync(
            SyncRequest(Scope.UPDATES, operator="Benchmark", batch_size=100), BENCH
        )
        elapsed = time.perf_counter() - started
        load_text = sampler.stop()
        assert result is not None
        run = result.run
        rate = run.updated / elapsed * 60
        state = sim.state(10 * records)
        after = {str(c["Id"]): c for c in state["customers"]}
        twice = sum(1 for i, c in after.items() if int(c["SyncToken"]) > before.get(i, 0) + 1)
        missed = sum(
            1
            for i, c in after.items()
            if not str((c.get("PrimaryEmailAddr") or {}).get("Address", "")).startswith("changed.")
        )
        created = len(after) - len(before)
        ok = (
            rate >= target
            and state["throttled_count"] == 0
            and twice == missed == created == run.failed == 0
        )
        print(
            f"  updates {run.updated:,} @200ms: {rate:,.0f}/min ({rate / ceiling:.2f} of "
            f"{ceiling:,}) target >= {target:,.0f}  {'PASS' if ok else 'FAIL'}  "
            f"429s={state['throttled_count']} updated_twice={twice} not_updated={missed} "
            f"created={created} failed={run.failed}  time={elapsed:.0f}s  load={load_text}"
        )
        # nothing changed since: a second run compares and sends nothing
        started = time.perf_counter()
        again = service.run_sync(SyncRequest(Scope.UPDATES, operator="Benchmark"), BENCH)
        assert again is not None
        line(
            "second run: compared, nothing to send",
            f"{again.run.unchanged:,} in {time.perf_counter() - started:.1f} s",
            "0 sent",
            again.run.updated == 0,
        )
        service.close()
    finally:
        sim.stop()
        db.drop()


# ---------------------------------------------------------------- reconcile


def prepare_company(service, sim: Simulator, total: int) -> dict[str, int]:
    """Customers for the MIS's records (as the product would have created them, linked in the
    MIS), then twins, orphans and customers typed by hand up to exactly ``total``."""
    made = 0
    next_id = 1
    counts = {"linked": 0, "twins": 0, "orphans": 0, "by hand": 0}
    kept_back: list[dict] = []  # customers of records left unlinked: orphans
    for kind in (APPLICANT, STUDENT):
        table = service.schema.customers(kind)
        cursor = 0
        while True:
            with service.mis_engine.connect() as conn:
                ids = [
                    int(r[0])
                    for r in conn.execute(
                        sa.select(table.row_id)
                        .where(table.row_id > cursor)
                        .order_by(table.row_id)
                        .limit(10_000)
                    )
                ]
            if not ids:
                break
            cursor = ids[-1]
            with service.mis_engine.connect() as conn:
                page = fetch_records(conn, service.schema, kind, row_ids=ids, enrolment=False)
            customers, links = [], []
            for mapped in page.mapped(service.mapping_options):
                if not mapped.sendable:
                    continue
                customer = {**with_distinct_name(mapped).payload, "Id": str(next_id)}
                next_id += 1
                if mapped.row_id % 997 == 0:  # left unlinked: its customer is an orphan
                    kept_back.append(customer)
                    continue
                customers.append(customer)
                links.append({"b_row": mapped.row_id, "b_id": customer["Id"]})
            sim.load(customers)
            with service.mis_engine.begin() as conn:
                conn.execute(
                    table.table.update()
                    .where(table.row_id == sa.bindparam("b_row"))
                    .values({table.status: 1, table.quickbooks_id: sa.bindparam("b_id")}),
                    links,
                )
            made += len(customers)
            counts["linked"] += len(customers)
    sim.load(kept_back)
    made += len(kept_back)
    counts["orphans"] = len(kept_back)
    extra: list[dict] = []
    twins = min(500, max(0, total - made))
    with service.mis_engine.connect() as conn:  # twins of linked records: their Notes copied
        page = fetch_records(conn, service.schema, APPLICANT, limit=twins, enrolment=False)
    sample = [m for m in page.mapped(service.mapping_options) if m.sendable]
    for n, mapped in enumerate(sample[:twins]):
        extra.append(
            {
                "Id": str(next_id + n),
                "DisplayName": f"Twin {n} of {mapped.reference}",
                "Notes": mapped.payload["Notes"],
                "Balance": 100.0,
            }
        )
    counts["twins"] = len(extra)
    next_id += len(extra)
    by_hand = total - made - len(extra)
    for n in range(max(0, by_hand)):
        extra.append({"Id": str(next_id + n), "DisplayName": f"Walk-in customer {n}"})
    counts["by hand"] = max(0, by_hand)
    for start in range(0, len(extra), 20_000):
        sim.load(extra[start : start + 20_000])
    return counts


def reconcile_part(server_url: str, data_dir: Path, customers: int) -> None:
    print(f"\n== reconcile: a company of {customers:,} customers, QuickBooks' limits ==")
    key = generate_key()
    db = Database(server_url, customers - 1000)  # room for twins and customers typed by hand
    sim = Simulator("--latency-ms", "200")
    try:
        settings = settings_for(db, sim, data_dir, key)
        service = open_service(settings)
        started = time.perf_counter()
        made = prepare_company(service, sim, customers)
        # finance at work: 100 phones changed, 50 customers made inactive; 50 records whose
        # customer QuickBooks no longer has (merged away)
        for row_id in range(1, 201):
            record = service.record(STUDENT, row_id)
            if record is None or not record.source.qk_id:
                continue
            if row_id <= 100:
                change: dict[str, object] = {"PrimaryPhone": "+250722000000"}
            elif row_id <= 150:
                change = {"Active": False}
            else:
                with service.mis_engine.begin() as conn:
                    table = service.schema.students
                    conn.execute(
                        table.table.update()
                        .where(table.row_id == row_id)
                        .values({table.quickbooks_id: str(10_000_000 + row_id)})
                    )
                continue
            requests.post(
                f"{sim.base_url}/_simulator/customers/{record.source.qk_id}/edit",
                json=change,
                timeout=30,
            ).raise_for_status()
        service.close()
        state = sim.state()
        print(
            f"  company: {state['customer_count']:,} customers ({made}) prepared in "
            f"{time.perf_counter() - started:.0f} s"
        )
        values = {
            "mis_database_url": settings.mis_database_url,
            "data_dir": str(data_dir),
            "qbo_environment": "simulator",
            "qbo_api_base_url": sim.base_url,
            "qbo_discovery_url": settings.qbo_discovery_url,
            "qbo_token_key": key,
            "qbo_realm_id": sim.realm_id,
            "qbo_refresh_token": sim.refresh_token(),
        }
        before = sim.state()["request_count"]
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(values)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if child.returncode != 0:
            print(child.stdout[-3000:], child.stderr[-3000:])
            raise SystemExit("the reconciliation failed")
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        requests_seen = sim.state()["request_count"] - before
        target_calls = -(-customers // 1000)
        line(
            "read calls (counted by the product)",
            f"{figures['read_calls']:,}",
            f"<= {target_calls:,}",
            figures["read_calls"] <= target_calls,
        )
        line(
            "API requests the simulator saw",
            f"{requests_seen:,}",
            f"<= {target_calls:,}",
            requests_seen <= target_calls,
        )
        line("customers read", f"{figures['customers']:,}", f"{customers:,}", None)
        line("seconds (index the MIS + read + classify)", f"{figures['seconds']:.1f}", "-", None)
        peak_mib = figures["peak_kib"] / 1024
        grown = (figures["peak_kib"] - figures["before_kib"]) / 1024
        line("peak memory of the process", f"{peak_mib:,.0f} MiB", "-", None)
        line("of which the reconciliation", f"{grown:,.0f} MiB", "-", None)
        print(f"  counts: {figures['counts']}")
        print(
            f"  customers typed by hand: {figures['not_ours']:,}; "
            f"baselines remembered: {figures['baselines']:,}"
        )
    finally:
        sim.stop()
        db.drop()


def run_child(values_json: str) -> None:
    """In a process of its own: the reconciliation, and its own peak memory (one JSON line)."""
    from sync_core.service.reconcile import reconcile

    values = json.loads(values_json)
    values.update(
        qbo_token_key=Secret(values["qbo_token_key"]),
        qbo_refresh_token=Secret(values["qbo_refresh_token"]),
        data_dir=Path(values["data_dir"]),
    )
    service = open_service(Settings(**values))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = reconcile(service)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read_calls": report.read_calls,
                "customers": report.customers_read,
                "records": report.records_read,
                "counts": report.counts,
                "not_ours": report.not_ours,
                "baselines": report.baselines_remembered,
                "peak_kib": peak,
                "before_kib": before,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--part", choices=("updates", "reconcile", "both"), default="both")
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    print(f"machine: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("updates", "both"):
            updates(args.url, Path(tmp) / "u", args.records)
        if args.part in ("reconcile", "both"):
            reconcile_part(args.url, Path(tmp) / "r", args.customers)
    print(f"machine: {load()}")


if __name__ == "__main__":
    main()
