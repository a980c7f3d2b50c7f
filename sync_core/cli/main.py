"""The parser, and the one place CLI errors become text, JSON and exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from sync_core.cli import analysis, api, check, connection, demo, reconcile, syncing, users
from sync_core.cli.output import (
    CommandResult,
    describe_error,
    dumps,
    envelope,
    error_envelope,
    exit_code_of,
)
from sync_core.domain.errors import InvalidRequest, SyncError

EXIT_INTERRUPTED = 130  # the shell's convention for a process stopped by Ctrl-C

COMMAND_MODULES = (analysis, check, syncing, connection, demo, api, users, reconcile)


class UsageError(InvalidRequest):
    """Arguments the parser refuses; said as JSON too when --json was asked for."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message, what_to_do=f"See: {parser.prog} --help")
        self.usage = parser.format_usage()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        if "--json" in argv:
            command = next((a for a in argv if not a.startswith("-")), "")
            print(dumps(error_envelope(command, exc)))
        else:
            print(exc.usage + f"error: {exc.message}", file=sys.stderr)
        return exit_code_of(exc)
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
    except KeyboardInterrupt:  # a second Ctrl-C: the run is already recorded as cancelled
        print("Stopped.", file=sys.stderr)
        return EXIT_INTERRUPTED
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
