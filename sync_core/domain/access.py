"""Who may do what: the three roles, and the actor every changing call is made by.

viewer   sees everything, pushes nothing;
operator syncs, retries, pushes updates;
admin    also connects and disconnects QuickBooks and changes settings and schedules.

The dashboard's signed-in user, an API key or the command line (a shell on the server is
trusted as an admin) is the actor; its name is what the MIS records as ``pushed_by``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from sync_core.domain.errors import ErrorCategory, SyncError


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"role must be viewer, operator or admin, not {name!r}") from None


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    via: str = "cli"  # dashboard / cli / api / schedule

    def may(self, role: Role) -> bool:
        return self.role >= role


class PermissionDenied(SyncError):
    category = ErrorCategory.PERMISSION


def require(actor: Actor, role: Role, doing: str) -> None:
    """Refuse, readably, what ``actor``'s role does not allow."""
    if not actor.name.strip():
        raise PermissionDenied(
            f"Nobody is signed in: cannot {doing}",
            what_to_do="Sign in (every change records who made it).",
        )
    if not actor.may(role):
        raise PermissionDenied(
            f"{actor.name} is {_article(actor.role.label)} {actor.role.label} and may not {doing}",
            what_to_do=f"Ask an administrator for the {role.label} role.",
        )


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
