"""``hash-password``: the bcrypt hash of a dashboard user's password, for secrets.toml."""

from __future__ import annotations

import argparse
import getpass

from sync_core.cli.output import EXIT_CONFIGURATION, CommandResult


def cmd_hash_password(args: argparse.Namespace, _service: None) -> CommandResult:
    from sync_core.service.users import hash_password

    password = getpass.getpass("Password (not shown): ")
    again = getpass.getpass("The same password again: ")
    if password != again:
        return CommandResult(
            notes=["The two passwords differ: nothing hashed."], exit_code=EXIT_CONFIGURATION
        )
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        return CommandResult(notes=[f"Not hashed: {exc}."], exit_code=EXIT_CONFIGURATION)
    return CommandResult(
        data={"password_hash": hashed},
        text=hashed,
        notes=[
            "Put it in .streamlit/secrets.toml, e.g.\n"
            "[users.ada]\n"
            'name = "Ada Lovelace"\n'
            f'password_hash = "{hashed}"\n'
            'role = "operator"   # viewer, operator or admin'
        ],
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hash-password",
        help="read a dashboard user's password (not shown) and print its bcrypt hash",
    )
    p.set_defaults(handler=cmd_hash_password, needs_service=False)
