"""Who may use the dashboard: how people sign in, and the role each one has.

- The demo (QuickBooks simulated, no sign-in configured) is open: whoever uses it types a name
  and may do everything, on localhost.
- With an identity provider (``[auth]`` in secrets.toml, Streamlit's ``st.login``), people sign
  in with their university account; ``[roles]`` lists the e-mail addresses of administrators
  and operators, anyone else signed in is a viewer.
- Otherwise ``[users.<username>]`` tables (name, bcrypt ``password_hash``, role) allow a
  username and password.
- With QuickBooks in sandbox or production and neither configured, the dashboard refuses to
  open (:data:`HOW_TO_SIGN_IN` says what to configure).

The signed-in person is the actor of every change (:class:`~sync_core.domain.access.Actor`):
the library checks their role, and their name is the MIS's ``pushed_by``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import bcrypt

from sync_core.domain.access import Role
from sync_core.settings import DashboardUser, Settings

BCRYPT_ROUNDS = 12
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; bcrypt 5 refuses longer passwords
# compared against when the username is unknown, so that a wrong name costs as long as a wrong
# password (no telling which usernames exist by the time an answer takes)
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(4))

HOW_TO_SIGN_IN = (
    "QuickBooks is in {environment} mode, so every page needs a signed-in user, and no way to "
    "sign in is configured. In .streamlit/secrets.toml, either add users with a password: make "
    "a hash with `python -m sync_core hash-password`, then add\n\n"
    "[users.ada]\n"
    'name = "Ada Lovelace"\n'
    'password_hash = "$2b$12$..."\n'
    'role = "operator"          # viewer, operator or admin\n\n'
    "or configure your identity provider for Streamlit's sign-in ([auth]: redirect_uri, "
    "cookie_secret, client_id, client_secret, server_metadata_url) with\n\n"
    "[roles]\n"
    'admins = ["registrar@uni.rw"]\n'
    'operators = ["finance@uni.rw"]   # anyone else signed in is a viewer\n\n'
    "then restart the dashboard (README: Sign-in and roles)."
)


class SignInMode(StrEnum):
    OPEN = "open"  # the demo: a typed name, every role
    OIDC = "oidc"  # st.login with the university's identity provider
    PASSWORD = "password"  # [users.*] with bcrypt hashes
    REFUSED = "refused"  # sandbox or production with no way to sign in


def sign_in_mode(settings: Settings, *, oidc_configured: bool) -> SignInMode:
    """How this dashboard signs people in. A configured sign-in is used in the demo too."""
    if oidc_configured:
        return SignInMode.OIDC
    if settings.dashboard_users:
        return SignInMode.PASSWORD
    if settings.uses_simulator:
        return SignInMode.OPEN
    return SignInMode.REFUSED


def how_to_sign_in(settings: Settings) -> str:
    return HOW_TO_SIGN_IN.format(environment=settings.qbo_environment)


@dataclass(frozen=True)
class Identity:
    """The signed-in person as the dashboard knows them."""

    name: str
    role: Role
    username: str = ""  # the [users.*] key, or the OIDC e-mail


def check_password(settings: Settings, username: str, password: str) -> Identity | None:
    """The user whose password this is, or None (unknown user and wrong password alike)."""
    user = settings.dashboard_user(username)
    secret = password.encode("utf-8")
    if user is None or not password or len(secret) > BCRYPT_MAX_BYTES:
        bcrypt.checkpw(b"x", _DUMMY_HASH)  # the same work whatever failed
        return None
    try:
        ok = bcrypt.checkpw(secret, user.password_hash.reveal().encode("ascii"))
    except ValueError:  # a malformed hash (settings check the shape, not the content)
        return None
    return identity_of(user) if ok else None


def identity_of(user: DashboardUser) -> Identity:
    return Identity(name=user.name, role=Role.named(user.role), username=user.username)


def signed_in_user(settings: Settings, username: str) -> Identity | None:
    """The user of a session, as configured now: a user removed from secrets.toml is signed
    out at their next click, and a changed role applies at once."""
    user = settings.dashboard_user(username) if username else None
    return identity_of(user) if user is not None else None


def oidc_identity(settings: Settings, name: str, email: str) -> Identity:
    """Someone the identity provider signed in: their role from ``[roles]``."""
    address = email.strip().lower()
    if address and address in settings.oidc_admins:
        role = Role.ADMIN
    elif address and address in settings.oidc_operators:
        role = Role.OPERATOR
    else:
        role = Role.VIEWER
    return Identity(name=(name or email).strip(), role=role, username=address)


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A bcrypt hash for ``password_hash`` in secrets.toml. Raises ValueError for a password
    bcrypt cannot take whole (empty, or longer than 72 bytes)."""
    secret = password.encode("utf-8")
    if not password:
        raise ValueError("the password is empty")
    if len(secret) > BCRYPT_MAX_BYTES:
        raise ValueError(
            f"the password is {len(secret)} bytes long: bcrypt uses at most {BCRYPT_MAX_BYTES}"
        )
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds)).decode("ascii")
