"""Preview: the exact Customer payloads the next sync would send, a page at a time."""

from __future__ import annotations

import math

import streamlit as st

from pages._components import present as uh
from pages._components import ui

ctx = ui.page_context()

KINDS = {"applicant": "Applicants", "student": "Students"}
PAGE_SIZES = [10, 25, 50, 100]  # the seed's rule: at most 100 a page

st.title("Preview")
for warning in ctx.schema_warnings():  # what the MIS lacks, for every record
    st.warning(warning, icon=":material/table_view:")
st.caption(
    "What the next sync would send to QuickBooks for records not synced yet, exactly as sent."
)
st.info(uh.CUSTOM_FIELDS_NOTICE, icon=":material/info:")

c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
kind = c1.segmented_control(
    "Type",
    list(KINDS),
    format_func=KINDS.get,
    default="applicant",
    required=True,
    key="kind",
    bind="query-params",
)
limit = c2.selectbox("Rows per page", PAGE_SIZES, index=1, key="preview_limit")
only_warnings = c3.toggle("Only with warnings", key="preview_warnings")
include_failed = c4.toggle(
    "Include failed", key="preview_failed", help="Also show records whose last push failed."
)

# Page 1 first; the page number is kept while the filters stay the same.
total_key = (kind, limit, include_failed)
first = ui.preview_page(ctx, kind, limit, 0, include_failed)
if first["total"] == 0:
    st.success(
        f"Nothing to preview: every {kind} is synced"
        + ("" if include_failed else " or failed (switch on **Include failed** to see those)")
        + "."
    )
    st.stop()
pages = max(1, math.ceil(first["total"] / limit))
if st.session_state.get("_preview_filters") != total_key:
    st.session_state["_preview_filters"] = total_key
    st.session_state["preview_page"] = 1
elif st.session_state.get("preview_page", 1) > pages:  # fewer records since (a sync ran)
    st.session_state["preview_page"] = pages
page_no = st.number_input(
    f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key="preview_page"
)
offset = (int(page_no) - 1) * limit
data = first if offset == 0 else ui.preview_page(ctx, kind, limit, offset, include_failed)

frame = data["frame"]
details = data["details"]
if only_warnings:
    keep = [i for i, d in enumerate(details) if d["warnings"] or d["error"]]
    frame = frame.iloc[keep].reset_index(drop=True)
    details = [details[i] for i in keep]

shown_to = min(offset + limit, data["total"])
st.caption(
    f"{KINDS[kind]} {offset + 1:,}–{shown_to:,} of {data['total']:,}"
    + (f" · {len(details):,} on this page with warnings" if only_warnings else "")
    + " · select a row to see its source, payload and warnings."
)
if not details:
    st.info("No record on this page has warnings.")
    st.stop()

event = st.dataframe(
    frame,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key=f"preview_table:{kind}:{limit}:{offset}:{only_warnings}:{include_failed}",
    column_config={
        "Row": st.column_config.NumberColumn(help="Row id in the MIS table", format="%d"),
        "Warnings": st.column_config.TextColumn(width="large"),
        "Cannot send": st.column_config.TextColumn(width="medium"),
    },
)
if not event.selection.rows:
    st.stop()

detail = details[event.selection.rows[0]]
with st.container(border=True):
    st.subheader(f"{detail['reference']} — {detail['display_name']}")
    if detail["error"]:
        st.error(f"Cannot be sent: {detail['error']}")
    if detail["warnings"]:
        st.warning("\n".join(f"- {w}" for w in detail["warnings"]))
    else:
        st.success("No warnings: the record maps cleanly.")
    left, right = st.columns(2)
    with left:
        st.markdown("**Payload** (JSON sent to QuickBooks)")
        st.json(detail["payload"])
        st.markdown("**Where each custom field goes**")
        st.dataframe(detail["placement"], hide_index=True, key="preview_placement")
    with right:
        st.markdown("**Source row in the MIS**")
        st.json(detail["source"], expanded=True)
