"""``analyze`` and ``preview-applicants`` / ``preview-students``: what there is to sync."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from sync_core import defaults
from sync_core.cli.output import CommandResult

if TYPE_CHECKING:
    from sync_core.service import SyncService
    from sync_core.service.analysis import StatusCounts, SyncAnalysis
    from sync_core.service.changes import ChangesSummary
    from sync_core.service.preview import Preview


def format_analysis(result: SyncAnalysis) -> str:
    def block(title: str, noun: str, counts: StatusCounts) -> list[str]:
        return [
            f"{title}:",
            f"   Total {noun}: {counts.total:,}",
            f"   ✅ Already Synced: {counts.synced:,}",
            f"   ⏳ Not Synced: {counts.not_synced:,}",
            f"   ❌ Failed: {counts.failed:,}",
            f"   🔄 In Progress: {counts.in_progress:,}",
            *(
                [f"   🚫 Outside the sync scope: {counts.out_of_scope:,}"]
                if counts.out_of_scope
                else []
            ),
            *(
                [f"   ❔ Synced without a QuickBooks Id: {counts.synced_without_id:,}"]
                if counts.synced_without_id
                else []
            ),
            *(
                [
                    f"   ⚠️  Sharing their {'tracking id' if noun == 'Applicants' else 'RegNo'} "
                    f"with another record (not sent until corrected): {counts.shared_identity:,}"
                ]
                if counts.shared_identity
                else []
            ),
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


def format_changes(changes: ChangesSummary) -> str:
    lines = ["🔁 CHANGED IN THE MIS SINCE PUSHED:"]
    for title, counts in (("Applicants", changes.applicants), ("Students", changes.students)):
        lines.append(
            f"   {title}: {counts.changed:,} changed, {counts.not_compared:,} never compared, "
            f"{counts.marked:,} marked for a re-push (`changes --kind {title.lower()}` lists them)"
        )
    return "\n".join(lines)


def cmd_analyze(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.changes import changes_summary

    result = service.analyze()
    changes = changes_summary(service)
    warnings = service.schema_warnings()
    text = format_analysis(result) + "\n\n" + format_changes(changes)
    if warnings:
        text += "\n\n⚠️  What the MIS lacks:\n" + "\n".join(f"   {w}" for w in warnings)
    data = {**result.as_dict(), "changes": changes.as_dict(), "warnings": warnings}
    return CommandResult(data=data, text=text)


def preview_as_dict(result: Preview) -> dict[str, Any]:
    return {
        "kind": result.kind.plural,
        "total_not_synced": result.total,
        "limit": result.limit,
        "offset": result.offset,
        "next_after": result.next_after,  # --after of the next page (null: the last page)
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


def format_preview(result: Preview, after: int | None = None) -> str:
    first = result.offset + 1 if result.items else result.offset
    last = result.offset + len(result.items)
    shown = (
        f"showing {len(result.items):,} after row id {after:,}"
        if after is not None
        else f"showing {first:,}-{last:,}"
    )
    lines = [f"👀 {result.kind.title} not yet synced: {result.total:,} ({shown})", ""]
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
    if result.next_after is not None:
        lines.append(f"Next page: --after {result.next_after}")
    return "\n".join(lines)


def cmd_preview(args: argparse.Namespace, service: SyncService) -> CommandResult:
    result = service.preview(args.kind, limit=args.limit, offset=args.offset, after=args.after)
    return CommandResult(data=preview_as_dict(result), text=format_preview(result, args.after))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="counts of synced / not synced / failed records")
    p.set_defaults(handler=cmd_analyze)
    for kind in ("applicants", "students"):
        p = sub.add_parser(
            f"preview-{kind}", help=f"the payloads the next sync would send for {kind}"
        )
        p.add_argument("--limit", type=int, default=defaults.PREVIEW_LIMIT, help="at most 100")
        p.add_argument("--offset", type=int, default=0, help="records to skip (slower deep)")
        p.add_argument(
            "--after",
            type=int,
            metavar="ROW_ID",
            help="the page after this row id (each page as fast at any depth): the JSON's "
            "next_after, or the 'Next page' line",
        )
        p.set_defaults(handler=cmd_preview, kind=kind)
