"""python -m qbo_simulator --port 8765 [--store PATH] ...: run in the foreground."""

from __future__ import annotations

import argparse
import logging
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
    parser.add_argument("--verbose", action="store_true", help="log every request (no secrets)")
    return parser


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
    faults = Faults(latency_ms=args.latency_ms)
    sim = QuickBooksSimulator(config, store_path=args.store, faults=faults)
    sim.start(args.host, args.port)
    print(f"QuickBooks simulator running at {sim.base_url}", flush=True)
    print(f"  API base:        {sim.base_url}/v3/company/{config.realm_id}/", flush=True)
    print(f"  discovery URL:   {sim.discovery_url}", flush=True)
    print(f"  client id:       {config.client_id}", flush=True)
    print(f"  realm id:        {config.realm_id}", flush=True)
    print(f"  refresh token:   {sim.issue_refresh_token()}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
