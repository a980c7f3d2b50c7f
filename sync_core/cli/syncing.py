"""``applicants`` / ``students`` / ``all`` (a sync run) and ``retry`` (one record now)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from sync_core import defaults
from sync_core.cli.output import (
    EXIT_CONFIGURATION,
    EXIT_OK,
    EXIT_RECORDS_FAILED,
    CommandResult,
)
from sync_core.domain.access import Actor, Role
from sync_core.domain.errors import NotFound
from sync_core.domain.statuses import Outcome, RunState, Scope

if TYPE_CHECKING:
    from sync_core.service import SyncService
    from sync_core.store.runs import RunSummary
    from sync_core.sync.request import Progress

SHOWN_ERRORS = 20


def default_operator() -> str:
    return os.environ.get("SYNC_OPERATOR") or defaults.PUSHED_BY


def cli_actor(args: argparse.Namespace) -> Actor:
    """Whoever has a shell on the server is trusted as an administrator; ``--operator`` (or
    SYNC_OPERATOR) names them in the MIS."""
    return Actor(getattr(args, "operator", None) or default_operator(), Role.ADMIN, "cli")


class ProgressPrinter:
    """A progress bar on a terminal; a plain line every few seconds otherwise (cron, logs)."""

    def __init__(self, enabled: bool, plain_every_s: float = 5.0) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.plain_every_s = plain_every_s
        self._bar: Any = None
        self._last_plain = 0.0

    def __call__(self, progress: Progress) -> None:
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


@contextmanager
def cancel_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM (systemd, cron's timeout) cancels the run cleanly: the batches in
    flight are written back, the records not sent go back to not synced, the run is recorded
    as cancelled. A second signal stops at once (what is in flight is then checked in
    QuickBooks by the next run)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(
            "Stopping after the batches in flight (signal again to stop at once)...",
            file=sys.stderr,
            flush=True,
        )

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def run_summary_lines(run: RunSummary) -> list[str]:
    lines = [
        f"Run {run.id} ({run.scope}, batch size {run.batch_size}, by {run.operator}): {run.state}",
        f"   ✅ Synced: {run.synced:,}   ❌ Failed: {run.failed:,}   of {run.planned:,} planned",
        f"   🔗 Adopted existing customers: {run.adopted:,}   ✏️  Renamed (name clash): "
        f"{run.renamed:,}   🩺 Recovered from an earlier run: {run.reconciled:,}",
    ]
    if run.updated or run.unchanged:
        lines.append(f"   🔁 Updated: {run.updated:,}   Unchanged: {run.unchanged:,}")
    if run.records_per_s:
        lines.append(f"   ⏱  {run.records_per_s:.1f} records/s")
    if run.message:
        lines.append(f"   {run.message}")
    return lines


def exit_code_for(run: RunSummary) -> int:
    if run.state is RunState.FAILED:
        return EXIT_CONFIGURATION
    if run.failed or run.state is not RunState.COMPLETED:
        return EXIT_RECORDS_FAILED
    return EXIT_OK


def cmd_sync(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.sync.request import SyncRequest

    request = SyncRequest(
        scope=Scope(args.scope),
        operator=args.operator,
        batch_size=args.batch_size,
        retry_failed=args.retry_failed,
        limit=args.limit,
        include_updates=args.updates,
    )
    stop = threading.Event()
    with cancel_on_signals(stop):
        result = service.run_sync(
            request,
            cli_actor(args),
            on_progress=ProgressPrinter(enabled=not args.json),
            cancel_event=stop,
        )
    if result is None:
        return CommandResult(
            data={"run": None, "errors": [], "nothing_to_sync": True}, text="Nothing to sync."
        )
    errors = service.run_entries(result.run.id, outcome=Outcome.FAILED)
    lines = run_summary_lines(result.run)
    for error in errors[:SHOWN_ERRORS]:
        lines.append(
            f"   ❌ {error['kind']} {error['identity']} {error['display_name']!r}: "
            f"{error['message']}"
        )
    if len(errors) > SHOWN_ERRORS:
        lines.append(f"   ... and {len(errors) - SHOWN_ERRORS:,} more: see the Runs page")
    return CommandResult(
        data={"run": result.run.as_dict(), "errors": errors},
        text="\n".join(lines),
        exit_code=exit_code_for(result.run),
    )


def _audit_lines(audit: list[dict[str, Any]]) -> list[str]:
    lines = ["   audit trail (newest first):"] if audit else []
    for call in audit[:5]:
        code = f"{call['error_code']}: " if call["error_code"] else ""
        problem = f"  {code}{call['error_message']}" if call["error_message"] else ""
        lines.append(
            f"      {call['at']:%Y-%m-%d %H:%M:%S}  {call['operation']:<16} "
            f"HTTP {call['http_status'] or '-'}  {call['duration_ms'] or 0} ms{problem}"
        )
    return lines


def cmd_retry(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.records import PushStatus

    kind, identity = ("applicant", args.applicant) if args.applicant else ("student", args.student)
    detail = service.find_record(kind, identity)
    if detail is None:
        raise NotFound(f"No {kind} {identity!r} in the MIS.")
    outcome = service.push_record(kind, detail.source.row_id, cli_actor(args))
    after = outcome.detail or detail
    payload = json.dumps(detail.mapped.payload, indent=2, ensure_ascii=False)
    lines = [
        f"{detail.mapped.reference}: {detail.mapped.display_name}",
        f"   status before: {detail.status_label}",
        *([f"   last error: {detail.last_error}"] if detail.last_error else []),
        *(f"   ⚠️  {w}" for w in detail.mapped.warnings),
        "   payload:",
        *(f"      {line}" for line in payload.splitlines()),
        f"   → {outcome.status}: {outcome.message}",
        *_audit_lines(after.audit),
    ]
    done = outcome.status in (PushStatus.SYNCED, PushStatus.ALREADY_SYNCED)
    return CommandResult(
        data={
            "status": outcome.status,
            "message": outcome.message,
            "qk_id": outcome.qk_id,
            "run_id": outcome.run_id,
            "status_before": detail.status_label,
            "last_error_before": detail.last_error,
            "payload": detail.mapped.payload,
            "warnings": list(detail.mapped.warnings),
            "audit": after.audit,
        },
        text="\n".join(lines),
        exit_code=EXIT_OK if done else EXIT_RECORDS_FAILED,
    )


def register(sub: argparse._SubParsersAction) -> None:
    for scope in (Scope.APPLICANTS, Scope.STUDENTS, Scope.ALL):
        p = sub.add_parser(scope.value, help=f"sync {scope.value} to QuickBooks customers")
        p.add_argument(
            "--batch-size",
            type=int,
            default=defaults.BATCH_SIZE,
            help="records per step: 10-20 to test, 50 regularly, 100 for bulk (the seed's advice)",
        )
        p.add_argument("--operator", default=default_operator(), help="recorded as pushed_by")
        p.add_argument("--retry-failed", action="store_true", help="also retry failed records")
        p.add_argument(
            "--limit",
            type=int,
            metavar="N",
            help="send at most N records (the next N waiting), e.g. 10 to try a first batch",
        )
        p.add_argument(
            "--updates",
            action="store_true",
            help="also send the changes of records already synced (see `changes`)",
        )
        p.set_defaults(handler=cmd_sync, scope=scope.value)

    p = sub.add_parser("retry", help="push one record now: --applicant ID or --student REGNO")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--applicant", metavar="ID", help="ApplicationID")
    who.add_argument("--student", metavar="REGNO", help="RegNo")
    p.add_argument("--operator", default=default_operator())
    p.set_defaults(handler=cmd_retry)
