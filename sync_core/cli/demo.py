"""``demo-db``: create and fill a demo MIS database (SQLite or MariaDB)."""

from __future__ import annotations

import argparse
from typing import Any

from sync_core.cli.output import CommandResult


def cmd_demo_db(args: argparse.Namespace, _service: None) -> CommandResult:
    from sync_core.database import create_db_engine
    from sync_core.demo.data import create_demo_database, reset_demo_database
    from sync_core.domain.errors import InvalidRequest
    from sync_core.mis.setup import ensure_tracking_columns

    if args.reset and args.url is None:
        return _reset_embedded()
    if args.url is None:
        raise InvalidRequest(
            "demo-db needs --url (a database to fill), or --reset for the embedded demo"
        )
    if args.reset:
        engine = create_db_engine(args.url)
        try:
            summary = reset_demo_database(engine)
            ensure_tracking_columns(engine)
            where = engine.url.render_as_string(hide_password=True)
        finally:
            engine.dispose()
        return _summary(f"Demo MIS reset at {where}", summary)
    engine = create_db_engine(args.url)
    try:
        summary = create_demo_database(
            engine,
            applicants=args.applicants,
            students=args.students,
            seed=args.seed,
            replace=args.replace,
            with_history=args.with_history,
        )
        ensure_tracking_columns(engine)
        where = engine.url.render_as_string(hide_password=True)
    finally:
        engine.dispose()
    return _summary(f"Demo MIS created at {where}", summary)


def _reset_embedded() -> CommandResult:
    from sync_core.demo.embedded import reset_embedded_demo
    from sync_core.settings import load_settings

    settings = load_settings()
    summary = reset_embedded_demo(settings)
    result = _summary(
        f"The embedded demo is as on first start ({settings.demo_database_path})", summary
    )
    result.notes.append(
        "Its run history was cleared and the simulator's company holds only the earlier "
        "integration's customers; the QuickBooks connection was kept."
    )
    return result


def _summary(headline: str, summary: Any) -> CommandResult:
    lines = [f"{headline}:", *(f"   {line}" for line in summary.describe())]
    data = {k: v for k, v in summary.__dict__.items() if k != "customers"}
    data["earlier_system_customers"] = len(summary.customers)
    return CommandResult(data=data, text="\n".join(lines))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-db", help="create and fill a demo MIS database (SQLite or MariaDB)")
    p.add_argument("--url", help="SQLAlchemy URL, e.g. sqlite:///demo.sqlite")
    p.add_argument("--applicants", type=int, default=850)
    p.add_argument("--students", type=int, default=1200)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument(
        "--replace", action="store_true", help="drop the demo's MIS tables first (never others)"
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="put a demo back as it was made (without --url: the embedded demo, its run "
        "history and its simulator company too)",
    )
    p.add_argument(
        "--with-history",
        action="store_true",
        help="rows the earlier integration synced, left at 3 or lost (default: none synced)",
    )
    p.set_defaults(handler=cmd_demo_db, needs_service=False)
