"""The parser, and the one place CLI errors become text, JSON and exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sync_core.cli import analysis, api, check, connection, demo, syncing
from sync_core.cli.output import (
    CommandResult,
    describe_error,
    dumps,
    envelope,
    error_envelope,
    exit_code_of,
)
from sync_core.domain.errors import SyncError

COMMAND_MODULES = (analysis, check, syncing, connection, demo, api)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sync_core",
        description="Push MIS applicants and students into QuickBooks Online as Customers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for module in COMMAND_MODULES:
        module.register(sub)
    for command in sub.choices.values():
        command.add_argument(
            "--json", action="store_true", help="one JSON object on stdout (see README)"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    service = None
    try:
        if getattr(args, "needs_service", True):
            from sync_core.service import open_service

            service = open_service()
            if service.settings.uses_demo_database and not args.json:
                print(
                    f"(Demo MIS: {service.settings.demo_database_path}. "
                    "Set MIS_DATABASE_URL to use the university's MIS.)",
                    file=sys.stderr,
                )
        result: CommandResult = args.handler(args, service)
    except SyncError as exc:
        if args.json:
            print(dumps(error_envelope(args.command, exc)))
        else:
            print(describe_error(exc), file=sys.stderr)
        return exit_code_of(exc)
    finally:
        if service is not None:
            service.close()
    if args.json:
        print(dumps(envelope(args.command, result)))
    else:
        for note in result.notes:
            print(note, file=sys.stderr)
        if result.text:
            print(result.text)
    return result.exit_code
