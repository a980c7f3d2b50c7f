"""``reconcile`` (every customer against the MIS), its actions ``reconcile-link`` and
``reconcile-repush`` (planned, then done with ``--yes``), ``changes`` (what changed in the MIS
since pushed, field by field) and ``updates`` (a run that sends only those changes)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sync_core import defaults
from sync_core.cli.output import EXIT_OK, EXIT_RECORDS_FAILED, CommandResult
from sync_core.cli.syncing import (
    ProgressPrinter,
    cancel_on_signals,
    cli_actor,
    default_operator,
    exit_code_for,
    run_summary_lines,
)
from sync_core.domain.errors import NotFound
from sync_core.domain.statuses import Outcome, Scope

if TYPE_CHECKING:
    from sync_core.service import SyncService
    from sync_core.service.changes import ChangesPreview, ChangesSummary
    from sync_core.service.reconcile import ActionResult, ReconcileReport

SHOWN = 20
PROBLEMS = (
    "linked but drifted",
    "linked but missing in QuickBooks",
    "linked but inactive in QuickBooks",
    "linked to another record's customer",
    "synced without a QuickBooks Id",
    "orphan customer",
    "twins",
)


def format_report(report: ReconcileReport) -> str:
    lines = [
        f"🔎 Reconciliation: {report.customers_read:,} customers read in {report.read_calls:,} "
        f"read calls, {report.records_read:,} MIS records, {report.seconds:.1f} s",
        "",
    ]
    for category, count in report.counts.items():
        lines.append(f"   {category}: {count:,}")
    lines += [
        f"   customers identifying no MIS record: {report.not_ours:,}",
        f"   customers naming a record the MIS does not have: {report.unknown_records:,}",
    ]
    if report.baselines_remembered:
        lines.append(
            f"   ({report.baselines_remembered:,} records synced before change tracking were "
            "compared with their customers for the first time)"
        )
    for category in PROBLEMS:
        findings = report.findings[category]
        if not findings:
            continue
        lines += ["", f"{category}:"]
        for finding in findings[:SHOWN]:
            customers = ", ".join(
                f"{c.id} {c.display_name!r}{'' if c.active else ' (inactive)'} "
                f"balance {c.balance:,.2f}"
                for c in finding.customers
            )
            action = f"  → {finding.action}" if finding.action else ""
            lines.append(
                f"   {finding.kind} {finding.identity} {finding.name!r} (Id in the MIS: "
                f"{finding.qk_id or 'none'}): {finding.detail} {customers}{action}".rstrip()
            )
            lines += [f"      {c.describe()}" for c in finding.changes]
        if report.counts[category] > SHOWN:
            lines.append(f"   ... and {report.counts[category] - SHOWN:,} more (--json lists them)")
    lines += [
        "",
        "Nothing is deleted or merged by the product: twins are for finance to merge in "
        "QuickBooks (--csv FILE lists them with their balances).",
    ]
    return "\n".join(lines)


def cmd_reconcile(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.reconcile import reconcile, twins_csv

    def progress(read: int, total: int) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\rreading customers: {read:,} of {total:,}", end="", file=sys.stderr)

    report = reconcile(service, on_progress=progress)
    notes = []
    if args.csv:
        Path(args.csv).write_text(twins_csv(report), encoding="utf-8")
        notes.append(f"Twins written to {args.csv}.")
    problems = sum(report.counts[c] for c in PROBLEMS)
    return CommandResult(
        data=report.as_dict(),
        text=format_report(report),
        exit_code=EXIT_RECORDS_FAILED if problems else EXIT_OK,
        notes=notes,
    )


def _record(args: argparse.Namespace, service: SyncService) -> tuple[str, int]:
    kind, identity = ("applicant", args.applicant) if args.applicant else ("student", args.student)
    detail = service.find_record(kind, identity)
    if detail is None:
        raise NotFound(f"No {kind} {identity!r} in the MIS.")
    return kind, detail.source.row_id


def _action_result(result: ActionResult, yes: bool) -> CommandResult:
    text = result.message if result.done else f"{result.message}\nAdd --yes to do it."
    return CommandResult(
        data={
            "done": result.done,
            "action": result.action,
            "kind": result.kind,
            "row_id": result.row_id,
            "message": result.message,
        },
        text=text,
    )


def cmd_link(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.reconcile import link_customer

    kind, row_id = _record(args, service)
    result = link_customer(service, kind, row_id, args.customer, cli_actor(args), confirm=args.yes)
    return _action_result(result, args.yes)


def cmd_repush(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.reconcile import mark_for_repush

    kind, row_id = _record(args, service)
    result = mark_for_repush(service, kind, row_id, cli_actor(args), confirm=args.yes)
    return _action_result(result, args.yes)


def format_changes(summary: ChangesSummary, preview: ChangesPreview | None) -> str:
    lines = [f"🔁 Changes in the MIS since records were pushed ({summary.student_customer}):"]
    for title, counts in (("Applicants", summary.applicants), ("Students", summary.students)):
        lines += [
            f"   {title}: {counts.synced:,} synced · {counts.changed:,} changed"
            f" ({counts.earlier_shape:,} of the earlier system's shape) · "
            f"{counts.not_compared:,} never compared · {counts.marked:,} marked for a re-push · "
            f"{counts.unchanged:,} unchanged",
        ]
        if counts.cannot_send:
            lines.append(f"      {counts.cannot_send:,} cannot be sent (their mapping fails)")
        if counts.to_continue or counts.waiting:
            lines.append(
                f"      {counts.to_continue:,} will carry on their applicant's or student's "
                f"customer, {counts.waiting:,} wait for their applicant's"
            )
    if preview is not None:
        lines += ["", f"{preview.kind.title} to update: {preview.total:,}"]
        for item in preview.items:
            lines.append(
                f"   {item.reference} {item.display_name!r} → customer {item.qk_id or '-'} "
                f"({item.why}; before = {item.compared_with})"
            )
            lines += [f"      {c.describe()}" for c in item.changes]
            lines += [f"      ⚠️  {w}" for w in item.warnings]
            if item.note:
                lines.append(f"      ⛔ {item.note}")
            if item.link:
                lines.append(f"      🎓 {item.link}")
        if preview.read_calls:
            lines.append(f"   ({preview.read_calls} QuickBooks read call(s) for this page)")
    return "\n".join(lines)


def cmd_changes(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.changes import changes_summary, preview_changes

    summary = changes_summary(service)
    preview = None
    if args.kind:
        preview = preview_changes(service, args.kind, limit=args.limit, offset=args.offset)
    data = summary.as_dict()
    if preview is not None:
        data["preview"] = {
            "kind": preview.kind.plural,
            "total": preview.total,
            "limit": preview.limit,
            "offset": preview.offset,
            "read_calls": preview.read_calls,
            "records": [i.as_dict() for i in preview.items],
        }
    return CommandResult(data=data, text=format_changes(summary, preview))


def cmd_updates(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.sync.request import SyncRequest

    request = SyncRequest(scope=Scope.UPDATES, operator=args.operator, batch_size=args.batch_size)
    stop = threading.Event()
    with cancel_on_signals(stop):
        result = service.run_sync(
            request,
            cli_actor(args),
            on_progress=ProgressPrinter(enabled=not args.json),
            cancel_event=stop,
        )
    assert result is not None  # a run with updates always runs
    errors = service.run_entries(result.run.id, outcome=Outcome.FAILED)
    lines = run_summary_lines(result.run)
    for error in errors[:SHOWN]:
        lines.append(f"   ❌ {error['kind']} {error['identity']}: {error['message']}")
    return CommandResult(
        data={"run": result.run.as_dict(), "errors": errors},
        text="\n".join(lines),
        exit_code=exit_code_for(result.run),
    )


def _who(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--applicant", metavar="ID", help="ApplicationID")
    who.add_argument("--student", metavar="REGNO", help="RegNo")
    parser.add_argument("--operator", default=default_operator(), help="recorded in the audit")
    parser.add_argument("--yes", action="store_true", help="do it (without: show the plan)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reconcile", help="read every QuickBooks customer and compare it with the MIS"
    )
    p.add_argument("--csv", metavar="FILE", help="write the twins (with balances) to FILE")
    p.set_defaults(handler=cmd_reconcile)

    p = sub.add_parser(
        "reconcile-link",
        help="link a record to a customer that identifies it (an orphan), or re-link it",
    )
    _who(p)
    p.add_argument("--customer", required=True, metavar="ID", help="the QuickBooks customer Id")
    p.set_defaults(handler=cmd_link)

    p = sub.add_parser(
        "reconcile-repush",
        help="push a record again: its mapped fields at the next update, or created anew if "
        "its customer is gone",
    )
    _who(p)
    p.set_defaults(handler=cmd_repush)

    p = sub.add_parser("changes", help="synced records changed in the MIS since pushed")
    p.add_argument("--kind", choices=("applicants", "students"), help="list them, field by field")
    p.add_argument("--limit", type=int, default=defaults.PREVIEW_LIMIT, help="at most 100")
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(handler=cmd_changes)

    p = sub.add_parser("updates", help="send the changes of synced records (nothing created)")
    p.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    p.add_argument("--operator", default=default_operator(), help="recorded as pushed_by")
    p.set_defaults(handler=cmd_updates)
