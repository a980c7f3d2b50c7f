"""The operator dashboard: `streamlit run app.py`.

Shared frame for every page (sign-in, demo banner, the signed-in person or the demo's operator,
connection and running sync in the sidebar), then the page the URL names: / Overview, /Preview,
/Sync, /Records, /Runs, /QuickBooks, /Reconcile, /Check, /Schedules.

The pages live in ``views/``, not ``pages/``: Streamlit treats a ``pages/`` folder next to the
main script as an old-style multipage app on the first visit after a start, listing its files
in the sidebar, saying "Page not found" for a deep link, and running a page's file without this
frame for a lower-case address.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sync_core.service.users import SignInMode
from views._components import ui

# a local icon: a Material icon as page_icon makes the browser fetch it from Google's servers
ICON = Path(__file__).resolve().parent / "views" / "_components" / "icon.png"
st.set_page_config(page_title="MIS → QuickBooks customers", page_icon=str(ICON), layout="wide")

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
    st.Page(ui.PAGE_RECONCILE, title="Reconcile", icon=":material/rule:", url_path="Reconcile"),
    st.Page(ui.PAGE_CHECK, title="Check", icon=":material/fact_check:", url_path="Check"),
    st.Page(ui.PAGE_SCHEDULES, title="Schedules", icon=":material/schedule:", url_path="Schedules"),
]

settings = ui.settings()
signed_in = ui.mode(settings) is SignInMode.OPEN or ui.who() is not None
# Before sign-in the pages are registered but not listed: the address (a deep link such as
# /Runs?run=12) is kept, and after sign-in the page it names opens.
page = st.navigation(PAGES, position="sidebar" if signed_in else "hidden")
if not signed_in:
    ui.sign_in_screen(settings)

# The Check page works also when the MIS cannot be opened for syncing (that is when it helps).
if page.url_path != "Check":
    ui.sidebar(ui.context(), page.url_path)
try:
    page.run()
except Exception as exc:  # never a traceback on screen; Streamlit's own control flow passes
    ui.show_unexpected(exc)
