"""The operator dashboard: `streamlit run app.py`.

Shared frame for every page (login gate, demo banner, operator, connection and running sync in
the sidebar), then the page the URL names: / Overview, /Preview, /Sync, /Records, /Runs,
/QuickBooks.
"""

from __future__ import annotations

import streamlit as st

from pages._components import present as uh
from pages._components import ui

st.set_page_config(
    page_title="MIS → QuickBooks customers", page_icon=":material/sync_alt:", layout="wide"
)

PAGES = [
    st.Page(
        ui.PAGE_OVERVIEW,
        title="Overview",
        icon=":material/dashboard:",
        url_path="Overview",
        default=True,
    ),
    st.Page(ui.PAGE_PREVIEW, title="Preview", icon=":material/preview:", url_path="Preview"),
    st.Page(ui.PAGE_SYNC, title="Sync", icon=":material/sync:", url_path="Sync"),
    st.Page(ui.PAGE_RECORDS, title="Records", icon=":material/person_search:", url_path="Records"),
    st.Page(ui.PAGE_RUNS, title="Runs", icon=":material/history:", url_path="Runs"),
    st.Page(ui.PAGE_QUICKBOOKS, title="QuickBooks", icon=":material/link:", url_path="QuickBooks"),
    st.Page("pages/check.py", title="Check", icon=":material/fact_check:", url_path="Check"),
    st.Page(
        "pages/schedules.py", title="Schedules", icon=":material/schedule:", url_path="Schedules"
    ),
]

if ui.auth_configured() and not ui._logged_in():
    # Only the login screen exists until the user has logged in.
    st.navigation([st.Page(ui.require_login, title="Log in", url_path="login")]).run()
    st.stop()

page = st.navigation(PAGES)
# The Check page works also when the MIS cannot be opened for syncing (that is when it helps).
opens_service = page.url_path != "Check"
ctx = ui.context() if opens_service else None


def sidebar() -> None:
    if ctx is None:
        return
    settings = ctx.settings
    banner = uh.demo_banner(settings.uses_demo_database, settings.uses_simulator)
    with st.sidebar:
        if banner:
            st.warning(f"**{banner}**", icon=":material/science:")
        if ui.auth_configured():
            st.markdown(f"Signed in as **{ui.operator_name() or 'unknown'}**")
            st.button("Log out", on_click=st.logout, key="logout")
        else:
            st.text_input(
                "Operator",
                key=ui.OPERATOR_KEY,
                placeholder="Your name",
                help="Recorded as pushed_by on every record you push. Needed before a push.",
            )
        status = ui.connection_status(ctx)
        if status is not None:
            if status.connected:
                st.caption(
                    f":material/check_circle: QuickBooks connected · realm {status.realm_id}"
                )
            else:
                st.caption(":material/link_off: QuickBooks not connected")
        active = ctx.active_run()
        if active is not None:
            st.caption(
                f":material/hourglass_top: Sync running (run {active.id}, by {active.operator})"
            )
            st.page_link(ui.PAGE_SYNC, label="Watch it on the Sync page")


sidebar()
try:
    page.run()
except Exception as exc:  # never a traceback on screen; Streamlit's own control flow passes
    ui.show_unexpected(exc)
