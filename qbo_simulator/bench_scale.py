"""How the simulator copes with a large company: python -m qbo_simulator.bench_scale [-n 200000].

Loads n customers (half students with nine custom fields, half applicants, every tenth one
inactive) through load_customers, then times queries over real HTTP, each the best of a few
runs. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import requests

from .config import SimulatorConfig
from .simulator import QuickBooksSimulator

FIELDS = (
    "CustomerType",
    "RegNo",
    "Gender",
    "Level",
    "Campus",
    "Intake",
    "Program",
    "NationalID",
    "ProgramType",
)


def legacy_customers(count: int, first_id: int = 1000) -> list[dict[str, Any]]:
    """Customers shaped like the earlier system's (../shared/spec/legacy/customers.json)."""
    customers: list[dict[str, Any]] = []
    for i in range(count):
        first, last = f"Given{i}", f"Family{i}"
        customer: dict[str, Any] = {
            "Id": str(first_id + i),
            "GivenName": first,
            "FamilyName": last,
            "CompanyName": f"{first} {last}",
            "PrimaryPhone": {"FreeFormNumber": f"0788{i:06d}"},
            "SyncToken": str(i % 4),
            "Active": i % 10 != 9,
        }
        if i % 2:
            customer["DisplayName"] = f"{2024 + i % 2}/BBA/{i:06d}"
            customer["CustomField"] = [
                {
                    "DefinitionId": str(1000000001 + k),
                    "Name": name,
                    "Type": "StringType",
                    "StringValue": "Student" if k == 0 else f"{name}-{i}",
                }
                for k, name in enumerate(FIELDS)
            ]
        else:
            customer["DisplayName"] = str(25000 + i)
            customer["PrimaryEmailAddr"] = {"Address": f"applicant{i}@example.com"}
            customer["Notes"] = f"Applicant synchronized from MIS - Tracking ID: {25000 + i}"
        customers.append(customer)
    return customers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qbo_simulator.bench_scale")
    parser.add_argument("-n", "--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.customers

    sim = QuickBooksSimulator(SimulatorConfig(throttling=False))
    customers = legacy_customers(n)
    started, cpu = time.perf_counter(), time.process_time()
    sim.load_customers(customers)
    load_s, load_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    del customers
    sim.start()
    try:
        token = requests.post(
            f"{sim.base_url}/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": sim.issue_refresh_token()},
            auth=(sim.config.client_id, sim.config.client_secret),
            timeout=30,
        ).json()["access_token"]
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        url = f"{sim.base_url}/v3/company/{sim.config.realm_id}/query"
        params = {"minorversion": "75", "include": "enhancedAllCustomFields"}

        def timed(statement: str) -> tuple[float, str]:
            times: list[float] = []
            answer: dict[str, Any] = {}
            for _ in range(args.runs):
                t0 = time.perf_counter()
                reply = session.get(url, params={**params, "query": statement}, timeout=60)
                times.append(time.perf_counter() - t0)
                reply.raise_for_status()
                answer = reply.json()["QueryResponse"]
            rows = answer.get("Customer")
            what = f"{len(rows)} rows" if rows is not None else str(answer)
            return min(times) * 1000, f"{what}; median {statistics.median(times) * 1000:.1f} ms"

        active = sum(1 for i in range(n) if i % 10 != 9)
        last_page = (active - 1) // 1000 * 1000 + 1
        # 1000 Ids / names spread over the whole company (applicants have even offsets)
        ids = ", ".join(f"'{1000 + i}'" for i in range(0, n, max(1, n // 1000)))
        names = ", ".join(f"'{25000 + i}'" for i in range(0, n, max(2, n // 1000 // 2 * 2)))
        statements = [
            "SELECT COUNT(*) FROM Customer",
            "SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)",
            "SELECT * FROM Customer STARTPOSITION 1 MAXRESULTS 1000",
            f"SELECT * FROM Customer STARTPOSITION {active // 2} MAXRESULTS 1000",
            f"SELECT * FROM Customer STARTPOSITION {last_page} MAXRESULTS 1000",
            f"SELECT * FROM Customer WHERE Active IN (true, false) STARTPOSITION {n - 999} "
            "MAXRESULTS 1000",
            f"SELECT * FROM Customer WHERE Id IN ({ids}) MAXRESULTS 1000",
            f"SELECT * FROM Customer WHERE DisplayName IN ({names}) AND Active IN (true, false) "
            "MAXRESULTS 1000",
        ]
        print(f"load_customers({n:,}): {load_s:.2f} s ({load_cpu_s:.2f} s CPU)")
        for statement in statements:
            best, note = timed(statement)
            shown = statement if len(statement) < 90 else statement[:60] + " ... " + statement[-25:]
            print(f"{best:8.1f} ms  {shown}  ({note})")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
