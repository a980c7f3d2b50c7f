"""Preview: the exact Customer payloads the next sync would send, a page at a time; or only
the records with warnings, found among all records; chosen records synced on their own. Or the
changes of records already pushed, field by field, that a sync with updates would send."""

from __future__ import annotations

import math

import streamlit as st

from sync_core.domain.access import Role
from views._components import present as uh
from views._components import ui
from views._components.changes import changes_section
from views._components.text import literal

ctx = ui.page_context()

KINDS = {"applicant": "Applicants", "student": "Students"}
PAGE_SIZES = [10, 25, 50, 100]  # the seed's rule: at most 100 a page
CHOSEN = "preview_chosen"

st.title("Preview")
for warning in ctx.schema_warnings():  # what the MIS lacks, for every record
    st.warning(literal(warning), icon=":material/table_view:")
st.caption(
    "What the next sync would send to QuickBooks for records not synced yet, exactly as sent."
)
st.info(uh.CUSTOM_FIELDS_NOTICE, icon=":material/info:")
WHAT = {"new": "New records", "changes": "Changes since pushed"}
what = st.segmented_control(
    "Show",
    list(WHAT),
    format_func=WHAT.get,
    default="new",
    required=True,
    key="preview_what",
    help="New records: the customers the next sync creates. Changes since pushed: records "
    "already in QuickBooks whose MIS data changed, field by field (sent by a sync with updates).",
)
if what == "changes":
    changes_section(ctx, "preview_changes")
    st.stop()

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
only_warnings = c3.toggle(
    "Only with warnings",
    key="preview_warnings",
    help="Among all the records the next sync would send, not only this page.",
)
include_failed = c4.toggle(
    "Include failed", key="preview_failed", help="Also show records whose last push failed."
)


# ---------------------------------------------------------------- paging by keyset


@st.cache_data(ttl=ui.PREVIEW_TTL_S, show_spinner="Mapping records…", max_entries=256)
def _keyset_page(
    fingerprint: str,
    version: tuple,
    kind: str,
    limit: int,
    include_failed: bool,
    total: int,
    where: tuple,
    _ctx,
) -> dict:
    where_ = dict(where)
    page = _ctx.preview(kind, limit=limit, include_failed=include_failed, total=total, **where_)
    field_names = list(page.items[0].mapped.fields) if page.items else []
    return {
        "total": page.total,
        "frame": uh.payload_frame([i.mapped for i in page.items], field_names),
        "details": ui._preview_details(page.items),
    }


def keyset_page(number: int, pages: int, total: int) -> dict:
    """Page ``number`` after (or before) a page already seen, as Next and Previous go, and the
    last page from the end: each as fast at any depth. Only a jump far from every page seen
    skips records by offset. The total is the first page's (a recent analysis's), not counted
    again."""
    seen = st.session_state.setdefault("_preview_seen", {})
    if first["details"]:
        seen[1] = (first["details"][0]["row_id"], first["details"][-1]["row_id"])
    if number - 1 in seen:
        where: dict = {"after": seen[number - 1][1]}
    elif number + 1 in seen:
        where = {"before": seen[number + 1][0]}
    elif number == pages:
        where = {"last": True}
    else:
        where = {"offset": (number - 1) * limit}
    size = total - (pages - 1) * limit if number == pages and "after" not in where else limit
    fp, version = ui.fingerprint(), ui.data_version(ctx)
    page = _keyset_page(fp, version, kind, size, include_failed, total, tuple(where.items()), ctx)
    rows = [d["row_id"] for d in page["details"]]
    if rows:
        seen[number] = (rows[0], rows[-1])
    return page


first = ui.preview_page(ctx, kind, limit, 0, include_failed)
if first["total"] == 0:
    st.success(
        f"Nothing to preview: every {kind} is synced"
        + ("" if include_failed else " or failed (switch on **Include failed** to see those)")
        + "."
    )
    st.stop()

filters = (kind, limit, include_failed, only_warnings)
if st.session_state.get("_preview_filters") != filters:
    st.session_state["_preview_filters"] = filters
    st.session_state["preview_page"] = 1
    st.session_state["_warning_pages"] = [None]  # where each page of warnings starts
    st.session_state["_preview_seen"] = {}  # page number -> its first and last row id

if only_warnings:
    starts = st.session_state.setdefault("_warning_pages", [None])
    data = ui.preview_warnings_page(ctx, kind, include_failed, starts[-1], limit)
    number = len(starts)
    st.caption(
        f"{KINDS[kind]} with warnings, page {number}: "
        f"{uh.plural(len(data['details']), 'record')} found among "
        f"{uh.plural(data['scanned'], 'record')} looked at (of {first['total']:,} waiting)"
        + (
            " · the search stopped there: go on with Next."
            if data["bounded"] and len(data["details"]) < limit
            else ""
        )
    )
    prev_col, next_col, _ = st.columns([1, 1, 4])
    prev_col.button(
        "Previous",
        key="warnings_previous",
        disabled=number == 1,
        on_click=lambda: st.session_state["_warning_pages"].pop(),
    )
    next_col.button(
        "Next",
        key="warnings_next",
        disabled=data["next"] is None,
        on_click=lambda: st.session_state["_warning_pages"].append(data["next"]),
    )
    table_key = f"preview_table:{kind}:{limit}:warnings:{number}:{include_failed}"
else:
    pages = max(1, math.ceil(first["total"] / limit))
    if st.session_state.get("preview_page", 1) > pages:  # fewer records since (a sync ran)
        st.session_state["preview_page"] = pages
    page_no = st.number_input(
        f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key="preview_page"
    )
    offset = (int(page_no) - 1) * limit
    data = first if offset == 0 else keyset_page(int(page_no), pages, first["total"])
    shown_to = min(offset + limit, data["total"])
    st.caption(
        f"{KINDS[kind]} {offset + 1:,}–{shown_to:,} of {data['total']:,} · select a row to see "
        "its source, payload and warnings; select several to sync them now."
    )
    table_key = f"preview_table:{kind}:{limit}:{offset}:{include_failed}"

details = data["details"]
if not details:
    st.info(
        f"No {kind} the next sync would send has warnings."
        if only_warnings
        else "No record on this page."
    )
    st.stop()

event = st.dataframe(
    data["frame"],
    hide_index=True,
    on_select="rerun",
    selection_mode="multi-row",
    key=table_key,
    column_config={
        "Row": st.column_config.NumberColumn(help="Row id in the MIS table", format="%d"),
        "Warnings": st.column_config.TextColumn(width="large"),
        "Cannot send": st.column_config.TextColumn(width="medium"),
    },
)
selected = [details[i] for i in event.selection.rows if i < len(details)]

if selected:
    chosen = [(d["kind"], d["row_id"]) for d in selected]
    st.button(
        f"Sync the {uh.plural(len(chosen), 'selected record')} now",
        key="sync_chosen",
        type="primary",
        on_click=ui.sync_chosen,
        args=(ctx, chosen, CHOSEN),
        disabled=not ui.may(Role.OPERATOR),
        help=ui.role_help(Role.OPERATOR)
        or "One run of exactly these records, through the same engine as a full sync.",
    )
ui.show_chosen_run(CHOSEN)

if len(selected) != 1:
    st.stop()

detail = selected[0]
with st.container(border=True):
    st.subheader(
        f"{literal(detail['reference'])} — {literal(detail['display_name'])}", anchor=False
    )
    if detail["error"]:
        st.error("Cannot be sent: " + literal(detail["error"]))
    if detail["warnings"]:
        st.warning("\n".join(f"- {literal(w)}" for w in detail["warnings"]))
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
