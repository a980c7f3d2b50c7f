"""Records: find an applicant or student, see everything about it, push it alone."""

from __future__ import annotations

import streamlit as st

from pages._components import present as uh
from pages._components import ui
from sync_core.domain.errors import SyncError
from sync_core.service.records import PushStatus

ctx = ui.page_context()
tz = ui.timezone()

st.title("Records")


def push(kind: str, row_id: int) -> None:
    key = f"push:{kind}:{row_id}"
    ui.forget_message(key)
    operator = ui.operator_name()
    if not operator:
        ui.remember_message(
            key,
            "error",
            "Enter your name under **Operator** in the sidebar before pushing: every push is "
            "recorded in the MIS as `pushed_by`."
            if not ui.auth_configured()
            else "Log in before pushing: every push records who made it.",
        )
        return
    try:
        outcome = ctx.push_record(kind, row_id, ui.actor())
    except SyncError as exc:
        ui.remember_message(key, "error", *ui.exception_message(exc))
        return
    ui.clear_caches()
    if outcome.status is PushStatus.SYNCED:
        ui.remember_message(key, "success", f"Pushed by {operator}. {outcome.message}")
    elif outcome.status is PushStatus.ALREADY_SYNCED:
        ui.remember_message(key, "info", outcome.message)
    elif outcome.status == "not found":
        ui.remember_message(key, "warning", outcome.message)
    else:
        hint = (outcome.detail.state or {}).get("error_hint") if outcome.detail else None
        ui.remember_message(key, "error", f"Not synced: {outcome.message}", hint)


def show_record(kind: str, row_id: int) -> None:
    detail = ui.guarded(ctx.record, kind, row_id, doing="Reading the record")
    if detail is None:
        st.warning(f"No {kind} with row id {row_id} in the MIS.")
        return
    mapped, source, state = detail.mapped, detail.source, detail.state or {}
    label = uh.record_label(kind, mapped.identity, row_id)
    with st.container(border=True):
        st.subheader(f"{label} — {mapped.display_name}")
        cols = st.columns(4)
        cols[0].metric("Status", detail.status_label)
        cols[1].metric("QuickBooks Id", source.qk_id or "—")
        cols[2].metric("Attempts", f"{state.get('attempt') or 0:,}")
        pushed = (
            f"Pushed by **{source.pushed_by or '—'}** at {uh.format_time(source.pushed_date, tz)}"
            if source.pushed_date
            else "Not pushed yet"
        )
        reference = f" · {mapped.reference}" if mapped.identity else ""
        st.caption(f"{pushed} · MIS row {row_id}{reference}")
        if state.get("renamed_from"):
            st.info(
                f"Sent as **{state.get('sent_display_name')}**: the name "
                f"'{state['renamed_from']}' belongs to another QuickBooks customer, vendor or "
                "employee."
            )
        key = f"push:{kind}:{row_id}"
        pushed_now = key in st.session_state.get("_messages", {})
        if detail.last_error and not detail.is_synced and not pushed_now:
            st.error(f"Last error: {detail.last_error}")
            if state.get("error_hint"):
                st.info(f"What to do: {state['error_hint']}")
        if mapped.error and not detail.is_synced and mapped.error not in (detail.last_error or ""):
            st.error(f"Cannot be sent as it is: {mapped.error}")
        if mapped.warnings:
            st.warning("Warnings: " + "; ".join(mapped.warnings))

        if detail.is_synced:
            st.success(
                f"Already in QuickBooks as customer {source.qk_id}: nothing to push. Changes "
                "are made in QuickBooks itself."
            )
        else:
            st.button(
                "Push this record now",
                type="primary",
                key=f"push_{kind}_{row_id}",
                on_click=push,
                args=(kind, row_id),
                help="Sends this one record through the same engine as a full sync.",
            )
        ui.show_messages(key)

        tabs = st.tabs(["MIS row", "Payload", "Custom fields", "Audit trail", "Run errors"])
        with tabs[0]:
            st.dataframe(uh.source_frame(source.row), hide_index=True, key=f"src_{kind}_{row_id}")
        with tabs[1]:
            st.caption("The exact JSON sent to QuickBooks (POST /customer, in a batch).")
            st.json(mapped.payload)
        with tabs[2]:
            st.dataframe(uh.placement_frame(mapped), hide_index=True, key=f"pl_{kind}_{row_id}")
        with tabs[3]:
            if detail.audit:
                st.dataframe(uh.audit_frame(detail.audit, tz), hide_index=True)
            else:
                st.caption("No call to QuickBooks was made about this record yet.")
        with tabs[4]:
            if detail.run_errors:
                st.dataframe(uh.record_errors_frame(detail.run_errors, tz), hide_index=True)
            else:
                st.caption("No error or notice in any run.")


query = st.text_input(
    "Search",
    key="q",
    bind="query-params",
    placeholder="Name, ApplicationID, RegNo, tracking id or e-mail",
    help="Part of a name, RegNo or e-mail; an exact ApplicationID or tracking id.",
)

selected: tuple[str, int] | None = None
params = st.query_params
if params.get("kind") in ("applicant", "student") and str(params.get("id", "")).isdigit():
    selected = (params["kind"], int(params["id"]))

if query.strip():
    matches = ctx.search(query)
    if not matches:
        st.info(f"No applicant or student matches “{query.strip()}”.")
    else:
        st.caption(
            f"{uh.plural(len(matches), 'match', 'matches')}"
            + (" (the first 50)" if len(matches) >= 50 else "")
            + ": select one to see it."
        )
        event = st.dataframe(
            uh.matches_frame(matches),
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=f"matches:{query.strip()}",
        )
        rows = event.selection.rows
        if rows:
            match = matches[rows[0]]
            selected = (match.kind, match.row_id)
        elif len(matches) == 1:
            selected = (matches[0].kind, matches[0].row_id)
elif selected is None:
    st.info("Search for an applicant or a student to see their record and push it on its own.")

if selected is not None:
    show_record(*selected)
