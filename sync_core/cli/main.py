"""The parser, and the one place CLI errors become text, JSON and exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

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

# The commands of each module of sync_core.cli, in the order --help lists them. A command
# imports only its own module (a cold `analyze` loads no QuickBooks, API or demo code);
# tests/test_cli.py holds this table equal to what the modules register.
COMMANDS: dict[str, tuple[str, ...]] = {
    "analysis": ("analyze", "preview-applicants", "preview-students"),
    "check": ("check",),
    "syncing": ("applicants", "students", "all", "retry"),
    "connection": ("status", "connect", "disconnect", "token-key"),
    "demo": ("demo-db",),
    "api": ("serve", "api-key"),
    "users": ("hash-password",),
    "reconcile": ("reconcile", "reconcile-link", "reconcile-repush", "changes", "updates"),
}


def _modules_for(argv: Sequence[str]) -> list[str]:
    """The module of the command named in ``argv``; every module when none is (--help, a
    typo: argparse then lists every command)."""
    named = next((a for a in argv if not a.startswith("-")), None)
    owner = [module for module, commands in COMMANDS.items() if named in commands]
    return owner or list(COMMANDS)


class UsageError(InvalidRequest):
    """Arguments the parser refuses; said as JSON too when --json was asked for."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message, what_to_do=f"See: {parser.prog} --help")
        self.usage = parser.format_usage()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of the command in ``argv`` (None: of every command)."""
    parser = _Parser(
        prog="python -m sync_core",
        description="Push MIS applicants and students into QuickBooks Online as Customers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name in list(COMMANDS) if argv is None else _modules_for(argv):
        importlib.import_module(f"sync_core.cli.{name}").register(sub)
    for command in sub.choices.values():
        command.add_argument(
            "--json", action="store_true", help="one JSON object on stdout (see README)"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
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
