"""``serve`` (the REST API, schedules and notifications in one process) and ``api-key``
(create, revoke, list the API's bearer keys)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
from typing import TYPE_CHECKING

from sync_core.cli.output import CommandResult
from sync_core.domain.access import Actor, Role
from sync_core.domain.errors import SyncError

if TYPE_CHECKING:
    from sync_core.service import SyncService

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def cmd_serve(args: argparse.Namespace, service: SyncService) -> CommandResult:
    import uvicorn

    from sync_core.api import create_app
    from sync_core.service.notifications import Notifier, summary_cron
    from sync_core.service.serve_loop import ServeLoop

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    summary_cron(service.settings.sync_notify_summary)  # a bad setting stops us here, readably
    log = logging.getLogger("sync_core.serve")
    try:
        service.connection_status()  # connect (headless bootstrap) before the first request
    except SyncError as exc:  # the API still answers (analyze, preview, status say the same)
        log.warning("QuickBooks: %s", exc.describe())
    loop = ServeLoop(
        service,
        tick_s=args.tick,
        schedules=not args.no_scheduler,
        notifications=not args.no_notifications,
    )
    # uvicorn ends the process with the signal that stopped it: stop the loop (and cancel our
    # own run) on the app's shutdown, which comes first
    app = create_app(lambda: service, on_shutdown=loop.stop)
    targets = Notifier(service).targets()
    log.info(
        "API on http://%s:%s (OpenAPI at /docs); schedules %s; notifications to %s",
        args.host,
        args.port,
        "off" if args.no_scheduler else "on",
        ", ".join(targets) if targets and not args.no_notifications else "nobody",
    )
    loop.start()
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        server_header=False,
        access_log=not args.no_access_log,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        loop.stop()  # again, harmless: when the server failed to start
    return CommandResult(data={"stopped": True}, text="API stopped.")


def key_admin() -> Actor:
    """Whoever has a shell on the server administers keys; the OS user is recorded."""
    try:
        name = os.environ.get("SYNC_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        name = "command line"
    return Actor(name, Role.ADMIN, "cli")


def cmd_key_create(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.api_keys import create_key

    new = create_key(service, key_admin(), args.name, args.role)
    return CommandResult(
        data={**new.info.as_dict(), "key": new.key},
        text=f"API key {new.info.id} for {new.info.name!r} ({new.info.role}):\n\n"
        f"   {new.key}\n\n"
        "Store it now (e.g. in the caller's secret store): it is not shown again.\n"
        f"Use it as: curl -H 'Authorization: Bearer {new.key}' http://HOST:PORT/api/v1/sync/"
        "customers/status",
    )


def cmd_key_revoke(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.api_keys import revoke_key

    revoked = revoke_key(service, key_admin(), name=args.name, key_id=args.id)
    return CommandResult(
        data={"revoked": [k.as_dict() for k in revoked]},
        text="\n".join(f"Revoked API key {k.id} ({k.name!r}, {k.role})." for k in revoked),
    )


def cmd_key_list(args: argparse.Namespace, service: SyncService) -> CommandResult:
    from sync_core.service.api_keys import list_keys

    keys = list_keys(service, key_admin())
    lines = [f"{'id':>4}  {'role':<9} {'state':<8} {'created':<17} {'last used':<17} name"]
    for k in keys:
        lines.append(
            f"{k.id:>4}  {k.role:<9} {'active' if k.active else 'revoked':<8} "
            f"{k.created_at:%Y-%m-%d %H:%M}  "
            f"{f'{k.last_used_at:%Y-%m-%d %H:%M}' if k.last_used_at else '-':<17} {k.name}"
        )
    if not keys:
        lines = ["No API keys yet: python -m sync_core api-key create --name NAME --role ROLE"]
    return CommandResult(data={"keys": [k.as_dict() for k in keys]}, text="\n".join(lines))


def _json_flag(parser: argparse.ArgumentParser) -> None:
    # main.py gives every verb --json; a sub-verb needs its own to accept it after its name
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="one JSON object on stdout"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run the REST API (OpenAPI at /docs), scheduled syncs and notifications"
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    p.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="reverse proxies whose X-Forwarded-* headers are trusted (127.0.0.1)",
    )
    p.add_argument("--no-scheduler", action="store_true", help="do not run scheduled syncs")
    p.add_argument("--no-notifications", action="store_true", help="send no notifications")
    p.add_argument("--no-access-log", action="store_true", help="no line per request")
    p.add_argument(
        "--tick",
        type=lambda v: max(float(v), 1.0),
        default=15.0,
        help="most seconds between looks at schedules and notifications (15; at least 1)",
    )
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("api-key", help="create, revoke or list the REST API's keys")
    verbs = p.add_subparsers(dest="key_command", required=True, metavar="create|revoke|list")
    create = verbs.add_parser("create", help="a new key (shown once)")
    create.add_argument("--name", required=True, help="who uses it; recorded as the operator")
    create.add_argument(
        "--role",
        required=True,
        choices=("viewer", "operator"),
        help="viewer: read only; operator: also sync, cancel and push",
    )
    create.set_defaults(handler=cmd_key_create)
    revoke = verbs.add_parser("revoke", help="revoke a key at once")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="the key's name")
    which.add_argument("--id", type=int, help="the key's id (from list)")
    revoke.set_defaults(handler=cmd_key_revoke)
    listing = verbs.add_parser("list", help="every key: name, role, created, last used")
    listing.set_defaults(handler=cmd_key_list)
    for verb in (create, revoke, listing):
        _json_flag(verb)
