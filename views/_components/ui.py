"""Streamlit glue shared by the pages: the context, sign-in and roles, caches, readable errors.

Pages call the library through the context returned here; they hold no SQL and no HTTP. Every
string from the MIS, QuickBooks, an operator or an error goes through :func:`literal` before a
Markdown-interpreting Streamlit API shows it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from sync_core.domain.access import Actor, Role
from sync_core.domain.errors import ErrorCategory, SyncError
from sync_core.domain.statuses import Outcome, Scope
from sync_core.service import SyncService, open_service
from sync_core.service.changes import ChangesSummary, changes_summary
from sync_core.service.users import (
    Identity,
    SignInMode,
    check_password,
    how_to_sign_in,
    oidc_identity,
    sign_in_mode,
    signed_in_user,
)
from sync_core.service.worklist import preview_with_warnings
from sync_core.settings import Secret, Settings, SettingsError, load_settings
from sync_core.sync.request import SyncRequest
from views._components import present as uh
from views._components.later import Background, Known
from views._components.text import literal

log = logging.getLogger("dashboard")

OPERATOR_KEY = "operator"
SIGNED_IN_KEY = "_signed_in_user"  # the [users.*] username of this browser session
# Counts are read again at least this often: never longer than a run's progress interval (1 s).
COUNTS_TTL_S = 1.0
PREVIEW_TTL_S = 10.0
# The changes since pushed scan every synced record (~4 s for 17,000 on MariaDB): counted in the
# background, again after a run, on request, or when older than a minute (or 10 scans' time).
CHANGES_MAX_AGE_S = 60.0
DEMO_ACTOR = "dashboard user"  # who connects or changes settings in the open demo, unnamed

PAGE_OVERVIEW = "views/overview.py"
PAGE_PREVIEW = "views/preview.py"
PAGE_SYNC = "views/sync.py"
PAGE_RECORDS = "views/records.py"
PAGE_RUNS = "views/runs.py"
PAGE_QUICKBOOKS = "views/quickbooks.py"
PAGE_CHECK = "views/check.py"
PAGE_SCHEDULES = "views/schedules.py"
PAGE_RECONCILE = "views/reconcile.py"


# ---------------------------------------------------------------- settings and context


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


def served_redirect_uri() -> str | None:
    """The QuickBooks page's address as the browser reaches the dashboard (scheme, host, port),
    e.g. ``http://localhost:8502/QuickBooks``; None where the browser did not say."""
    try:
        url = st.context.url
    except Exception:  # outside a browser session
        return None
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}/QuickBooks"


def settings() -> Settings:
    """The configuration, or a readable message and a stopped page when it is wrong.

    In the demo (QuickBooks simulated) without QBO_REDIRECT_URI, the simulator's consent sends
    the browser back to the port the dashboard is actually served on, not to 8501."""
    try:
        found = load_settings()
    except SettingsError as exc:
        st.error("**Configuration problem:** " + literal(exc.describe()))
        st.caption("Fix `.streamlit/secrets.toml` or the environment, then reload the page.")
        st.stop()
    if found.uses_simulator and not found.qbo_redirect_uri_configured:
        served = served_redirect_uri()
        if served and served != found.qbo_redirect_uri:
            found = dataclasses.replace(found, qbo_redirect_uri=served)
    return found


def context() -> SyncService:
    """The process's context for the current configuration; stops the page with a readable
    message when the configuration is wrong or the MIS database cannot be opened."""
    current = settings()
    try:
        ctx = _open_context(_fingerprint(current), current)
    except SyncError as exc:
        show_error(exc)
        st.stop()
    except Exception as exc:  # the database refuses us in a way the library did not foresee
        log.exception("cannot open the MIS database")
        st.error("**Cannot open the MIS database.** " + literal(_describe_failure(exc)))
        st.caption("Check MIS_DATABASE_URL and that the database server is running.")
        st.stop()
    st.session_state["_fingerprint"] = _fingerprint(current)
    return ctx


def require_signed_in() -> None:
    """Nobody gets past this without signing in (app.py shows the sign-in; this is the second
    lock on the same door, for a page run on its own)."""
    if who() is None and mode() is not SignInMode.OPEN:
        st.stop()


def page_context() -> SyncService:
    """What every page calls first: the sign-in check, then the context."""
    require_signed_in()
    return context()


def fingerprint() -> str:
    return st.session_state.get("_fingerprint", "")


# ---------------------------------------------------------------- sign-in and roles


def _auth_section() -> Mapping[str, Any] | None:
    try:
        section = st.secrets.get("auth")
    except Exception:  # no secrets file at all
        return None
    return section if isinstance(section, Mapping) and section else None


def auth_configured() -> bool:
    """Streamlit's OIDC sign-in (``[auth]`` in secrets.toml)."""
    return _auth_section() is not None


def _providers() -> list[str]:
    section = _auth_section() or {}
    return [name for name, value in section.items() if isinstance(value, Mapping)]


def _oidc_logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:
        return False


def login_available() -> bool:
    """Streamlit's st.login needs the Authlib package."""
    return importlib.util.find_spec("authlib") is not None


def mode(current: Settings | None = None) -> SignInMode:
    try:
        current = current or load_settings()
    except SettingsError:
        return SignInMode.REFUSED  # settings() says why
    return sign_in_mode(current, oidc_configured=auth_configured())


def who() -> Identity | None:
    """The person using this browser session, with their role; None before they sign in. In
    the open demo: whoever types a name (maybe none yet), with every role."""
    try:
        current = load_settings()
    except SettingsError:
        return None
    how = sign_in_mode(current, oidc_configured=auth_configured())
    if how is SignInMode.OPEN:
        return Identity(str(st.session_state.get(OPERATOR_KEY) or "").strip(), Role.ADMIN)
    if how is SignInMode.OIDC:
        if not _oidc_logged_in():
            return None
        name = str(st.user.get("name") or "")
        email = str(st.user.get("email") or "")
        return oidc_identity(current, name, email)
    if how is SignInMode.PASSWORD:
        return signed_in_user(current, str(st.session_state.get(SIGNED_IN_KEY) or ""))
    return None


def is_open_demo() -> bool:
    return mode() is SignInMode.OPEN


def operator_name() -> str:
    """Who is pushing: the signed-in user, or in the open demo the name typed in the sidebar."""
    person = who()
    return person.name if person else ""


def actor(fallback_name: str = "") -> Actor:
    """The signed-in person as the library's actor: their name (``pushed_by``) and their role,
    which the library checks on every change. In the open demo ``fallback_name`` stands in
    when nobody typed a name (for connecting QuickBooks, which records no ``pushed_by``)."""
    person = who()
    if person is None:
        return Actor("", Role.VIEWER, "dashboard")
    if mode() is SignInMode.OPEN:
        return Actor(person.name or fallback_name, Role.ADMIN, "dashboard")
    return Actor(person.name, person.role, "dashboard")


def may(role: Role) -> bool:
    """Whether the person may do what needs ``role`` (buttons are disabled otherwise; the
    library refuses it anyway)."""
    return actor(DEMO_ACTOR).may(role)


def role_help(role: Role) -> str | None:
    """The tooltip of a button the person's role does not allow."""
    if may(role):
        return None
    return f"Needs the {role.label} role: ask an administrator."


def missing_operator_text() -> str:
    """Why nothing was pushed when nobody is named (the open demo only)."""
    return (
        "Enter your name under **Operator** in the sidebar before pushing: every push is "
        "recorded in the MIS as `pushed_by`."
    )


def _sign_in() -> None:
    """The sign-in form's callback: the session is the user's once the password matches."""
    username = str(st.session_state.get("signin_username") or "").strip()
    password = str(st.session_state.get("signin_password") or "")
    st.session_state["signin_password"] = ""
    try:
        current = load_settings()
    except SettingsError:
        return
    person = check_password(current, username, password)
    if person is None:
        remember_message("signin", "error", "Wrong username or password.")
        return
    forget_message("signin")
    st.session_state[SIGNED_IN_KEY] = person.username


def sign_out() -> None:
    """Forget everything this session held: the next person starts from the sign-in form."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]


def sign_in_screen(current: Settings) -> None:
    """For a session nobody signed in to yet: the refusal, the OIDC button or the password
    form. Always stops the page: nothing of the MIS shows before someone signs in."""
    how = sign_in_mode(current, oidc_configured=auth_configured())
    st.title("MIS to QuickBooks customer sync")
    if how is SignInMode.REFUSED:
        st.error("**The dashboard cannot open: no way to sign in is configured.**")
        st.code(how_to_sign_in(current), language=None, wrap_lines=True)
        st.stop()
    if how is SignInMode.OIDC:
        if not login_available():
            st.error(
                "**Sign-in is configured (`[auth]` in secrets.toml) but cannot work:** the "
                "Authlib package that Streamlit's sign-in needs is not installed "
                "(`pip install Authlib`)."
            )
            st.stop()
        st.info("Sign in with your university account to use the dashboard.")
        providers = _providers()
        section = _auth_section() or {}
        if providers and "client_id" not in section:
            for provider in providers:
                st.button(
                    f"Sign in with {literal(provider)}",
                    key=f"login-{provider}",
                    on_click=st.login,
                    args=(provider,),
                    type="primary",
                )
        else:
            st.button("Sign in", key="login", on_click=st.login, type="primary")
        st.stop()
    st.info("Sign in to use the dashboard.")
    with st.form("sign_in", enter_to_submit=True):
        st.text_input("Username", key="signin_username", autocomplete="username")
        st.text_input(
            "Password", type="password", key="signin_password", autocomplete="current-password"
        )
        st.form_submit_button("Sign in", type="primary", on_click=_sign_in, key="sign_in")
    show_messages("signin")
    st.stop()


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
    # without the records sharing an identity: no page shows that count, and it is the
    # slowest of them (an unindexed GROUP BY, ~0.9 s on 100,000 applicants)
    return _ctx.analyze(shared_identity=False)


def analysis(ctx: SyncService):
    return _analysis(fingerprint(), data_version(ctx), ctx)


def _preview_details(items: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "kind": i.mapped.kind,
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
        for i in items
    ]


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
        "details": _preview_details(page.items),
    }


def preview_page(
    ctx: SyncService, kind: str, limit: int, offset: int, include_failed: bool
) -> dict[str, Any]:
    return _preview_page(fingerprint(), data_version(ctx), kind, limit, offset, include_failed, ctx)


def preview_warnings_page(
    ctx: SyncService, kind: str, include_failed: bool, after: Any, limit: int
) -> dict[str, Any]:
    """The Preview's "only with warnings": the next ``limit`` records with warnings, found among
    all the records the next sync would send (after ``after``, a cursor of an earlier page)."""
    page = preview_with_warnings(ctx, kind, include_failed=include_failed, after=after, limit=limit)
    field_names = list(page.items[0].mapped.fields) if page.items else []
    return {
        "frame": uh.payload_frame([i.mapped for i in page.items], field_names),
        "details": _preview_details(page.items),
        "next": page.next_cursor,
        "scanned": page.scanned,
        "bounded": page.bounded,
    }


@st.cache_resource(show_spinner=False)
def _changes_background() -> Background[ChangesSummary]:
    return Background(changes_summary, max_age_s=CHANGES_MAX_AGE_S)


def changes(ctx: SyncService, *, hold: bool = False) -> Known[ChangesSummary]:
    """How many synced records changed in the MIS since they were pushed, as far as known now:
    never waits for the scan, which runs in the background (one for the whole process) when
    the value is missing or out of date. ``hold``: keep the value known (a run is going on)."""
    return _changes_background().get(fingerprint(), data_version(ctx), ctx, hold=hold)


def recount_changes() -> None:
    _changes_background().invalidate()


def clear_caches() -> None:
    """After a run ends or a record is pushed: nothing cached may show the old counts."""
    _analysis.clear()
    _preview_page.clear()
    recount_changes()


# ---------------------------------------------------------------- errors


PREFIX_BY_CATEGORY = {
    ErrorCategory.CONFLICT: "Refused: ",
    ErrorCategory.CONFIGURATION: "Configuration problem: ",
    ErrorCategory.PERMISSION: "Not allowed: ",
}


def exception_message(exc: BaseException) -> tuple[str, str | None]:
    """(text, what to do) of any error, as Markdown-safe text: the one place the dashboard
    words them (the error's own words are shown literally)."""
    if isinstance(exc, SyncError):
        text = PREFIX_BY_CATEGORY.get(exc.category, "") + literal(exc.describe())
        return text, exc.what_to_do or None
    return (
        f"Something went wrong ({literal(_describe_failure(exc))}). See the server log.",
        None,
    )


def show_error(exc: BaseException, doing: str | None = None) -> None:
    """A library error as the operator should read it: what happened, then what to do."""
    if not isinstance(exc, SyncError):
        show_unexpected(exc)
        return
    text, hint = exception_message(exc)
    st.error(f"{doing}: {text}" if doing else text)
    if hint:
        st.info("What to do: " + literal(hint))


def show_unexpected(exc: BaseException) -> None:
    """A failure no page expected (the MIS went away, a bug): said plainly, logged in full."""
    log.error("unexpected error", exc_info=exc)
    if getattr(exc, "orig", None) is not None:  # a database driver error, through SQLAlchemy
        st.error("**The MIS database could not be read.** " + literal(_describe_failure(exc)))
        st.caption("Check that the database server is running, then reload the page.")
    else:
        st.error(
            f"**Something went wrong** ({literal(_describe_failure(exc))}). The details are in "
            "the server log; reload the page to try again."
        )


def live(fn: Callable[..., None], run_every: float | None) -> Callable[..., None]:
    """``fn`` as a fragment rerun every ``run_every`` seconds (None: not on its own). An error
    inside it is said like any other (a fragment's errors never reach app.py's guard)."""

    def guarded_fn(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # Streamlit's own control flow (rerun, stop) passes
            show_unexpected(exc)

    guarded_fn.__name__ = fn.__name__
    guarded_fn.__qualname__ = fn.__qualname__
    guarded_fn.__module__ = fn.__module__
    return st.fragment(guarded_fn, run_every=run_every)


def guarded(fn: Callable[..., Any], *args: Any, doing: str | None = None, **kwargs: Any) -> Any:
    """Call a library function; show a readable error instead of raising."""
    try:
        return fn(*args, **kwargs)
    except SyncError as exc:
        show_error(exc, doing)
        return None


def remember_message(key: str, kind: str, text: str, hint: str | None = None) -> None:
    """Keep an outcome across the rerun a callback triggers (shown by :func:`show_messages`).

    ``text`` is Markdown the page wrote (its dynamic parts through :func:`literal`); ``hint``
    is shown literally."""
    st.session_state.setdefault("_messages", {})[key] = (kind, text, hint)


def remember_error(key: str, exc: SyncError) -> None:
    remember_message(key, "error", *exception_message(exc))


def show_messages(key: str) -> None:
    kind, text, hint = st.session_state.get("_messages", {}).get(key, (None, None, None))
    if kind is None:
        return
    {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind](text)
    if hint:
        st.info("What to do: " + literal(hint))


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
            "Record": st.column_config.TextColumn(width="medium"),
            "Name": st.column_config.TextColumn(width="medium"),
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
        code = f" · QuickBooks code {literal(error['code'])}" if error.get("code") else ""
        st.markdown(f"**{literal(label)}** — {literal(error.get('display_name') or '')}{code}")
        (st.error if outcome == Outcome.FAILED else st.info)(literal(error.get("message") or ""))
        if error.get("hint"):
            st.info("What to do: " + literal(error["hint"]))
        st.page_link(
            PAGE_RECORDS,
            label="Open this record",
            icon=":material/person_search:",
            query_params=uh.record_query(error["kind"], error["row_id"]),
        )


def not_connected_notice() -> None:
    st.warning("**QuickBooks not connected: connect first.**")
    st.page_link(PAGE_QUICKBOOKS, label="Connect on the QuickBooks page", icon=":material/link:")


# ---------------------------------------------------------------- the sidebar

# pages that say "not connected" themselves: the sidebar does not say it twice
_SAY_CONNECTION_THEMSELVES = {"Overview", "Sync", "QuickBooks"}


def sidebar(ctx: SyncService, page_url_path: str) -> None:
    current = ctx.settings
    banner = uh.demo_banner(current.uses_demo_database, current.uses_simulator)
    how = mode()
    with st.sidebar:
        if banner:
            st.warning(f"**{banner}**", icon=":material/science:")
        if how is SignInMode.OPEN:
            st.text_input(
                "Operator",
                key=OPERATOR_KEY,
                placeholder="Your name",
                help="Recorded as pushed_by on every record you push. Needed before a push. "
                "(The demo asks for no sign-in; with QuickBooks in sandbox or production "
                "everyone signs in.)",
            )
        else:
            person = who()
            if person is not None:
                st.markdown(
                    f"Signed in as **{literal(person.name)}** · {person.role.label}",
                    help="viewer: sees everything, pushes nothing · operator: syncs, retries, "
                    "pushes · admin: also connects QuickBooks and manages schedules",
                )
                st.button(
                    "Sign out",
                    on_click=st.logout if how is SignInMode.OIDC else sign_out,
                    key="sign_out",
                )
        status = connection_status(ctx)
        if status is not None:
            if status.connected:
                st.caption(
                    ":material/check_circle: QuickBooks connected · realm "
                    + literal(status.realm_id)
                )
            elif page_url_path not in _SAY_CONNECTION_THEMSELVES:
                st.caption(":material/link_off: QuickBooks not connected")
        active = ctx.active_run()
        if active is not None:
            st.caption(
                f":material/hourglass_top: Sync running (run {active.id}, by "
                f"{literal(active.operator)})"
            )
            st.page_link(PAGE_SYNC, label="Watch it on the Sync page")


# ---------------------------------------------------------------- runs of chosen records


def sync_chosen(ctx: SyncService, records: list[tuple[str, int]], key: str) -> None:
    """Start one run of exactly these records (a selection on the Preview or Records page);
    the outcome is remembered under ``key`` and the run is watched on the Sync page."""
    forget_message(key)
    st.session_state.pop(f"{key}:run", None)
    operator = operator_name()
    if not operator and is_open_demo():
        remember_message(key, "error", missing_operator_text())
        return
    try:
        request = SyncRequest(scope=Scope.RECORD, operator=operator or "-", records=tuple(records))
        run_id = ctx.start_sync(request, actor())
    except SyncError as exc:
        remember_error(key, exc)
        return
    if run_id is None:
        remember_message(key, "info", "Nothing to sync: none of these records waits.")
        return
    clear_caches()
    st.session_state[f"{key}:run"] = run_id
    remember_message(
        key,
        "success",
        f"Run {run_id} started by {literal(operator)}: {uh.plural(len(records), 'chosen record')}.",
    )


def show_chosen_run(key: str) -> None:
    """The outcome of :func:`sync_chosen`, with the way to watch its run."""
    show_messages(key)
    if st.session_state.get(f"{key}:run"):
        st.page_link(PAGE_SYNC, label="Watch it on the Sync page", icon=":material/sync:")
