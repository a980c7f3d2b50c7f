"""python -m qbo_simulator --port 8765 [--store PATH] ...: run in the foreground."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from .config import Faults, SimulatorConfig
from .simulator import QuickBooksSimulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qbo_simulator", description="Run the QuickBooks Online simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--store", type=Path, help="SQLite file that survives restarts")
    parser.add_argument("--realm-id")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--no-throttle", action="store_true")
    parser.add_argument("--requests-per-minute", type=int)
    parser.add_argument("--batch-requests-per-minute", type=int)
    parser.add_argument("--max-concurrent", type=int)
    parser.add_argument(
        "--customers",
        type=Path,
        metavar="FILE.json",
        help="start with these customers (a JSON list of QBO Customers, or {'customers': [...]});"
        " a --store that already holds customers keeps them",
    )
    parser.add_argument(
        "--custom-field",
        action="append",
        default=[],
        metavar="ID=NAME",
        help="a Customer custom field definition (legacyIDV2=Name); repeatable",
    )
    parser.add_argument(
        "--retry-after", type=float, metavar="SECONDS", help="send Retry-After on every 429"
    )
    parser.add_argument(
        "--xml-throttle-body", action="store_true", help="answer 429 with QBO's XML body"
    )
    parser.add_argument(
        "--refresh-token-lifetime",
        type=float,
        metavar="SECONDS",
        help="refresh token lifetime from its last use (default 8726400)",
    )
    parser.add_argument(
        "--refresh-token-rotation",
        type=float,
        metavar="SECONDS",
        help="answer a new refresh token only once the presented one is this old "
        "(Intuit: about 86400; default 0 = on every refresh)",
    )
    parser.add_argument(
        "--refresh-token-hard-lifetime",
        type=float,
        metavar="SECONDS",
        help="a grant's hard limit from the first authorisation (default five years)",
    )
    parser.add_argument(
        "--no-hard-expiry-field",
        action="store_true",
        help="leave x_refresh_token_hard_expires_in out of token answers",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request (no secrets)")
    return parser


def read_customers(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("customers", data.get("Customer"))
    if not isinstance(data, list):
        raise SystemExit(f"{path}: expected a JSON list of customers")
    return data


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = SimulatorConfig(throttling=not args.no_throttle)
    if args.realm_id:
        config.realm_id = args.realm_id
    if args.requests_per_minute is not None:
        config.requests_per_minute = args.requests_per_minute
    if args.batch_requests_per_minute is not None:
        config.batch_requests_per_minute = args.batch_requests_per_minute
    if args.max_concurrent is not None:
        config.max_concurrent = args.max_concurrent
    for entry in args.custom_field:
        definition, sep, name = entry.partition("=")
        if not sep or not definition.strip() or not name.strip():
            raise SystemExit(f"--custom-field {entry!r} is not ID=NAME")
        config.custom_field_definitions[definition.strip()] = name.strip()
    config.retry_after_s = args.retry_after
    config.xml_throttle_body = args.xml_throttle_body
    if args.refresh_token_lifetime is not None:
        config.refresh_token_lifetime_s = args.refresh_token_lifetime
    if args.refresh_token_rotation is not None:
        config.refresh_token_rotation_s = args.refresh_token_rotation
    if args.refresh_token_hard_lifetime is not None:
        config.refresh_token_hard_lifetime_s = args.refresh_token_hard_lifetime
    config.report_refresh_token_hard_expiry = not args.no_hard_expiry_field
    faults = Faults(latency_ms=args.latency_ms)
    customers = read_customers(args.customers) if args.customers else None
    started = time.perf_counter()
    try:
        sim = QuickBooksSimulator(config, store_path=args.store, faults=faults, customers=customers)
    except ValueError as exc:
        raise SystemExit(f"{args.customers}: {exc}") from None
    took = time.perf_counter() - started
    sim.start(args.host, args.port)
    print(f"QuickBooks simulator running at {sim.base_url}", flush=True)
    print(f"  API base:        {sim.base_url}/v3/company/{config.realm_id}/", flush=True)
    print(f"  discovery URL:   {sim.discovery_url}", flush=True)
    print(f"  client id:       {config.client_id}", flush=True)
    print(f"  realm id:        {config.realm_id}", flush=True)
    print(f"  refresh token:   {sim.issue_refresh_token()}", flush=True)
    if customers:
        count = sim.inspect(customer_limit=0).customer_count
        print(f"  customers:       {count} in the company ({took:.1f} s to load)", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
