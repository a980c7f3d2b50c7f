"""Records: the worklist (records by status, type, campus, intake, warnings; retry a selection;
the current failures as CSV), search, and everything about one record, pushed on its own."""

from __future__ import annotations

import streamlit as st

from sync_core.domain.access import Role
from sync_core.domain.errors import SyncError
from sync_core.service import worklist as wl
from sync_core.service.records import PushStatus
from sync_core.service.worklist import SortKey, WorkStatus
from views._components import present as uh
from views._components import ui
from views._components.text import literal

ctx = ui.page_context()
tz = ui.timezone()
KINDS = {"applicant": "Applicants", "student": "Students"}
SORTS = {
    "row": (SortKey.ROW, False, "MIS row, first to last"),
    "row_desc": (SortKey.ROW, True, "MIS row, last to first"),
    "name": (SortKey.NAME, False, "Name, A to Z"),
    "name_desc": (SortKey.NAME, True, "Name, Z to A"),
}
CHOSEN = "records_chosen"

st.title("Records")


# ---------------------------------------------------------------- one record


def push(kind: str, row_id: int) -> None:
    key = f"push:{kind}:{row_id}"
    ui.forget_message(key)
    operator = ui.operator_name()
    if not operator and ui.is_open_demo():
        ui.remember_message(key, "error", ui.missing_operator_text())
        return
    try:
        outcome = ctx.push_record(kind, row_id, ui.actor())
    except SyncError as exc:
        ui.remember_error(key, exc)
        return
    ui.clear_caches()
    if outcome.status is PushStatus.SYNCED:
        ui.remember_message(
            key, "success", f"Pushed by {literal(operator)}. {literal(outcome.message)}"
        )
    elif outcome.status is PushStatus.ALREADY_SYNCED:
        ui.remember_message(key, "info", literal(outcome.message))
    elif outcome.status is PushStatus.NOT_FOUND:
        ui.remember_message(key, "warning", literal(outcome.message))
    else:
        hint = (outcome.detail.state or {}).get("error_hint") if outcome.detail else None
        ui.remember_message(key, "error", "Not synced: " + literal(outcome.message), hint)


def show_record(kind: str, row_id: int) -> None:
    detail = ui.guarded(ctx.record, kind, row_id, doing="Reading the record")
    if detail is None:
        st.warning(f"No {kind} with row id {row_id} in the MIS.")
        return
    mapped, source, state = detail.mapped, detail.source, detail.state or {}
    label = uh.record_label(kind, mapped.identity, row_id)
    with st.container(border=True):
        st.subheader(f"{literal(label)} — {literal(mapped.display_name)}", anchor=False)
        cols = st.columns(4)
        cols[0].metric("Status", detail.status_label)
        cols[1].metric("QuickBooks Id", literal(source.qk_id) if source.qk_id else "—")
        cols[2].metric("Attempts", f"{state.get('attempt') or 0:,}")
        pushed = (
            f"Pushed by **{literal(source.pushed_by or '—')}** at "
            f"{uh.format_time(source.pushed_date, tz)}"
            if source.pushed_date
            else "Not pushed yet"
        )
        reference = f" · {literal(mapped.reference)}" if mapped.identity else ""
        st.caption(f"{pushed} · MIS row {row_id}{reference}")
        if state.get("renamed_from"):
            st.info(
                f"Sent as **{literal(state.get('sent_display_name') or '')}**: the name "
                f"'{literal(state['renamed_from'])}' belongs to another QuickBooks customer, "
                "vendor or employee."
            )
        key = f"push:{kind}:{row_id}"
        pushed_now = key in st.session_state.get("_messages", {})
        if detail.last_error and not detail.is_synced and not pushed_now:
            st.error("Last error: " + literal(detail.last_error))
            if state.get("error_hint"):
                st.info("What to do: " + literal(state["error_hint"]))
        if mapped.error and not detail.is_synced and mapped.error not in (detail.last_error or ""):
            st.error("Cannot be sent as it is: " + literal(mapped.error))
        if mapped.warnings:
            st.warning("Warnings: " + literal("; ".join(mapped.warnings)))

        if detail.is_synced:
            st.success(
                f"Already in QuickBooks as customer {literal(source.qk_id or '')}: nothing to "
                "push. Changes are made in QuickBooks itself."
            )
        else:
            st.button(
                "Push this record now",
                type="primary",
                key=f"push_{kind}_{row_id}",
                on_click=push,
                args=(kind, row_id),
                disabled=not ui.may(Role.OPERATOR),
                help=ui.role_help(Role.OPERATOR)
                or "Sends this one record through the same engine as a full sync.",
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


# ---------------------------------------------------------------- the worklist


def initial_statuses() -> list[WorkStatus]:
    """The status filter a link asked for (the Overview's failures: ``?status=failed``)."""
    chosen = []
    for name in st.query_params.get_all("status"):
        try:
            chosen.append(WorkStatus.named(name))
        except ValueError:
            continue
    return chosen


def worklist_filter(choices: dict[str, list[tuple[int, str]]]) -> wl.WorklistFilter:
    if "wl_status" not in st.session_state:
        st.session_state["wl_status"] = initial_statuses()
    cols = st.columns([3, 2, 2, 2])
    statuses = cols[0].multiselect(
        "Status",
        list(WorkStatus),
        format_func=lambda s: s.value,
        key="wl_status",
        placeholder="Any status",
    )
    kinds = cols[1].multiselect(
        "Type", list(KINDS), format_func=KINDS.get, key="wl_kinds", placeholder="Both"
    )
    campuses = dict(choices.get("campus", []))
    campus = cols[2].selectbox(
        "Campus",
        [None, *campuses],
        format_func=lambda c: "Any campus" if c is None else campuses[c],
        key="wl_campus",
        disabled=not campuses,
    )
    intakes = dict(choices.get("intake", []))
    intake = cols[3].selectbox(
        "Intake",
        [None, *intakes],
        format_func=lambda i: "Any intake" if i is None else intakes[i],
        key="wl_intake",
        disabled=not intakes,
    )
    cols = st.columns([3, 2, 4])
    sort = cols[0].selectbox("Order", list(SORTS), format_func=lambda s: SORTS[s][2], key="wl_sort")
    warnings = cols[1].toggle(
        "Has warnings",
        key="wl_warnings",
        help="Records whose payload carries a warning or that cannot be sent as they are.",
    )
    key, descending, _ = SORTS[sort]
    return wl.WorklistFilter(
        kinds=tuple(kinds) or tuple(KINDS),
        statuses=tuple(statuses),
        campus=campus,
        intake=intake,
        has_warnings=warnings,
        sort=key,
        descending=descending,
    )


def worklist() -> tuple[str, int] | None:
    """The worklist; answers the record to show when exactly one row is selected."""
    flt = worklist_filter(wl.lookups_for_filters(ctx))
    if st.session_state.get("_wl_filter") != flt:
        st.session_state["_wl_filter"] = flt
        st.session_state["_wl_pages"] = [None]  # where each page starts
    starts = st.session_state["_wl_pages"]
    page = wl.worklist_page(ctx, flt, after=starts[-1])
    number = len(starts)
    first = (number - 1) * wl.PAGE_SIZE + 1
    found = (
        f"{uh.plural(len(page.items), 'record')} with warnings found among "
        f"{uh.plural(page.scanned, 'record')} looked at"
        if flt.has_warnings
        else (f"records {first:,}–{first + len(page.items) - 1:,}" if page.items else "none")
    )
    st.caption(
        f"{uh.plural(page.matching, 'record')} "
        + ("matches" if page.matching == 1 else "match")
        + " the filters"
        + (" (before warnings)" if flt.has_warnings else "")
        + f" · page {number}: {found}."
    )
    prev_col, next_col, csv_col = st.columns([1, 1, 3])
    prev_col.button(
        "Previous page",
        key="wl_previous",
        disabled=number == 1,
        on_click=lambda: st.session_state["_wl_pages"].pop(),
    )
    next_col.button(
        "Next page",
        key="wl_next",
        disabled=page.next_cursor is None,
        on_click=lambda: st.session_state["_wl_pages"].append(page.next_cursor),
    )
    failed_now = ui.analysis(ctx).overall.failed
    csv_col.download_button(
        f"Download the current failures (CSV, {uh.plural(failed_now, 'record')})",
        data=lambda: uh.failures_csv(wl.failures(ctx)),
        file_name="sync_failures.csv",
        mime="text/csv",
        on_click="ignore",
        key="download_failures",
        disabled=failed_now == 0,
        help="Every record that failed and waits, with the reason and what to do from its "
        "last attempt (whichever run made it).",
    )
    if not page.items:
        st.info("No record matches these filters.")
        ui.show_chosen_run(CHOSEN)  # a retry may just have emptied the list
        return None
    event = st.dataframe(
        uh.worklist_frame(page.items),
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key=f"worklist:{hash(flt)}:{number}",
        column_config={
            "Record": st.column_config.TextColumn(width="medium"),
            "Name": st.column_config.TextColumn(width="medium"),
            "Warnings": st.column_config.TextColumn(width="medium"),
            "Last error": st.column_config.TextColumn(width="large"),
            "What to do": st.column_config.TextColumn(width="medium"),
        },
    )
    chosen = [page.items[i] for i in event.selection.rows if i < len(page.items)]
    if chosen:
        st.button(
            f"Retry the {uh.plural(len(chosen), 'selected record')}",
            key="retry_chosen",
            type="primary",
            on_click=ui.sync_chosen,
            args=(ctx, [(i.kind, i.row_id) for i in chosen], CHOSEN),
            disabled=not ui.may(Role.OPERATOR),
            help=ui.role_help(Role.OPERATOR)
            or "One run of exactly these records (synced ones are left alone).",
        )
    else:
        st.caption("Select a record to see it; select several to retry them in one run.")
    ui.show_chosen_run(CHOSEN)
    return (chosen[0].kind, chosen[0].row_id) if len(chosen) == 1 else None


# ---------------------------------------------------------------- the page

query = st.text_input(
    "Search",
    key="q",
    bind="query-params",
    placeholder="Name, ApplicationID, RegNo, tracking id or e-mail",
    help="Part of a name, RegNo or e-mail; an exact ApplicationID or tracking id. Empty: the "
    "worklist.",
)

selected: tuple[str, int] | None = None
params = st.query_params
if params.get("kind") in KINDS and str(params.get("id", "")).isdigit():
    selected = (params["kind"], int(params["id"]))

if query.strip():
    matches = ctx.search(query)
    if not matches:
        st.info("No applicant or student matches “" + literal(query.strip()) + "”.")
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
else:
    with st.container(border=True):
        st.subheader("Worklist")
        chosen = worklist()
    if chosen is not None:
        selected = chosen

if selected is not None:
    show_record(*selected)
