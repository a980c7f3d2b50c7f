"""One settings object, read from environment variables and `.streamlit/secrets.toml`.

Environment variables win over the secrets file, so a deployment can override a single value
without editing the file. Secrets are wrapped in :class:`Secret` so that printing, logging or
showing a settings object never reveals them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_core import defaults
from sync_core.domain.errors import ConfigurationError
from sync_core.domain.scope import ScopeRules
from sync_core.domain.secret import Secret

__all__ = ["DashboardUser", "Secret", "Settings", "SettingsError", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"

QBO_ENVIRONMENTS = ("simulator", "sandbox", "production")
SANDBOX_API_BASE_URL = "https://sandbox-quickbooks.api.intuit.com"
PRODUCTION_API_BASE_URL = "https://quickbooks.api.intuit.com"
SANDBOX_DISCOVERY_URL = "https://developer.api.intuit.com/.well-known/openid_sandbox_configuration"
PRODUCTION_DISCOVERY_URL = "https://developer.api.intuit.com/.well-known/openid_configuration"


class SettingsError(ConfigurationError):
    """A configuration value is missing or malformed; the message says which and how to fix it."""


DASHBOARD_ROLES = ("viewer", "operator", "admin")
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")


@dataclass(frozen=True)
class DashboardUser:
    """A person who signs in to the dashboard with a password (``[users.<username>]`` in
    secrets.toml); only the bcrypt hash of the password is configured."""

    username: str
    name: str
    role: str  # viewer / operator / admin
    password_hash: Secret = field(repr=False, default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class Settings:
    mis_database_url: str | None = field(default=None, repr=False)  # may hold a password
    # the product's own tables (runs, audit, tokens, locks); default: the MIS database
    sync_database_url: str | None = field(default=None, repr=False)
    data_dir: Path = DEFAULT_DATA_DIR

    qbo_environment: str = "simulator"
    qbo_client_id: str = ""
    qbo_client_secret: Secret = field(default_factory=lambda: Secret(""))
    qbo_redirect_uri: str = "http://localhost:8501/QuickBooks"
    qbo_realm_id: str = ""
    qbo_refresh_token: Secret = field(default_factory=lambda: Secret(""))
    qbo_api_base_url: str = ""
    qbo_discovery_url: str = ""
    qbo_token_key: Secret = field(default_factory=lambda: Secret(""))
    qbo_minor_version: int = defaults.MINOR_VERSION

    qbo_requests_per_minute: int = defaults.REQUESTS_PER_MINUTE
    qbo_max_concurrent: int = defaults.MAX_CONCURRENT
    qbo_batch_requests_per_minute: int = defaults.BATCH_REQUESTS_PER_MINUTE
    qbo_limit_window_margin_s: float = defaults.LIMIT_WINDOW_MARGIN_S
    qbo_limit_window_s: float = defaults.LIMIT_WINDOW_S
    qbo_connect_timeout_s: float = defaults.CONNECT_TIMEOUT_S
    qbo_read_timeout_s: float = defaults.READ_TIMEOUT_S

    # Seed custom field name -> QuickBooks custom field DefinitionId (legacyIDV2). Fields without
    # a definition are written to Notes.
    qbo_custom_fields: Mapping[str, str] = field(default_factory=dict)
    phone_region: str = defaults.PHONE_REGION

    # The office's sync scope: applicants who applied on or after this date, and whose
    # application status is one of these (empty: all). Out-of-scope records are never synced.
    applicants_from: dt.date | None = None
    application_statuses: tuple[int, ...] = ()
    # Use the SQL every MySQL 5.7 understands even where the server could do better (tests).
    portable_sql: bool = False
    # What a student's customer is when the student was an applicant (tbl_online_application.
    # reg_no equals the student's reg_no): "separate" (a customer of their own, the seed's
    # behaviour) or "continue" (the applicant's customer becomes the student's: one per person)
    sync_student_customer: str = defaults.STUDENT_CUSTOMER

    # Apprise URLs of notification targets (e-mail, Teams, Slack, webhooks), one per line: they
    # carry passwords and webhook tokens, so the whole list is a Secret.
    sync_notify_urls: Secret = field(default_factory=lambda: Secret(""))
    # "" (none), "daily", "weekly" or a cron expression (UTC): when a summary is sent
    sync_notify_summary: str = ""

    # QBO_REDIRECT_URI was configured (else the demo follows the address the dashboard is served
    # on, see the dashboard's QuickBooks page)
    qbo_redirect_uri_configured: bool = False
    # Dashboard sign-in without an identity provider: ``[users.<username>]`` tables of
    # secrets.toml (name, password_hash, role). Only in the secrets file, never the environment.
    dashboard_users: tuple[DashboardUser, ...] = ()
    # Roles of people signed in with OIDC (``[roles]`` admins / operators: e-mail addresses);
    # anyone else signed in is a viewer.
    oidc_admins: tuple[str, ...] = ()
    oidc_operators: tuple[str, ...] = ()

    def dashboard_user(self, username: str) -> DashboardUser | None:
        wanted = username.strip().lower()
        return next((u for u in self.dashboard_users if u.username.lower() == wanted), None)

    def notification_urls(self) -> list[Secret]:
        """The notification targets, each a Secret (never shown, never logged)."""
        return [Secret(u) for u in _split_urls(self.sync_notify_urls.reveal())]

    @property
    def uses_demo_database(self) -> bool:
        return not self.mis_database_url

    @property
    def uses_simulator(self) -> bool:
        return self.qbo_environment == "simulator"

    @property
    def demo_database_path(self) -> Path:
        return self.data_dir / "demo_mis.sqlite"

    @property
    def database_url(self) -> str:
        if self.mis_database_url:
            return self.mis_database_url
        return f"sqlite:///{self.demo_database_path}"

    @property
    def store_database_url(self) -> str:
        """Where the product's own tables live: SYNC_DATABASE_URL, else the MIS database."""
        return self.sync_database_url or self.database_url

    @property
    def api_base_url(self) -> str:
        """QuickBooks API host; empty for the embedded simulator (its port is chosen at start)."""
        if self.qbo_api_base_url:
            return self.qbo_api_base_url.rstrip("/")
        if self.qbo_environment == "production":
            return PRODUCTION_API_BASE_URL
        if self.qbo_environment == "sandbox":
            return SANDBOX_API_BASE_URL
        return ""

    @property
    def discovery_url(self) -> str:
        if self.qbo_discovery_url:
            return self.qbo_discovery_url
        if self.qbo_environment == "production":
            return PRODUCTION_DISCOVERY_URL
        if self.qbo_environment == "sandbox":
            return SANDBOX_DISCOVERY_URL
        return ""

    def describe(self) -> dict[str, str]:
        """What the operator may see: where data comes from and goes to, never a secret."""
        return {
            "MIS database": _redact_url(self.database_url)
            + (" (embedded demo)" if self.uses_demo_database else ""),
            "QuickBooks environment": self.qbo_environment,
            "QuickBooks API": self.api_base_url or "embedded simulator",
            "Realm": self.qbo_realm_id or "(from the connection)",
            "Client id": self.qbo_client_id
            or ("the simulator's" if self.uses_simulator else "(not set)"),
            "Client secret": "set"
            if self.qbo_client_secret
            else ("the simulator's" if self.uses_simulator else "not set"),
            "Token encryption key": "set"
            if self.qbo_token_key
            else ("generated for the demo" if self.uses_simulator else "not set"),
            "Custom field definitions": ", ".join(
                f"{k}={v}" for k, v in sorted(self.qbo_custom_fields.items())
            )
            or "none (all seed fields go to Notes)",
            "Product tables": "the MIS database"
            if not self.sync_database_url
            else _redact_url(self.sync_database_url),
            "Sync scope": "; ".join(self.scope_rules().describe()),
            "Notification targets": _count_targets(len(self.notification_urls())),
            "Student customer": STUDENT_CUSTOMER_MODES.get(
                self.sync_student_customer, self.sync_student_customer
            ),
        }

    def scope_rules(self) -> ScopeRules:
        return ScopeRules(self.applicants_from, self.application_statuses)


def _redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as a placeholder, never verbatim
        return "(unparsable URL)"


def _parse_custom_fields(value: Any) -> dict[str, str]:
    """Accept ``{"Campus": "1"}`` (a TOML table) or ``"Campus=1, Program=2"`` (env var)."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    result = {}
    for part in str(value).split(","):
        if not part.strip():
            continue
        name, sep, definition_id = part.partition("=")
        if not sep or not name.strip() or not definition_id.strip():
            raise SettingsError(
                f"QBO_CUSTOM_FIELDS entry {part.strip()!r} is not 'FieldName=DefinitionId'"
            )
        result[name.strip()] = definition_id.strip()
    return result


def _parse_database_url(name: str, raw: object) -> str | None:
    """A SQLAlchemy URL with a driver this product speaks, or a readable refusal (the value is
    not repeated: it may hold a password)."""
    if raw is None or str(raw).strip() == "":
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = str(raw).strip()
    example = "mysql+pymysql://user:password@host:3306/database or sqlite:///path/to/file.sqlite"
    try:
        backend = make_url(text).get_backend_name()
    except (ArgumentError, ValueError):
        raise SettingsError(f"{name} is not a database URL; write it as {example}") from None
    if backend not in ("mysql", "mariadb", "sqlite"):
        raise SettingsError(
            f"{name} names a {backend!r} database; this product reads MySQL/MariaDB "
            f"(or SQLite for the demo): {example}"
        )
    return text


def _parse_date(name: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):  # a TOML date
        return value if not isinstance(value, dt.datetime) else value.date()
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise SettingsError(f"{name} must be a date like 2024-09-01, got {value!r}") from None


def _parse_ints(name: str, value: Any) -> tuple[int, ...]:
    if value in (None, ""):
        return ()
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    try:
        return tuple(sorted({int(str(p).strip()) for p in parts if str(p).strip()}))
    except ValueError:
        raise SettingsError(
            f"{name} must be whole numbers separated by commas, like 1,2; got {value!r}"
        ) from None


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


# URLs are separated by spaces or line breaks, or by a comma before the next scheme; a comma
# inside a URL (``mailto://...?to=a@x.org,b@x.org``) stays in it
_COMMA_BEFORE_SCHEME = re.compile(r",(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def _split_urls(text: str) -> list[str]:
    parts = [p for word in text.split() for p in _COMMA_BEFORE_SCHEME.split(word)]
    return [p.strip(",") for p in parts if p.strip(",")]


def _parse_urls(value: Any) -> Secret:
    """``SYNC_NOTIFY_URLS``: a TOML list of URLs, or one string of comma-separated URLs."""
    if not value:
        return Secret("")
    parts = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    urls = [url for part in parts for url in _split_urls(part)]
    for n, url in enumerate(urls, start=1):
        if "://" not in url:
            raise SettingsError(
                f"SYNC_NOTIFY_URLS entry {n} is not a URL such as mailto://... or json://... "
                "(see the README, Schedules and notifications)"
            )
    return Secret("\n".join(urls))


def _parse_users(value: Any) -> tuple[DashboardUser, ...]:
    """``[users.ada]`` tables: ``name``, ``password_hash`` (bcrypt), ``role``."""
    if not value:
        return ()
    if not isinstance(value, Mapping):
        raise SettingsError("[users] in secrets.toml must hold one [users.<username>] table each")
    users = []
    for username, entry in value.items():
        where = f"[users.{username}] in secrets.toml"
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{where} must be a table with name, password_hash and role")
        role = str(entry.get("role", "")).strip().lower()
        if role not in DASHBOARD_ROLES:
            raise SettingsError(
                f"{where}: role must be one of {', '.join(DASHBOARD_ROLES)}, got {role!r}"
            )
        password_hash = str(entry.get("password_hash", "")).strip()
        if not _BCRYPT_HASH.match(password_hash):
            raise SettingsError(
                f"{where}: password_hash must be a bcrypt hash ($2b$12$...): make one with "
                "`python -m sync_core hash-password`"
            )
        users.append(
            DashboardUser(
                username=str(username).strip(),
                name=str(entry.get("name") or username).strip(),
                role=role,
                password_hash=Secret(password_hash),
            )
        )
    return tuple(users)


def _parse_emails(name: str, value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    emails = tuple(sorted({str(p).strip().lower() for p in parts if str(p).strip()}))
    if any("@" not in e for e in emails):
        raise SettingsError(f'{name} must list e-mail addresses, like ["a@uni.rw"]')
    return emails


STUDENT_CUSTOMER_MODES = {
    "separate": "separate (an enrolled applicant's student record gets a customer of its own)",
    "continue": "continue (an enrolled applicant's customer becomes the student's)",
}


def _parse_student_customer(value: Any) -> str:
    mode = str(value).strip().lower()
    if mode not in STUDENT_CUSTOMER_MODES:
        raise SettingsError(
            f"SYNC_STUDENT_CUSTOMER must be separate or continue, got {str(value)[:40]!r}"
        )
    return mode


def _count_targets(n: int) -> str:
    return "none" if n == 0 else f"{n} configured"


def _read_secrets_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc


def load_settings(
    environ: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> Settings:
    """Build :class:`Settings` from ``environ`` (default ``os.environ``) over the secrets file."""
    env = os.environ if environ is None else environ
    path = Path(env.get("SYNC_SECRETS_FILE") or secrets_file or DEFAULT_SECRETS_FILE)
    file_values = _read_secrets_file(path)

    def get(name: str, default: Any = None) -> Any:
        if name in env and env[name] != "":
            return env[name]
        value = file_values.get(name)
        return default if value in (None, "") else value

    def get_int(name: str, default: int) -> int:
        raw = get(name, default)
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None

    def get_float(name: str, default: float) -> float:
        raw = get(name, default)
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None

    roles = file_values.get("roles") or {}
    if not isinstance(roles, Mapping):
        raise SettingsError("[roles] in secrets.toml must be a table with admins and operators")

    environment = str(get("QBO_ENVIRONMENT", "simulator")).strip().lower()
    if environment not in QBO_ENVIRONMENTS:
        raise SettingsError(
            f"QBO_ENVIRONMENT must be one of {', '.join(QBO_ENVIRONMENTS)}; got {environment!r}"
        )

    return Settings(
        mis_database_url=_parse_database_url("MIS_DATABASE_URL", get("MIS_DATABASE_URL")),
        sync_database_url=_parse_database_url("SYNC_DATABASE_URL", get("SYNC_DATABASE_URL")),
        data_dir=Path(get("SYNC_DATA_DIR", DEFAULT_DATA_DIR)),
        qbo_environment=environment,
        qbo_client_id=str(get("QBO_CLIENT_ID", "")),
        qbo_client_secret=Secret(str(get("QBO_CLIENT_SECRET", ""))),
        qbo_redirect_uri=str(get("QBO_REDIRECT_URI", Settings.qbo_redirect_uri)),
        qbo_realm_id=str(get("QBO_REALM_ID", "")),
        qbo_refresh_token=Secret(str(get("QBO_REFRESH_TOKEN", ""))),
        qbo_api_base_url=str(get("QBO_API_BASE_URL", "")),
        qbo_discovery_url=str(get("QBO_DISCOVERY_URL", "")),
        qbo_token_key=Secret(str(get("QBO_TOKEN_KEY", ""))),
        qbo_minor_version=get_int("QBO_MINOR_VERSION", defaults.MINOR_VERSION),
        qbo_requests_per_minute=get_int("QBO_REQUESTS_PER_MINUTE", defaults.REQUESTS_PER_MINUTE),
        qbo_max_concurrent=get_int("QBO_MAX_CONCURRENT", defaults.MAX_CONCURRENT),
        qbo_batch_requests_per_minute=get_int(
            "QBO_BATCH_REQUESTS_PER_MINUTE", defaults.BATCH_REQUESTS_PER_MINUTE
        ),
        qbo_limit_window_margin_s=get_float(
            "QBO_LIMIT_WINDOW_MARGIN_S", defaults.LIMIT_WINDOW_MARGIN_S
        ),
        qbo_limit_window_s=get_float("QBO_LIMIT_WINDOW_S", defaults.LIMIT_WINDOW_S),
        qbo_connect_timeout_s=get_float("QBO_CONNECT_TIMEOUT_S", defaults.CONNECT_TIMEOUT_S),
        qbo_read_timeout_s=get_float("QBO_READ_TIMEOUT_S", defaults.READ_TIMEOUT_S),
        qbo_custom_fields=_parse_custom_fields(get("QBO_CUSTOM_FIELDS")),
        phone_region=str(get("MIS_PHONE_REGION", defaults.PHONE_REGION)).upper(),
        applicants_from=_parse_date("SYNC_APPLICANTS_FROM", get("SYNC_APPLICANTS_FROM")),
        application_statuses=_parse_ints(
            "SYNC_APPLICATION_STATUSES", get("SYNC_APPLICATION_STATUSES")
        ),
        portable_sql=_parse_bool("SYNC_PORTABLE_SQL", get("SYNC_PORTABLE_SQL", False)),
        sync_student_customer=_parse_student_customer(
            get("SYNC_STUDENT_CUSTOMER", defaults.STUDENT_CUSTOMER)
        ),
        sync_notify_urls=_parse_urls(get("SYNC_NOTIFY_URLS")),
        sync_notify_summary=str(get("SYNC_NOTIFY_SUMMARY", "")).strip().lower(),
        qbo_redirect_uri_configured=get("QBO_REDIRECT_URI") is not None,
        dashboard_users=_parse_users(file_values.get("users")),
        oidc_admins=_parse_emails("[roles] admins", roles.get("admins")),
        oidc_operators=_parse_emails("[roles] operators", roles.get("operators")),
    )
