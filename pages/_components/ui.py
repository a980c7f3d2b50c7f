"""Streamlit glue shared by the pages: the context, login and operator, caches, readable errors.

Pages call the library through the context returned here; they hold no SQL and no HTTP.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import logging
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from pages._components import present as uh
from sync_core.domain.access import Actor, Role
from sync_core.domain.errors import ErrorCategory, SyncError
from sync_core.domain.statuses import Outcome
from sync_core.service import SyncService, open_service
from sync_core.settings import Secret, Settings, SettingsError, load_settings

log = logging.getLogger("dashboard")

OPERATOR_KEY = "operator"
# Counts are read again at least this often: never longer than a run's progress interval (1 s).
COUNTS_TTL_S = 1.0
PREVIEW_TTL_S = 10.0

PAGE_OVERVIEW = "pages/overview.py"
PAGE_PREVIEW = "pages/preview.py"
PAGE_SYNC = "pages/sync.py"
PAGE_RECORDS = "pages/records.py"
PAGE_RUNS = "pages/runs.py"
PAGE_QUICKBOOKS = "pages/quickbooks.py"


# ---------------------------------------------------------------- context


def _fingerprint(settings: Settings) -> str:
    """Identifies a configuration (secrets included, hashed) so that a change of settings, or a
    test's fresh data folder, gets its own context instead of a stale one."""
    parts = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, Secret):
            value = value.reveal()
        elif isinstance(value, Mapping):
            value = sorted(value.items())
        parts.append(f"{f.name}={value!r}")
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


@st.cache_resource(show_spinner="Opening the MIS database…")
def _open_context(fingerprint: str, _settings: Settings) -> SyncService:
    return open_service(_settings)


def _describe_failure(exc: BaseException) -> str:
    """One readable line for a failure to reach the database (never a URL or a traceback)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(orig or exc).__name__}: {text[0] if text else ''}".strip(": ")


def context() -> SyncService:
    """The process's context for the current configuration; stops the page with a readable
    message when the configuration is wrong or the MIS database cannot be opened."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        st.error(f"**Configuration problem:** {exc}")
        st.caption("Fix `.streamlit/secrets.toml` or the environment, then reload the page.")
        st.stop()
    try:
        ctx = _open_context(_fingerprint(settings), settings)
    except SyncError as exc:
        show_error(exc)
        st.stop()
    except Exception as exc:  # the database refuses us in a way the library did not foresee
        log.exception("cannot open the MIS database")
        st.error(f"**Cannot open the MIS database.** {_describe_failure(exc)}")
        st.caption("Check MIS_DATABASE_URL and that the database server is running.")
        st.stop()
    st.session_state["_fingerprint"] = _fingerprint(settings)
    return ctx


def page_context() -> SyncService:
    """What every page calls first: the login gate (when OIDC is configured), then the context."""
    require_login()
    return context()


def fingerprint() -> str:
    return st.session_state.get("_fingerprint", "")


# ---------------------------------------------------------------- login and operator


def _auth_section() -> Mapping[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return None
    return section if isinstance(section, Mapping) and section else None


def auth_configured() -> bool:
    return _auth_section() is not None


def _providers() -> list[str]:
    section = _auth_section() or {}
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def _logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:
        return False


def login_available() -> bool:
    """Streamlit's st.login needs the Authlib package."""
    return importlib.util.find_spec("authlib") is not None


def require_login() -> None:
    """With an ``[auth]`` section, nobody sees MIS data before logging in."""
    if not auth_configured() or _logged_in():
        return
    st.title("MIS to QuickBooks customer sync")
    if not login_available():
        st.error(
            "**Login is configured (`[auth]` in secrets.toml) but cannot work:** the Authlib "
            "package that Streamlit's login needs is not installed (`pip install Authlib`)."
        )
        st.stop()
    st.info("Log in with your university account to use the dashboard.")
    providers = _providers()
    section = _auth_section() or {}
    if providers and "client_id" not in section:
        for provider in providers:
            st.button(
                f"Log in with {provider}",
                key=f"login-{provider}",
                on_click=st.login,
                args=(provider,),
                type="primary",
            )
    else:
        st.button("Log in", key="login", on_click=st.login, type="primary")
    st.stop()


def operator_name() -> str:
    """Who is pushing: the logged-in user (OIDC), else the name typed in the sidebar."""
    if auth_configured():
        if not _logged_in():
            return ""
        name = st.user.get("name") or st.user.get("email") or ""
        return str(name).strip()
    return str(st.session_state.get(OPERATOR_KEY) or "").strip()


def actor(fallback_name: str = "") -> Actor:
    """The signed-in user (or, in the open demo, the name typed in the sidebar) as the library's
    actor. Roles come with sign-in; the open demo lets whoever uses it do everything."""
    return Actor(operator_name() or fallback_name, Role.ADMIN, "dashboard")


def refuse_without_operator() -> str | None:
    """The operator's name, or None after telling them why nothing was pushed."""
    name = operator_name()
    if name:
        return name
    if auth_configured():
        st.error("Log in before pushing: every push records who made it.")
    else:
        st.error(
            "Enter your name under **Operator** in the sidebar before pushing: every push is "
            "recorded in the MIS as `pushed_by`."
        )
    return None


# ---------------------------------------------------------------- cached reads


def data_version(ctx: SyncService) -> tuple:
    """Changes whenever a run (a full sync or a one-record push, from any browser or the CLI)
    makes progress or ends: cached counts and previews are keyed by it, so they are never older
    than the last progress a run published."""
    return ctx.data_version()


# A resource cache (shared, not pickled): SyncAnalysis is immutable, and copying it would tie the
# cache to the exact class object of the library module.
@st.cache_resource(ttl=COUNTS_TTL_S, show_spinner=False, max_entries=64)
def _analysis(fingerprint: str, version: tuple, _ctx: SyncService):
    return _ctx.analyze()


def analysis(ctx: SyncService):
    return _analysis(fingerprint(), data_version(ctx), ctx)


@st.cache_data(ttl=PREVIEW_TTL_S, show_spinner="Mapping records…", max_entries=256)
def _preview_page(
    fingerprint: str,
    version: tuple,
    kind: str,
    limit: int,
    offset: int,
    include_failed: bool,
    _ctx: SyncService,
) -> dict[str, Any]:
    page = _ctx.preview(kind, limit=limit, offset=offset, include_failed=include_failed)
    field_names = list(page.items[0].mapped.fields) if page.items else []
    return {
        "total": page.total,
        "field_names": field_names,
        "frame": uh.payload_frame([i.mapped for i in page.items], field_names),
        "details": [
            {
                "row_id": i.mapped.row_id,
                "reference": i.mapped.reference,
                "display_name": i.mapped.display_name,
                "status": i.source.status,
                "source": uh.jsonable(i.source.row),
                "payload": i.mapped.payload,
                "warnings": list(i.mapped.warnings),
                "error": i.mapped.error,
                "placement": uh.placement_frame(i.mapped),
            }
            for i in page.items
        ],
    }


def preview_page(
    ctx: SyncService, kind: str, limit: int, offset: int, include_failed: bool
) -> dict[str, Any]:
    return _preview_page(fingerprint(), data_version(ctx), kind, limit, offset, include_failed, ctx)


def clear_caches() -> None:
    """After a run ends or a record is pushed: nothing cached may show the old counts."""
    _analysis.clear()
    _preview_page.clear()


# ---------------------------------------------------------------- errors


PREFIX_BY_CATEGORY = {
    ErrorCategory.CONFLICT: "Refused: ",
    ErrorCategory.CONFIGURATION: "Configuration problem: ",
    ErrorCategory.PERMISSION: "Not allowed: ",
}


def exception_message(exc: BaseException) -> tuple[str, str | None]:
    """(text, what to do) of any error: the one place the dashboard words them."""
    if isinstance(exc, SyncError):
        text = PREFIX_BY_CATEGORY.get(exc.category, "") + exc.describe()
        return text, exc.what_to_do or None
    return f"Something went wrong ({_describe_failure(exc)}). See the server log.", None


def show_error(exc: BaseException, doing: str | None = None) -> None:
    """A library error as the operator should read it: what happened, then what to do."""
    if not isinstance(exc, SyncError):
        show_unexpected(exc)
        return
    text, hint = exception_message(exc)
    st.error(f"{doing}: {text}" if doing else text)
    if hint:
        st.info(f"What to do: {hint}")


def show_unexpected(exc: BaseException) -> None:
    """A failure no page expected (the MIS went away, a bug): said plainly, logged in full."""
    log.error("unexpected error", exc_info=exc)
    if getattr(exc, "orig", None) is not None:  # a database driver error, through SQLAlchemy
        st.error(f"**The MIS database could not be read.** {_describe_failure(exc)}")
        st.caption("Check that the database server is running, then reload the page.")
    else:
        st.error(
            f"**Something went wrong** ({_describe_failure(exc)}). The details are in the "
            "server log; reload the page to try again."
        )


def guarded(fn: Callable[..., Any], *args: Any, doing: str | None = None, **kwargs: Any) -> Any:
    """Call a library function; show a readable error instead of raising."""
    try:
        return fn(*args, **kwargs)
    except SyncError as exc:
        show_error(exc, doing)
        return None


def remember_message(key: str, kind: str, text: str, hint: str | None = None) -> None:
    """Keep an outcome across the rerun a callback triggers (shown by :func:`show_messages`)."""
    st.session_state.setdefault("_messages", {})[key] = (kind, text, hint)


def show_messages(key: str) -> None:
    kind, text, hint = st.session_state.get("_messages", {}).get(key, (None, None, None))
    if kind is None:
        return
    {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind](text)
    if hint:
        st.info(f"What to do: {hint}")


def forget_message(key: str) -> None:
    st.session_state.get("_messages", {}).pop(key, None)


# ---------------------------------------------------------------- small shared widgets


def timezone() -> str | None:
    try:
        return st.context.timezone
    except Exception:
        return None


def connection_status(ctx: SyncService):
    """The QuickBooks connection's status, or None after showing why it cannot be read."""
    try:
        return ctx.connection_status()
    except SyncError as exc:
        show_error(exc, "QuickBooks connection")
        return None


def error_table(errors: list[dict[str, Any]], key: str, outcome: str = Outcome.FAILED) -> None:
    """A run's errors or notices; selecting one shows it in full, with a link to its record
    (in this session, so the operator's name stays)."""
    frame = uh.errors_frame(errors, outcome)
    event = st.dataframe(
        frame,
        hide_index=True,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Message": st.column_config.TextColumn(width="large"),
            "What to do": st.column_config.TextColumn(width="medium"),
        },
    )
    rows = event.selection.rows
    if not rows or rows[0] >= len(errors):
        st.caption("Select a row to read it in full and open the record.")
        return
    error = errors[rows[0]]
    with st.container(border=True):
        label = uh.record_label(error["kind"], error.get("identity"), error.get("row_id"))
        code = f" · QuickBooks code {error['code']}" if error.get("code") else ""
        st.markdown(f"**{label}** — {error.get('display_name') or ''}{code}")
        (st.error if outcome == Outcome.FAILED else st.info)(error.get("message") or "")
        if error.get("hint"):
            st.info(f"What to do: {error['hint']}")
        st.page_link(
            PAGE_RECORDS,
            label="Open this record",
            icon=":material/person_search:",
            query_params=uh.record_query(error["kind"], error["row_id"]),
        )


def not_connected_notice() -> None:
    st.warning("**QuickBooks not connected: connect first.**")
    st.page_link(PAGE_QUICKBOOKS, label="Connect on the QuickBooks page", icon=":material/link:")
