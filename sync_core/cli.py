"""``python -m sync_core``: the command line over the same library the dashboard uses."""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import OperationalError

from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.mis.migrations import SchemaError
from sync_core.mis.tables import DEFAULT_PUSHED_BY
from sync_core.quickbooks.errors import QuickBooksError
from sync_core.service.analysis import SyncAnalysis
from sync_core.service.preview import DEFAULT_LIMIT, Preview
from sync_core.settings import SettingsError
from sync_core.store.locks import SyncAlreadyRunning

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
    result = context.analyze()
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
        result = context.preview(kind, limit=args.limit, offset=args.offset)
        if args.json:
            print_json(preview_as_dict(result))
        else:
            print(format_preview(result))
        return EXIT_OK

    return run


# ---------------------------------------------------------------- demo-db


def cmd_demo_db(args: argparse.Namespace, _context) -> int:
    from sync_core.database import create_db_engine
    from sync_core.demo.data import create_demo_database
    from sync_core.mis.migrations import ensure_schema

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
        for line in summary.describe():
            print(f"   {line}")
    return EXIT_OK


# ---------------------------------------------------------------- sync


def default_operator() -> str:
    return os.environ.get("SYNC_OPERATOR") or DEFAULT_PUSHED_BY


class ProgressPrinter:
    """A progress bar on a terminal; a plain line every few seconds otherwise (cron, logs)."""

    def __init__(self, enabled: bool, plain_every_s: float = 5.0) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.plain_every_s = plain_every_s
        self._bar = None
        self._last_plain = 0.0

    def __call__(self, progress) -> None:
        if not self.enabled:
            return
        if self.tty:
            from tqdm import tqdm

            if self._bar is None:
                self._bar = tqdm(total=progress.planned, unit="rec", desc="sync", file=sys.stderr)
            self._bar.total = max(progress.planned, progress.done)
            self._bar.n = progress.done
            self._bar.set_postfix(synced=progress.synced, failed=progress.failed, refresh=False)
            self._bar.refresh()
            if progress.finished:
                self._bar.close()
            return
        now = time.monotonic()
        if progress.finished or now - self._last_plain >= self.plain_every_s:
            self._last_plain = now
            eta = f"{progress.eta_s:.0f}s" if progress.eta_s is not None else "-"
            print(
                f"run {progress.run_id}: {progress.done:,}/{progress.planned:,} done, "
                f"{progress.synced:,} synced, {progress.failed:,} failed, "
                f"{progress.records_per_s:.1f} rec/s, ETA {eta}",
                file=sys.stderr,
                flush=True,
            )


def run_summary_lines(run) -> list[str]:
    lines = [
        f"Run {run.id} ({run.scope}, batch size {run.batch_size}, by {run.operator}): {run.state}",
        f"   ✅ Synced: {run.synced:,}   ❌ Failed: {run.failed:,}   of {run.planned:,} planned",
        f"   🔗 Adopted existing customers: {run.adopted:,}   ✏️  Renamed (name clash): "
        f"{run.renamed:,}   🩺 Recovered from an earlier run: {run.reconciled:,}",
    ]
    if run.records_per_s:
        lines.append(f"   ⏱  {run.records_per_s:.1f} records/s")
    if run.message:
        lines.append(f"   {run.message}")
    return lines


def exit_code_for(run) -> int:
    from sync_core.store import runs

    if run.state == runs.FAILED:
        return EXIT_CONFIGURATION
    if run.failed or run.state != runs.COMPLETED:
        return EXIT_RECORDS_FAILED
    return EXIT_OK


def _cmd_sync(scope: str) -> Callable[[argparse.Namespace, Any], int]:
    def run(args: argparse.Namespace, context) -> int:
        from sync_core.sync.engine import SyncRequest

        request = SyncRequest(
            scope=scope,
            operator=args.operator,
            batch_size=args.batch_size,
            retry_failed=args.retry_failed,
        )
        printer = ProgressPrinter(enabled=not args.json)
        result = context.sync_engine(on_progress=printer).run(request)
        errors = context.history.errors(result.run.id, outcome="failed")
        if args.json:
            print_json({"run": result.run.as_dict(), "errors": errors})
        else:
            print("\n".join(run_summary_lines(result.run)))
            for error in errors[:20]:
                print(
                    f"   ❌ {error['kind']} {error['identity']} {error['display_name']!r}: "
                    f"{error['message']}"
                )
            if len(errors) > 20:
                print(f"   ... and {len(errors) - 20:,} more: see the Runs page")
        return exit_code_for(result.run)

    return run


def cmd_retry(args: argparse.Namespace, context) -> int:
    from sync_core.service.records import find_record, push_record

    kind, identity = ("applicant", args.applicant) if args.applicant else ("student", args.student)
    detail = find_record(context, kind, identity)
    if detail is None:
        print(f"No {kind} {identity!r} in the MIS.", file=sys.stderr)
        return EXIT_RECORDS_FAILED
    outcome = push_record(context, kind, detail.source.row_id, args.operator)
    after = outcome.detail or detail
    if args.json:
        print_json(
            {
                "status": outcome.status,
                "message": outcome.message,
                "qk_id": outcome.qk_id,
                "run_id": outcome.run_id,
                "status_before": detail.status_label,
                "last_error_before": detail.last_error,
                "payload": detail.mapped.payload,
                "warnings": list(detail.mapped.warnings),
                "audit": after.audit,
            }
        )
    else:
        print(f"{detail.mapped.reference}: {detail.mapped.display_name}")
        print(f"   status before: {detail.status_label}")
        if detail.last_error:
            print(f"   last error: {detail.last_error}")
        for warning in detail.mapped.warnings:
            print(f"   ⚠️  {warning}")
        print("   payload:")
        payload = json.dumps(detail.mapped.payload, indent=2, ensure_ascii=False)
        print("\n".join(f"      {line}" for line in payload.splitlines()))
        print(f"   → {outcome.status}: {outcome.message}")
        if after.audit:
            print("   audit trail (newest first):")
        for call in after.audit[:5]:
            code = f"{call['error_code']}: " if call["error_code"] else ""
            problem = f"  {code}{call['error_message']}" if call["error_message"] else ""
            print(
                f"      {call['at']:%Y-%m-%d %H:%M:%S}  {call['operation']:<16} "
                f"HTTP {call['http_status'] or '-'}  {call['duration_ms'] or 0} ms{problem}"
            )
    return EXIT_OK if outcome.status in ("synced", "already synced") else EXIT_RECORDS_FAILED


def cmd_status(args: argparse.Namespace, context) -> int:
    connection = context.connection.status()
    analysis = context.analyze()
    active = context.history.active()
    recent = context.history.recent(limit=5)
    if args.json:
        print_json(
            {
                "configuration": context.settings.describe(),
                "connection": connection.as_dict(),
                "bootstrap_error": context.bootstrap_error,
                "counts": analysis.as_dict(),
                "running": active.as_dict() if active else None,
                "last_runs": [r.as_dict() for r in recent],
            }
        )
        return EXIT_OK
    print("🔌 QuickBooks connection:")
    if connection.connected:
        print(f"   connected to realm {connection.realm_id} ({connection.environment})")
        print(f"   access token expires {connection.access_expires_at:%Y-%m-%d %H:%M} UTC")
        if connection.refresh_expires_at:
            print(f"   refresh token expires {connection.refresh_expires_at:%Y-%m-%d} UTC")
    else:
        print(f"   not connected ({connection.environment}): run `python -m sync_core connect`")
    for problem in (connection.last_error, context.bootstrap_error):
        if problem:
            print(f"   ⚠️  {problem}")
    print()
    print(format_analysis(analysis))
    print()
    if active:
        print("🔄 Running now:")
        print("\n".join(run_summary_lines(active)))
    print("🗂  Last runs:")
    if not recent:
        print("   none yet")
    for run in recent:
        print(
            f"   #{run.id} {run.started_at:%Y-%m-%d %H:%M} {run.scope:<10} {run.state:<21} "
            f"{run.synced:>6,} synced {run.failed:>5,} failed  by {run.operator}"
        )
    return EXIT_OK


def cmd_connect(args: argparse.Namespace, context) -> int:
    connection = context.connection
    print("Open this address in a browser, sign in to QuickBooks and choose the company:")
    print()
    print(f"   {connection.authorization_url()}")
    print()
    print("Intuit then sends the browser to the redirect URI; paste that whole address here.")
    redirect = args.redirect_url or input("Redirect URL: ")
    status = connection.complete_from_redirect(redirect)
    print(f"Connected to realm {status.realm_id} ({status.environment}).")
    return EXIT_OK


def cmd_disconnect(args: argparse.Namespace, context) -> int:
    warning = context.connection.disconnect()
    print(
        "Disconnected: tokens revoked and removed." if not warning else f"Disconnected. {warning}"
    )
    return EXIT_OK


def cmd_token_key(args: argparse.Namespace, _context) -> int:
    from sync_core.store.tokens import generate_key

    print(generate_key())
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

    for scope in ("applicants", "students", "all"):
        p = sub.add_parser(scope, help=f"sync {scope} to QuickBooks customers")
        p.add_argument(
            "--batch-size",
            type=int,
            default=50,
            help="records per step: 10-20 to test, 50 regularly, 100 for bulk (the seed's advice)",
        )
        p.add_argument("--operator", default=default_operator(), help="recorded as pushed_by")
        p.add_argument("--retry-failed", action="store_true", help="also retry failed records")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=_cmd_sync(scope))

    p = sub.add_parser("retry", help="push one record now: --applicant ID or --student REGNO")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--applicant", metavar="ID", help="ApplicationID")
    who.add_argument("--student", metavar="REGNO", help="RegNo")
    p.add_argument("--operator", default=default_operator())
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_retry)

    p = sub.add_parser("status", help="QuickBooks connection, sync counts, current and last runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("connect", help="connect a QuickBooks company (prints the sign-in URL)")
    p.add_argument("--redirect-url", help="the redirect URL, instead of pasting it")
    p.set_defaults(handler=cmd_connect)

    p = sub.add_parser("disconnect", help="revoke and forget the QuickBooks connection")
    p.set_defaults(handler=cmd_disconnect)

    p = sub.add_parser("token-key", help="print a new QBO_TOKEN_KEY")
    p.set_defaults(handler=cmd_token_key, needs_context=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    context = None
    try:
        if getattr(args, "needs_context", True):
            from sync_core.service.context import open_context

            context = open_context()
            if context.settings.uses_demo_database and not getattr(args, "json", False):
                print(
                    f"(Demo MIS: {context.settings.demo_database_path}. "
                    "Set MIS_DATABASE_URL to use the university's MIS.)",
                    file=sys.stderr,
                )
        return args.handler(args, context)
    except SyncAlreadyRunning as exc:
        print(f"Not started: {exc}.", file=sys.stderr)
        return EXIT_SYNC_RUNNING
    except SettingsError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except SchemaError as exc:
        print(f"Database problem: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except QuickBooksError as exc:
        hint = f" {exc.hint}" if exc.hint else ""
        print(f"QuickBooks problem: {exc.describe()}.{hint}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except OperationalError as exc:
        print(f"Cannot reach the MIS database: {exc.orig}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    finally:
        if context is not None:
            context.close()
