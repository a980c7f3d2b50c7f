"""``check``: what the product finds in the MIS, before it changes anything."""

from __future__ import annotations

import argparse

from sync_core.cli.output import EXIT_CONFIGURATION, EXIT_OK, CommandResult


def format_check(report: object) -> str:
    from sync_core.service.check import CheckReport

    assert isinstance(report, CheckReport)
    lines = [
        "🔎 MIS check",
        f"   MIS database: {report.mis_database}",
        f"   product tables: {report.product_tables}",
        f"   server: {report.server or 'unreachable'}",
        f"   sync scope: {'; '.join(report.scope)}",
    ]
    if report.reachable:
        lines.append("")
        for table in report.tables:
            state = "found" if table.found else "MISSING"
            lines.append(f"📋 {table.name}: {state}")
            for column in table.columns:
                mark = "✅" if column.found else "⚠️ "
                kind = f" {column.type}" if column.type else " (missing)"
                lines.append(f"   {mark} {column.name}{kind}: {column.used_for}")
        lines.append("")
        for kind_name in report.status_columns:
            lines.append(
                f"🏷  {kind_name}s: status column {report.status_columns[kind_name] or '(to add)'}"
                f", QuickBooks Id column {report.id_columns.get(kind_name) or '(to add)'}"
                f", SyncToken column {report.sync_token_columns.get(kind_name) or '(none)'}"
            )
        lines += ["", "🔐 grants:", *(f"   {g}" for g in report.grants)]
        if report.counts:
            overall = report.counts["overall"]
            lines += [
                "",
                f"📊 {overall['total_customers']:,} records: {overall['total_synced']:,} synced "
                f"({overall['total_synced_without_id']:,} without a QuickBooks Id), "
                f"{overall['total_not_synced']:,} not synced, {overall['total_failed']:,} failed, "
                f"{overall['total_in_progress']:,} in progress, "
                f"{overall['total_out_of_scope']:,} outside the sync scope",
            ]
        for kind_name, earlier in report.earlier_system.items():
            lines.append(
                f"🕰  {kind_name}s the earlier integration left: "
                f"{earlier['linked_before_this_product']:,} linked to a customer, "
                f"{earlier['synced_without_id']:,} synced without an Id, "
                f"{earlier['left_in_progress']:,} in progress"
            )
    lines += ["", "✅ no problems" if not report.problems else "❗ problems:"]
    for problem in report.problems:
        lines.append(f"   [{problem.severity}] {problem.what}")
        lines.append(f"      what to do: {problem.what_to_do}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace, _service: None) -> CommandResult:
    from sync_core.service.check import run_check
    from sync_core.settings import load_settings

    report = run_check(load_settings())
    return CommandResult(
        data=report.as_dict(),
        text=format_check(report),
        exit_code=EXIT_OK if report.ok else EXIT_CONFIGURATION,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check", help="what the product finds in the MIS (tables, columns, grants, counts)"
    )
    p.set_defaults(handler=cmd_check, needs_service=False)
