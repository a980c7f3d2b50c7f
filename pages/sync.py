"""Sync: start a run (scope, batch size, retry failures), watch it live, cancel it."""

from __future__ import annotations

import streamlit as st

from pages._components import present as uh
from pages._components import ui
from sync_core.defaults import RECOMMENDED_BATCH_SIZES
from sync_core.domain.errors import SyncError
from sync_core.domain.statuses import Outcome, RunState, Scope
from sync_core.sync.request import SyncRequest

ctx = ui.page_context()
tz = ui.timezone()

SCOPES = {
    Scope.ALL: "Applicants and students",
    Scope.APPLICANTS: "Applicants",
    Scope.STUDENTS: "Students",
}
BATCH_HELP = (
    "Records claimed and written back per step (the seed's guidance): **10–20** for testing and "
    "validation, **50** for regular synchronisation, **100** only for bulk operations with good "
    "connectivity. Requests to QuickBooks are always paced to its limits."
)
ERROR_ROWS = 500

st.title("Sync")


def start() -> None:
    """Start button callback: runs before the page is drawn again, so the page shows the run."""
    ui.forget_message("sync")
    operator = ui.operator_name()
    if not operator:
        ui.remember_message(
            "sync",
            "error",
            "Enter your name under **Operator** in the sidebar before starting a sync: every "
            "push is recorded in the MIS as `pushed_by`."
            if not ui.auth_configured()
            else "Log in before starting a sync: every push records who made it.",
        )
        return
    request = SyncRequest(
        scope=st.session_state["sync_scope"],
        operator=operator,
        batch_size=int(st.session_state["sync_batch"]),
        retry_failed=bool(st.session_state["sync_retry"]),
    )
    try:
        run_id = ctx.start_sync(request, ui.actor())
    except SyncError as exc:
        ui.remember_message("sync", "error", *ui.exception_message(exc))
        return
    if run_id is None:
        ui.remember_message("sync", "info", "Nothing to sync: no record of this scope waits.")
        return
    ui.clear_caches()
    ui.remember_message("sync", "info", f"Run {run_id} started by {operator}.")


def cancel(run_id: int) -> None:
    if ctx.cancel_sync(run_id, ui.actor("dashboard user")):
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
            f"{SCOPES.get(run.scope, run.scope)} · batch size {run.batch_size} · "
            f"{'retrying failures' if run.retry_failed else 'new records only'} · started by "
            f"{run.operator} at {uh.format_time(run.started_at, tz)}"
        )
        st.progress(run.progress, text=uh.run_progress_text(run))
        cols = st.columns(6)
        cols[0].metric("Done", f"{run.done:,}", help=f"of {run.planned:,} planned")
        cols[1].metric("Synced", f"{run.synced:,}")
        cols[2].metric("Failed", f"{run.failed:,}")
        cols[3].metric("Renamed", f"{run.renamed:,}")
        cols[4].metric("Speed", f"{run.records_per_s or 0:,.0f}/s", help="records per second")
        cols[5].metric(
            "ETA" if run.is_running else "Duration",
            uh.format_duration(run.eta_s if run.is_running else uh.run_duration_s(run)),
        )
        if run.is_running:
            if run.cancel_requested:
                st.warning("Cancel requested: the run stops after the batches in flight.")
            else:
                st.button(
                    "Cancel this sync", key=f"cancel_{run.id}", on_click=cancel, args=(run.id,)
                )
        elif run.state is RunState.COMPLETED:
            st.success(
                f"Finished: {run.synced:,} synced"
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
            st.error(run.message)
        run_errors(run, key=f"run{run.id}")


# ---------------------------------------------------------------- start a run

active = ctx.active_run()
status = ui.connection_status(ctx)
analysis = ui.analysis(ctx)

with st.container(border=True):
    st.subheader("Start a sync")
    left, middle, right = st.columns([2, 2, 2])
    left.radio(
        "Records",
        list(SCOPES),
        format_func=SCOPES.get,
        key="sync_scope",
        help="Applicants from tbl_online_application, students from tbl_personal_ug.",
    )
    middle.segmented_control(
        "Batch size",
        list(RECOMMENDED_BATCH_SIZES),
        default=50,
        key="sync_batch",
        required=True,
        help=BATCH_HELP,
    )
    middle.caption("10–20: testing · 50: regular · 100: bulk")
    right.toggle(
        "Retry failed records",
        key="sync_retry",
        help="Also send the records that failed before (after they were corrected in the MIS).",
    )
    scope = st.session_state.get("sync_scope", "all")
    retry = bool(st.session_state.get("sync_retry"))
    pending = uh.pending_count(analysis, scope, retry)
    failed_left = uh.pending_count(analysis, scope, True) - uh.pending_count(analysis, scope, False)

    if status is not None and not status.connected:
        ui.not_connected_notice()
    if pending == 0 and active is None:
        st.info(
            "**Nothing to sync**: every record of this scope is in QuickBooks"
            + (
                f" except {uh.plural(failed_left, 'failed record')}: switch on "
                "**Retry failed records** once they are corrected."
                if failed_left
                else "."
            )
        )
    else:
        st.markdown(
            f"This sync will send **{uh.plural(pending, 'record')}** "
            f"({SCOPES[scope].lower()}, {'including' if retry else 'excluding'} failed ones)."
        )
    st.button(
        "Start sync",
        type="primary",
        on_click=start,
        disabled=pending == 0 and active is None,
        key="start_sync",
    )
    ui.show_messages("sync")

# ---------------------------------------------------------------- the run

if active is not None:
    st.fragment(run_panel, run_every=1.0)(active.id, True)
else:
    last = ctx.runs(1)
    if last:
        st.caption("The last run:")
        run_panel(last[0].id, False)
