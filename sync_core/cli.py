"""``python -m sync_core``: the command line over the same library the dashboard uses."""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sync_core.analysis import SyncAnalysis, analyze
from sync_core.preview import DEFAULT_LIMIT, Preview, preview
from sync_core.record_kinds import APPLICANT, STUDENT
from sync_core.settings import SettingsError

EXIT_OK = 0
EXIT_RECORDS_FAILED = 1
EXIT_CONFIGURATION = 2
EXIT_SYNC_RUNNING = 3


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=json_default))


# ---------------------------------------------------------------- analyze


def format_analysis(result: SyncAnalysis) -> str:
    def block(title: str, noun: str, counts) -> list[str]:
        return [
            f"{title}:",
            f"   Total {noun}: {counts.total:,}",
            f"   ✅ Already Synced: {counts.synced:,}",
            f"   ⏳ Not Synced: {counts.not_synced:,}",
            f"   ❌ Failed: {counts.failed:,}",
            f"   🔄 In Progress: {counts.in_progress:,}",
            f"   📈 Progress: {counts.progress_pct:.1f}%",
            "",
        ]

    overall = result.overall
    lines = ["📊 Customer Synchronization Statistics:", ""]
    lines += block("👥 APPLICANTS", "Applicants", result.applicants)
    lines += block("🎓 STUDENTS", "Students", result.students)
    lines += [
        "🌟 OVERALL:",
        f"   Total Customers: {overall.total:,}",
        f"   ✅ Total Synced: {overall.synced:,}",
        f"   ⏳ Total Not Synced: {overall.not_synced:,}",
        f"   ❌ Total Failed: {overall.failed:,}",
        f"   📈 Overall Progress: {overall.progress_pct:.1f}%",
    ]
    return "\n".join(lines)


def cmd_analyze(args: argparse.Namespace, context) -> int:
    with context.engine.connect() as conn:
        result = analyze(conn)
    if args.json:
        print_json({"success": True, "data": result.as_dict()})
    else:
        print(format_analysis(result))
    return EXIT_OK


# ---------------------------------------------------------------- preview


def preview_as_dict(result: Preview) -> dict[str, Any]:
    return {
        "kind": result.kind.plural,
        "total_not_synced": result.total,
        "limit": result.limit,
        "offset": result.offset,
        "records": [
            {
                "row_id": item.source.row_id,
                "identity": item.mapped.identity,
                "source": item.source.row,
                "payload": item.mapped.payload,
                "fields": item.mapped.fields,
                "placement": item.mapped.placement,
                "warnings": list(item.mapped.warnings),
                "error": item.mapped.error,
            }
            for item in result.items
        ],
    }


def format_preview(result: Preview) -> str:
    first = result.offset + 1 if result.items else result.offset
    last = result.offset + len(result.items)
    lines = [
        f"👀 {result.kind.title} not yet synced: {result.total:,} (showing {first:,}-{last:,})",
        "",
    ]
    if not result.items:
        lines.append("Nothing to sync.")
    for n, item in enumerate(result.items, start=first):
        mapped = item.mapped
        payload = mapped.payload
        lines.append(f"{n}. {mapped.display_name}  [{mapped.reference}]")
        for key in ("GivenName", "MiddleName", "FamilyName"):
            if key in payload:
                lines.append(f"     {key}: {payload[key]}")
        if "PrimaryPhone" in payload:
            lines.append(f"     PrimaryPhone: {payload['PrimaryPhone']['FreeFormNumber']}")
        if "PrimaryEmailAddr" in payload:
            lines.append(f"     PrimaryEmailAddr: {payload['PrimaryEmailAddr']['Address']}")
        for name, value in mapped.fields.items():
            lines.append(f"     {name}: {value or '—'}   → {mapped.placement[name]}")
        if mapped.error:
            lines.append(f"     ⛔ cannot be sent: {mapped.error}")
        for warning in mapped.warnings:
            lines.append(f"     ⚠️  {warning}")
        lines.append("")
    return "\n".join(lines)


def _cmd_preview(kind) -> Callable[[argparse.Namespace, Any], int]:
    def run(args: argparse.Namespace, context) -> int:
        with context.engine.connect() as conn:
            result = preview(
                conn,
                kind,
                limit=args.limit,
                offset=args.offset,
                options=context.mapping_options,
            )
        if args.json:
            print_json(preview_as_dict(result))
        else:
            print(format_preview(result))
        return EXIT_OK

    return run


# ---------------------------------------------------------------- demo-db


def cmd_demo_db(args: argparse.Namespace, _context) -> int:
    from sync_core.database import create_db_engine
    from sync_core.demo_data import create_demo_database
    from sync_core.migrations import ensure_schema

    engine = create_db_engine(args.url)
    try:
        summary = create_demo_database(
            engine,
            applicants=args.applicants,
            students=args.students,
            seed=args.seed,
            replace=args.replace,
        )
        ensure_schema(engine)
    finally:
        engine.dispose()
    if args.json:
        print_json(summary.__dict__)
    else:
        print(f"Demo MIS created at {engine.url.render_as_string(hide_password=True)}:")
        for name, value in summary.__dict__.items():
            print(f"   {name}: {value}")
    return EXIT_OK


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync_core",
        description="Push MIS applicants and students into QuickBooks Online as Customers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser("analyze", help="counts of synced / not synced / failed records")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_analyze)

    for name, kind in (("preview-applicants", APPLICANT), ("preview-students", STUDENT)):
        p = sub.add_parser(name, help=f"the payloads the next sync would send for {kind.plural}")
        p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="at most 100")
        p.add_argument("--offset", type=int, default=0)
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=_cmd_preview(kind))

    p = sub.add_parser("demo-db", help="create and fill a demo MIS database (SQLite or MariaDB)")
    p.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. sqlite:///demo.sqlite")
    p.add_argument("--applicants", type=int, default=850)
    p.add_argument("--students", type=int, default=1200)
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--replace", action="store_true", help="drop existing MIS tables first")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_demo_db, needs_context=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    context = None
    try:
        if getattr(args, "needs_context", True):
            from sync_core.context import open_context

            context = open_context()
        return args.handler(args, context)
    except SettingsError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    finally:
        if context is not None:
            context.close()
