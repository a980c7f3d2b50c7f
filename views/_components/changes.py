"""What changed in the MIS since records were pushed, field by field (before -> after), and the
button that sends those changes: shown on the Preview ("Changes since pushed") and the Reconcile
page, from the same service calls. Text from the MIS and QuickBooks goes into tables or
``st.text``, never Markdown."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from sync_core.domain.access import Role
from sync_core.domain.errors import SyncError
from sync_core.domain.statuses import Scope
from sync_core.service.changes import ChangesSummary, changes_summary, preview_changes
from sync_core.service.facade import SyncService
from sync_core.sync.request import SyncRequest
from views._components import ui

KINDS = {"applicant": "Applicants", "student": "Students"}
PAGE_SIZES = [10, 25, 50, 100]


@st.cache_resource(ttl=30, show_spinner="Comparing the MIS with what was sent…", max_entries=8)
def _summary(fingerprint: str, version: tuple, _ctx: SyncService) -> ChangesSummary:
    return changes_summary(_ctx)


def summary(ctx: SyncService) -> ChangesSummary:
    """Counts of synced records changed in the MIS since pushed (every synced record is mapped
    and compared with what was last sent: cached until a run makes progress, 30 s at most)."""
    return _summary(ui.fingerprint(), ui.data_version(ctx), ctx)


def clear() -> None:
    _summary.clear()


def _items_frame(items: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Record": i.reference,
                "Name": i.display_name,
                "Customer": i.qk_id,
                "Why": i.why,
                "Changes (before -> after)": "; ".join(c.describe() for c in i.changes),
                "Warnings": "; ".join(i.warnings),
                "Not sent because": i.note or "",
                "Applicant and student": i.link or "",
            }
            for i in items
        ]
    )


def _item_detail(item: Any, key: str) -> None:
    st.text(f"{item.reference} · {item.display_name} · compared with {item.compared_with}")
    st.dataframe(
        pd.DataFrame(
            [{"Field": c.field, "Before": c.before, "After": c.after} for c in item.changes],
            columns=["Field", "Before", "After"],
        ),
        hide_index=True,
        key=key,
    )
    for warning in item.warnings:
        st.text(f"Warning: {warning}")
    if item.link:
        st.text(item.link)


def changes_section(ctx: SyncService, prefix: str) -> None:
    """Counts, a page of changed records, one record's changes field by field, and "send the
    changes now". ``prefix`` keeps the widgets of two pages apart."""
    counts = summary(ctx).overall
    cols = st.columns(4)
    cols[0].metric("Changed since pushed", f"{counts.changed:,}")
    cols[1].metric("Never compared yet", f"{counts.not_compared:,}")
    cols[2].metric("Marked for a re-push", f"{counts.marked:,}")
    cols[3].metric("Unchanged", f"{counts.unchanged:,}")
    if counts.to_continue or counts.waiting:
        st.caption(
            f"{counts.to_continue:,} records will carry on their applicant's or "
            f"student's customer; {counts.waiting:,} students wait for their "
            "applicant's (SYNC_STUDENT_CUSTOMER=continue)."
        )
    c1, c2 = st.columns([2, 1])
    kind = c1.segmented_control(
        "Type", list(KINDS), format_func=KINDS.get, default="applicant", key=f"{prefix}_kind"
    )
    limit = c2.selectbox("Rows per page", PAGE_SIZES, key=f"{prefix}_limit")
    page_no = st.number_input("Page", min_value=1, step=1, key=f"{prefix}_page")
    offset = (int(page_no) - 1) * int(limit)
    found = ui.guarded(preview_changes, ctx, kind or "applicant", limit=int(limit), offset=offset)
    if found is not None:
        if not found.items:
            st.success("Nothing to update on this page." if offset else "Nothing to update.")
        else:
            st.caption(
                f"{found.total:,} to update · before = what was last sent, or the customer in "
                f"QuickBooks now ({found.read_calls} read call(s) for this page). Only the "
                "fields the product maps are sent; balances, terms and addresses are left alone."
            )
            event = st.dataframe(
                _items_frame(found.items),
                hide_index=True,
                on_select="rerun",
                selection_mode="single-row",
                key=f"{prefix}_table:{kind}:{limit}:{offset}",
                column_config={
                    "Changes (before -> after)": st.column_config.TextColumn(width="large")
                },
            )
            rows = event.selection.rows
            if rows and rows[0] < len(found.items):
                _item_detail(found.items[rows[0]], f"{prefix}_fields")
    if st.button(
        "Send the changes now (a sync of updates only)",
        key=f"{prefix}_send",
        disabled=not ui.may(Role.OPERATOR),
        help=ui.role_help(Role.OPERATOR),
    ):
        person = ui.actor()
        try:
            request = SyncRequest(Scope.UPDATES, operator=person.name or "-")
            run_id = ctx.start_sync(request, person)
            st.success(f"Run {run_id} started: follow it on the Sync page.")
        except SyncError as exc:
            ui.show_error(exc, "Sending the changes")
