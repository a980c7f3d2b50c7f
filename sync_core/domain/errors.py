"""The library's one root error: what happened, in words an operator reads, and what to do.

Every error the library raises on purpose is a :class:`SyncError`. The CLI, the dashboard and
the API each map it once: the message and ``what_to_do`` are shown as they are, and
``category`` decides the CLI's exit code and the API's HTTP status. None of them carries a
secret, SQL text or a record's personal data.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCategory(StrEnum):
    CONFIGURATION = "configuration"  # settings, schema, grants: fixed by whoever deploys
    UNAVAILABLE = "unavailable"  # the MIS database or QuickBooks cannot be reached
    QUICKBOOKS = "quickbooks"  # QuickBooks refused or failed
    CONFLICT = "conflict"  # another sync is running
    NOT_FOUND = "not_found"
    PERMISSION = "permission"  # signed-in user lacks the role
    INVALID = "invalid"  # a request the caller can correct


class SyncError(Exception):
    category: ErrorCategory = ErrorCategory.CONFIGURATION

    def __init__(self, message: str, *, what_to_do: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self._what_to_do = what_to_do

    @property
    def what_to_do(self) -> str:
        return self._what_to_do or ""

    @property
    def hint(self) -> str:
        """The older name of :attr:`what_to_do`."""
        return self.what_to_do

    def describe(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.describe()


class ConfigurationError(SyncError, ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""

    category = ErrorCategory.CONFIGURATION


class DatabaseUnavailable(SyncError):
    """The MIS (or the product's own) database cannot be reached at all."""

    category = ErrorCategory.UNAVAILABLE


class SchemaProblem(SyncError):
    """The database is reachable but is not a MIS the product can work with, or the account
    lacks a grant."""

    category = ErrorCategory.CONFIGURATION


class SyncAlreadyRunning(SyncError):
    category = ErrorCategory.CONFLICT

    def __init__(self, operator: str, started_at: object, run_id: int | None) -> None:
        self.operator = operator
        self.started_at = started_at
        self.run_id = run_id
        when = f"{started_at:%Y-%m-%d %H:%M:%S} UTC" if hasattr(started_at, "strftime") else ""
        super().__init__(
            f"a sync started by {operator} at {when} is running"
            + (f" (run {run_id})" if run_id else ""),
            what_to_do="Wait for it to finish, or cancel it on the Sync page.",
        )


class NotFound(SyncError):
    category = ErrorCategory.NOT_FOUND


class InvalidRequest(SyncError, ValueError):
    category = ErrorCategory.INVALID
