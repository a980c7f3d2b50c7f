"""What a command answers, and the one ``--json`` envelope every verb prints.

The envelope (stdout, one JSON object)::

    {
      "success": true,          # the command did what it was asked (exit code 0)
      "command": "analyze",     # the verb
      "exit_code": 0,           # 0 ok, 1 some records failed, 2 configuration or connection
                                # problem, 3 another sync is running
      "data": {...},            # the verb's answer (null on an error)
      "error": null             # or {"category", "message", "what_to_do"}
    }
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from sync_core.domain.errors import ErrorCategory, SyncError

EXIT_OK = 0
EXIT_RECORDS_FAILED = 1
EXIT_CONFIGURATION = 2
EXIT_SYNC_RUNNING = 3
EXIT_BY_CATEGORY = {ErrorCategory.CONFLICT: EXIT_SYNC_RUNNING}
PREFIX_BY_CATEGORY = {
    ErrorCategory.CONFLICT: "Not started: ",
    ErrorCategory.CONFIGURATION: "Configuration problem: ",
    ErrorCategory.QUICKBOOKS: "QuickBooks problem: ",
}


@dataclass
class CommandResult:
    data: Any = None  # the --json answer
    text: str = ""  # what a person reads on stdout
    exit_code: int = EXIT_OK
    notes: list[str] = field(default_factory=list)  # said on stderr in text mode only


def json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=json_default)


def envelope(command: str, result: CommandResult) -> dict[str, Any]:
    return {
        "success": result.exit_code == EXIT_OK,
        "command": command,
        "exit_code": result.exit_code,
        "data": result.data,
        "error": None,
    }


def error_envelope(command: str, exc: SyncError) -> dict[str, Any]:
    return {
        "success": False,
        "command": command,
        "exit_code": exit_code_of(exc),
        "data": None,
        "error": {
            "category": exc.category.value,
            "message": exc.describe(),
            "what_to_do": exc.what_to_do or None,
        },
    }


def exit_code_of(exc: SyncError) -> int:
    return EXIT_BY_CATEGORY.get(exc.category, EXIT_CONFIGURATION)


def describe_error(exc: SyncError) -> str:
    """The one way the CLI says what went wrong: the message, then what to do."""
    text = PREFIX_BY_CATEGORY.get(exc.category, "") + exc.describe().rstrip(".") + "."
    return f"{text} {exc.what_to_do}" if exc.what_to_do else text
