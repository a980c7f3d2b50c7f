"""Sync: start a run (what, how many, retry failures), watch it live, cancel it."""

from __future__ import annotations

import streamlit as st

from sync_core.defaults import MAX_BATCH_SIZE, RECOMMENDED_BATCH_SIZES
from sync_core.domain.access import Role
from sync_core.domain.errors import SyncError
from sync_core.domain.statuses import Outcome, RunState, Scope
from sync_core.sync.request import SyncRequest
from views._components import changes, ui
from views._components import present as uh
from views._components.text import literal

ctx = ui.page_context()
tz = ui.timezone()

SCOPES = {
    Scope.ALL: "Applicants and students",
    Scope.APPLICANTS: "Applicants",
    Scope.STUDENTS: "Students",
    Scope.UPDATES: "Changes only",
}
RUN_SCOPES = {**SCOPES, Scope.RECORD: "Chosen records"}
UPDATES_HELP = (
    "Records already in QuickBooks whose data changed in the MIS since they were pushed: their "
    "customers get the changed fields the product maps (name, phone, e-mail, notes), nothing "
    "else; balances, terms and addresses are never touched. See them field by field on the "
    "Preview under 'Changes since pushed'."
)
LIMITS = {
    "all": "All pending",
    "10": "Next 10",
    "20": "Next 20",
    "50": "Next 50",
    "100": "Next 100",
    "other": "Another number",
}
BATCH_HELP = (
    "Records claimed per step; requests to QuickBooks are paced to its limits either way. "
    "A smaller step gives back control sooner when you cancel; a larger one writes back less "
    "often. The seed's guidance: 10–20 to test, 50 regularly, 100 for bulk operations."
)
ERROR_ROWS = 500

st.title("Sync")


def chosen_limit() -> int | None:
    """None: every pending record; else the next N."""
    choice = st.session_state.get("sync_limit") or "all"
    if choice == "all":
        return None
    if choice == "other":
        return int(st.session_state.get("sync_limit_n") or 1)
    return int(choice)


def start() -> None:
    """Start button callback: runs before the page is drawn again, so the page shows the run."""
    ui.forget_message("sync")
    operator = ui.operator_name()
    if not operator and ui.is_open_demo():
        ui.remember_message("sync", "error", ui.missing_operator_text())
        return
    try:
        request = SyncRequest(
            scope=st.session_state["sync_scope"],
            operator=operator or "-",
            batch_size=int(st.session_state.get("sync_batch") or 50),
            retry_failed=bool(st.session_state.get("sync_retry")),
            limit=chosen_limit(),
            include_updates=bool(st.session_state.get("sync_updates")),
        )
        run_id = ctx.start_sync(request, ui.actor())
    except SyncError as exc:
        ui.remember_error("sync", exc)
        return
    if run_id is None:
        ui.remember_message("sync", "info", "Nothing to sync: no record of this scope waits.")
        return
    ui.clear_caches()
    ui.remember_message("sync", "info", f"Run {run_id} started by {literal(operator)}.")


def cancel(run_id: int) -> None:
    try:
        cancelled = ctx.cancel_sync(run_id, ui.actor(ui.DEMO_ACTOR))
    except SyncError as exc:
        ui.remember_error("sync", exc)
        return
    if cancelled:
        ui.remember_message(
            "sync",
            "warning",
            f"Cancelling run {run_id}: it stops after the batches already sent; records not yet "
            "sent go back to not synced.",
        )


def run_errors(run, key: str) -> None:
    """The run's failures, then its renamed / adopted notices.

    Oldest first: rows keep their place (and a selected row stays selected) while a live run
    adds errors below them. Counts come from the run's published progress.
    """
    failures = ctx.run_entries(run.id, outcome=Outcome.FAILED, limit=ERROR_ROWS)
    if failures:
        total = max(run.failed, len(failures))
        st.markdown(f"**Errors ({total:,})** — records QuickBooks or the MIS refused")
        ui.error_table(failures, key=f"{key}_errors")
        if total > ERROR_ROWS:
            st.caption(f"The first {ERROR_ROWS:,} shown; the Runs page has them all as CSV.")
    for outcome, count, why in (
        (
            Outcome.RENAMED,
            run.renamed,
            "their name was taken by another QuickBooks customer, vendor or employee, so they "
            "were sent with their ApplicationID / RegNo appended",
        ),
        (
            Outcome.ADOPTED,
            run.adopted,
            "they already existed in QuickBooks (an earlier attempt, or a qk_id in the MIS), so "
            "they were linked instead of created again",
        ),
    ):
        notices = ctx.run_entries(run.id, outcome=outcome, limit=ERROR_ROWS)
        if notices:
            count = max(count, len(notices))
            st.info(f"**{uh.plural(count, 'record')} {outcome}**: {why}.")
            with st.expander(f"Show the {outcome} records"):
                ui.error_table(notices, key=f"{key}_{outcome}", outcome=outcome)


def run_panel(run_id: int, watching: bool) -> None:
    """Progress of one run; polled every second by the fragment while it is running."""
    run = ctx.run(run_id)
    if run is None:
        return
    if watching and not run.is_running:
        ui.clear_caches()  # the run ended: redraw the whole page once, and stop polling
        ui.forget_message("sync")
        st.rerun()
    with st.container(border=True):
        st.subheader(f"{uh.RUN_STATE_ICONS.get(run.state, '')} Run {run.id}: {run.state}")
        st.caption(
            f"{RUN_SCOPES.get(run.scope, run.scope)} · {uh.run_settings_text(run)} · started by "
            f"{literal(run.operator)} at {uh.format_time(run.started_at, tz)}"
        )
        st.progress(run.progress, text=uh.run_progress_text(run))
        if run.updated or run.unchanged or run.scope == Scope.UPDATES:
            st.caption(
                f"Changes sent: {uh.plural(run.updated, 'customer')} updated, "
                f"{uh.plural(run.unchanged, 'record')} compared with nothing to send."
            )
        waiting = uh.waiting_text(run)
        if waiting:
            st.info(
                waiting + ": QuickBooks allows a set number of requests per minute, and the "
                "run goes on by itself.",
                icon=":material/hourglass_empty:",
            )
        cols = st.columns(6)
        cols[0].metric(
            "Done",
            f"{run.done:,}",
            help=f"records whose outcome is known (synced, failed or left as they were), of "
            f"{run.planned:,} planned",
        )
        cols[1].metric("Synced", f"{run.synced:,}")
        cols[2].metric("Failed", f"{run.failed:,}")
        cols[3].metric("Renamed", f"{run.renamed:,}")
        cols[4].metric("Speed", f"{run.records_per_s or 0:,.1f}/s", help="records per second")
        if run.is_running:
            cols[5].metric(
                "ETA",
                uh.format_duration_short(run.eta_s),
                help="time to the end at the pace QuickBooks' limits allow, as the run reckons",
            )
        else:
            cols[5].metric("Duration", uh.format_duration_short(uh.run_duration_s(run)))
        if run.is_running:
            if run.cancel_requested:
                st.warning("Cancel requested: the run stops after the batches in flight.")
            else:
                st.button(
                    "Cancel this sync",
                    key=f"cancel_{run.id}",
                    on_click=cancel,
                    args=(run.id,),
                    disabled=not ui.may(Role.OPERATOR),
                    help=ui.role_help(Role.OPERATOR),
                )
        elif run.state is RunState.COMPLETED:
            st.success(
                f"Finished: {run.synced:,} synced"
                + (f", {run.updated:,} updated" if run.updated else "")
                + (f", {run.adopted:,} adopted" if run.adopted else "")
                + ", no errors."
            )
        elif run.state is RunState.COMPLETED_WITH_ERRORS:
            st.warning(
                f"Finished with errors: {run.synced:,} synced, {run.failed:,} failed. "
                "Correct the records below in the MIS, then start again with "
                "**Retry failed records**."
            )
        elif run.message:
            st.error(literal(run.message))
        run_errors(run, key=f"run{run.id}")


# ---------------------------------------------------------------- start a run

active = ctx.active_run()
status = ui.connection_status(ctx)
analysis = ui.analysis(ctx)
connected = status is not None and status.connected

with st.container(border=True):
    st.subheader("Start a sync")
    left, right = st.columns([3, 2])
    left.radio(
        "Records",
        list(SCOPES),
        format_func=SCOPES.get,
        key="sync_scope",
        horizontal=True,
        help="Applicants from tbl_online_application, students from tbl_personal_ug.",
    )
    right.toggle(
        "Retry failed records",
        key="sync_retry",
        help="Also send the records that failed before (after they were corrected in the MIS).",
    )
    right.toggle(
        "Also send changes of records already synced",
        key="sync_updates",
        help=UPDATES_HELP,
        disabled=st.session_state.get("sync_scope") == Scope.UPDATES,
    )
    st.segmented_control(
        "How many",
        list(LIMITS),
        format_func=LIMITS.get,
        default="all",
        key="sync_limit",
        required=True,
        help="All records waiting, or only the next N of them (in MIS row order): a run of N "
        "sends at most N, and the others wait for the next run.",
    )
    if st.session_state.get("sync_limit") == "other":
        st.columns([1, 3])[0].number_input(
            "The next", min_value=1, max_value=1_000_000, value=200, step=10, key="sync_limit_n"
        )
    with st.expander("Advanced"):
        st.select_slider(
            "Records claimed per step",
            options=sorted({*RECOMMENDED_BATCH_SIZES, 1, 5, 20, 200, MAX_BATCH_SIZE}),
            value=50,
            key="sync_batch",
            help=BATCH_HELP,
        )
        st.caption("Requests to QuickBooks are paced to its limits either way.")
    scope = st.session_state.get("sync_scope", "all")
    retry = bool(st.session_state.get("sync_retry"))
    updating = scope == Scope.UPDATES or bool(st.session_state.get("sync_updates"))
    to_update = changes.summary(ctx).overall.to_update if updating else 0
    if scope == Scope.UPDATES:
        pending = failed_left = 0
    else:
        pending = uh.pending_count(analysis, scope, retry)
        failed_left = uh.pending_count(analysis, scope, True)
        failed_left -= uh.pending_count(analysis, scope, False)
    limit = chosen_limit()

    if not connected and status is not None:
        ui.not_connected_notice()
    elif active is not None:
        st.info(
            f"Run {active.id} is running: one sync at a time. Start the next one when it ends.",
            icon=":material/hourglass_top:",
        )
    elif pending == 0 and to_update:
        st.markdown(
            f"This sync will compare **{uh.plural(to_update, 'synced record')}** with what was "
            "last sent and update their customers where the MIS changed; it creates no customer."
        )
    elif pending == 0:
        st.info(
            "**Nothing to sync**: every record of this scope is in QuickBooks"
            + (" and none changed in the MIS since pushed" if updating else "")
            + (
                f" except {uh.plural(failed_left, 'failed record')}: switch on "
                "**Retry failed records** once they are corrected."
                if failed_left
                else "."
            )
        )
    else:
        sent = pending if limit is None else min(pending, limit)
        of = f" of the {pending:,} waiting" if sent < pending else ""
        st.markdown(
            f"This sync will send **{uh.plural(sent, 'record')}**{of} "
            f"({SCOPES[scope].lower()}, {'including' if retry else 'excluding'} failed ones)"
            + (
                f", then compare {uh.plural(to_update, 'synced record')} and send their changes."
                if updating
                else "."
            )
        )
    st.button(
        "Start sync",
        type="primary",
        on_click=start,
        disabled=not connected
        or active is not None
        or (pending == 0 and to_update == 0)
        or not ui.may(Role.OPERATOR),
        help=ui.role_help(Role.OPERATOR),
        key="start_sync",
    )
    ui.show_messages("sync")

# ---------------------------------------------------------------- the run

if active is not None:
    ui.live(run_panel, 1.0)(active.id, True)
else:
    last = ctx.runs(1)
    if last:
        st.caption("The last run:")
        run_panel(last[0].id, False)
