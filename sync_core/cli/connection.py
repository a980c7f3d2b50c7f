"""``status``, ``connect``, ``disconnect`` and ``token-key``: the QuickBooks connection."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from sync_core.cli.analysis import format_analysis
from sync_core.cli.output import CommandResult
from sync_core.cli.syncing import cli_actor, run_summary_lines

if TYPE_CHECKING:
    from sync_core.service import SyncService


def cmd_status(args: argparse.Namespace, service: SyncService) -> CommandResult:
    connection = service.connection_status()
    analysis = service.analyze()
    active = service.active_run()
    recent = service.runs(limit=5)
    lines = ["🔌 QuickBooks connection:"]
    if connection.connected:
        lines.append(f"   connected to realm {connection.realm_id} ({connection.environment})")
        if connection.access_expires_at:
            lines.append(
                f"   access token expires {connection.access_expires_at:%Y-%m-%d %H:%M} UTC"
            )
        if connection.refresh_expires_at:
            lines.append(f"   refresh token expires {connection.refresh_expires_at:%Y-%m-%d} UTC")
        if connection.renewal_needed:
            lines.append(
                f"   ⛔ the refresh token is dead (Intuit refused it at "
                f"{connection.refresh_refused_at:%Y-%m-%d %H:%M} UTC): nothing syncs until "
                "someone runs `python -m sync_core connect`"
            )
        elif connection.expires_soon:
            lines.append(
                "   ⚠️  the refresh token expires within 14 days: connect again before then"
            )
    else:
        lines.append(
            f"   not connected ({connection.environment}): run `python -m sync_core connect`"
        )
        if connection.disconnected_at:
            lines.append(
                f"   (disconnected by an operator at {connection.disconnected_at:%Y-%m-%d %H:%M}"
                " UTC; a configured QBO_REFRESH_TOKEN does not reconnect it)"
            )
    lines += [f"   ⚠️  {p}" for p in (connection.last_error, service.bootstrap_error) if p]
    lines += ["", format_analysis(analysis), ""]
    if active:
        lines += ["🔄 Running now:", *run_summary_lines(active)]
    lines.append("🗂  Last runs:")
    if not recent:
        lines.append("   none yet")
    for run in recent:
        lines.append(
            f"   #{run.id} {run.started_at:%Y-%m-%d %H:%M} {run.scope:<10} {run.state:<21} "
            f"{run.synced:>6,} synced {run.failed:>5,} failed  by {run.operator}"
        )
    return CommandResult(
        data={
            "configuration": service.describe_configuration(),
            "connection": connection.as_dict(),
            "bootstrap_error": service.bootstrap_error,
            "counts": analysis.as_dict(),
            "running": active.as_dict() if active else None,
            "last_runs": [r.as_dict() for r in recent],
        },
        text="\n".join(lines),
    )


def cmd_connect(args: argparse.Namespace, service: SyncService) -> CommandResult:
    out = sys.stderr if args.json else sys.stdout  # with --json, stdout holds only the answer
    print("Open this address in a browser, sign in to QuickBooks and choose the company:", file=out)
    print(file=out)
    print(f"   {service.authorization_url(cli_actor(args))}", file=out, flush=True)
    print(file=out)
    print(
        "Intuit then sends the browser to the redirect URI; paste that whole address here.",
        file=out,
        flush=True,
    )
    redirect = args.redirect_url or input()
    status = service.complete_from_redirect(cli_actor(args), redirect)
    return CommandResult(
        data=status.as_dict(),
        text=f"Connected to realm {status.realm_id} ({status.environment}).",
    )


def cmd_disconnect(args: argparse.Namespace, service: SyncService) -> CommandResult:
    warning = service.disconnect(cli_actor(args))
    text = (
        "Disconnected: tokens revoked and removed." if not warning else f"Disconnected. {warning}"
    )
    return CommandResult(data={"disconnected": True, "warning": warning}, text=text)


def cmd_token_key(args: argparse.Namespace, _service: None) -> CommandResult:
    from sync_core.store.tokens import generate_key

    key = generate_key()
    return CommandResult(data={"key": key}, text=key)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="QuickBooks connection, sync counts, current and last runs")
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser("connect", help="connect a QuickBooks company (prints the sign-in URL)")
    p.add_argument("--redirect-url", help="the redirect URL, instead of pasting it")
    p.set_defaults(handler=cmd_connect)
    p = sub.add_parser("disconnect", help="revoke and forget the QuickBooks connection")
    p.set_defaults(handler=cmd_disconnect)
    p = sub.add_parser("token-key", help="print a new QBO_TOKEN_KEY")
    p.set_defaults(handler=cmd_token_key, needs_service=False)
