"""QuickBooks: the connection to the company (connect, callback, status, disconnect)."""

from __future__ import annotations

import html
import time

import streamlit as st

from sync_core.domain.access import Role
from sync_core.domain.errors import SyncError
from views._components import present as uh
from views._components import ui
from views._components.text import literal

ctx = ui.page_context()
tz = ui.timezone()
URL_TTL_S = 600  # Intuit's state is valid 15 minutes; a fresh URL well before that
CONNECTION_ACTOR = ui.DEMO_ACTOR  # who connects in the open demo, when nobody typed a name

st.title("QuickBooks")


def handle_callback() -> None:
    """Intuit sent the operator back here with ?code=&state=&realmId= (or ?error=)."""
    params = st.query_params.to_dict()
    st.query_params.clear()  # never keep a code in the address bar, and never use it twice
    st.session_state.pop("_auth_url", None)
    if params.get("error"):
        ui.remember_message(
            "qbo", "error", f"Intuit answered “{literal(params['error'])}”: nothing was connected."
        )
        return
    try:
        status = ctx.complete_authorization(
            ui.actor(CONNECTION_ACTOR),
            params.get("code", ""),
            params.get("state", ""),
            params.get("realmId", ""),
        )
    except SyncError as exc:
        ui.remember_error("qbo", exc)
        return
    ui.remember_message(
        "qbo", "success", f"Connected to QuickBooks company {literal(status.realm_id)}."
    )


def authorization_url(fresh: bool = False) -> str | None:
    """The consent URL, made once per session (each carries a state kept server-side)."""
    made = st.session_state.get("_auth_url")
    if made and not fresh and time.time() - made[1] < URL_TTL_S:
        return made[0]
    url = ui.guarded(
        ctx.authorization_url, ui.actor(CONNECTION_ACTOR), doing="Preparing the connection"
    )
    if url:
        st.session_state["_auth_url"] = (url, time.time())
    return url


def connect_link(label: str) -> None:
    url = authorization_url()
    if not url:
        return
    # Same tab: Intuit sends the operator back to this page, which completes the connection.
    st.markdown(
        f'<a href="{html.escape(url, quote=True)}" target="_self" class="qbo-connect">'
        f"<strong>{html.escape(label)}</strong></a>",
        unsafe_allow_html=True,
    )
    where = (
        "(QBO_REDIRECT_URI)"
        if ctx.settings.qbo_redirect_uri_configured
        else "(the address this dashboard is served on; QBO_REDIRECT_URI sets another)"
    )
    st.caption(
        "Intuit asks you to approve access, then sends you back to "
        f"{literal(ctx.settings.qbo_redirect_uri)} {where}."
    )


def disconnect() -> None:
    st.session_state["_confirm_disconnect"] = False
    try:
        warning = ctx.disconnect(ui.actor(CONNECTION_ACTOR))
    except SyncError as exc:
        ui.remember_error("qbo", exc)
        return
    st.session_state.pop("_auth_url", None)
    if warning:
        ui.remember_message(
            "qbo",
            "warning",
            f"Disconnected here. {literal(warning)}: revoke the app in QuickBooks too.",
        )
    else:
        ui.remember_message("qbo", "success", "Disconnected: the app's access was revoked.")


def ask_to_confirm(value: bool) -> None:
    ui.forget_message("qbo")
    st.session_state["_confirm_disconnect"] = value


params = st.query_params
if any(k in params for k in ("code", "state", "realmId", "error")):
    handle_callback()
    st.rerun()  # the sidebar (drawn before this page) shows the new connection too
ui.show_messages("qbo")
is_admin = ui.may(Role.ADMIN)

try:
    simulator = ctx.embedded_simulator
except SyncError as exc:
    ui.show_error(exc, "QuickBooks is not configured")
    st.stop()

status = ui.connection_status(ctx)
if status is None:
    st.stop()
if ctx.bootstrap_error:
    st.error("The automatic connection failed: " + literal(ctx.bootstrap_error))

left, right = st.columns([3, 2])
with left:
    st.subheader("Connection")
    if status.connected:
        st.success(f"Connected to realm **{literal(status.realm_id)}** ({status.environment})")
        rows = {
            "Realm (company id)": status.realm_id,
            "Environment": status.environment,
            "Connected at": uh.format_time(status.connected_at, tz),
            "Token last refreshed": uh.format_time(status.refreshed_at, tz),
            "Access token valid until": uh.format_time(status.access_expires_at, tz),
            "Refresh token valid until": uh.format_time(status.refresh_expires_at, tz),
        }
        if status.last_error:
            rows["Last error"] = status.last_error
        st.dataframe(uh.describe_frame(rows), hide_index=True, key="qbo_status")
        st.caption("Tokens are stored encrypted and never shown.")

        active = ctx.active_run()
        if active is not None:
            st.info(
                f"A sync (run {active.id}, by {literal(active.operator)}) is running: "
                "disconnect after it ends or is cancelled."
            )
        elif not st.session_state.get("_confirm_disconnect"):
            st.button(
                "Disconnect…",
                on_click=ask_to_confirm,
                args=(True,),
                key="disconnect",
                disabled=not is_admin,
                help=ui.role_help(Role.ADMIN),
            )
        else:
            st.warning(
                f"Disconnect from realm {literal(status.realm_id)}? Access is revoked at Intuit; "
                "no sync or push is possible until someone connects again. Customers already "
                "created stay in QuickBooks."
            )
            c1, c2, _ = st.columns([1, 1, 2])
            c1.button(
                "Yes, disconnect",
                type="primary",
                on_click=disconnect,
                key="confirm",
                disabled=not is_admin,
            )
            c2.button("Keep connected", on_click=ask_to_confirm, args=(False,), key="keep")
        if is_admin:
            with st.expander("Connect a different company"):
                connect_link("Connect to QuickBooks")
    else:
        st.warning("**QuickBooks not connected: connect first.**")
        if status.last_error:
            st.error(literal(status.last_error))
        if is_admin:
            connect_link("Connect to QuickBooks")
    if not is_admin:
        st.caption("Connecting and disconnecting QuickBooks needs the admin role.")

with right:
    if simulator is not None:
        st.subheader("Simulated QuickBooks")
        st.caption("The demo runs an embedded QuickBooks simulator: no real company is touched.")
        try:
            customers = f"{simulator.inspect().customer_count:,}"
        except Exception:  # the simulator is a demo aid: never let it break the page
            customers = "unknown"
        st.dataframe(
            uh.describe_frame(
                {
                    "Company": simulator.config.company_name,
                    "Realm": simulator.config.realm_id,
                    "URL": simulator.base_url,
                    "Customers": customers,
                }
            ),
            hide_index=True,
            key="simulator",
        )
    st.subheader("Configuration")
    st.dataframe(uh.describe_frame(ctx.describe_configuration()), hide_index=True, key="settings")
    st.caption("No secret is shown: only whether it is set.")
