"""Runs: the history of syncs, each run's errors and notices, CSV downloads."""

from __future__ import annotations

import streamlit as st

from pages._components import present as uh
from pages._components import ui
from sync_core.domain.statuses import Outcome, RunState

ctx = ui.page_context()
tz = ui.timezone()
HISTORY = 200
OUTCOMES = {Outcome.FAILED: "Errors", Outcome.RENAMED: "Renamed", Outcome.ADOPTED: "Adopted"}

st.title("Runs")

runs = ctx.runs(HISTORY)
if not runs:
    st.info("No sync has run yet.")
    st.page_link(
        ui.PAGE_SYNC, label="Start the first sync on the Sync page", icon=":material/sync:"
    )
    st.stop()

st.dataframe(
    uh.runs_frame(runs, tz),
    hide_index=True,
    key="runs_table",
    column_config={
        "Records/s": st.column_config.NumberColumn(format="%.1f"),
        **{
            name: st.column_config.NumberColumn(format="localized")
            for name in ("Planned", "Done", "Synced", "Failed", "Renamed", "Adopted")
        },
    },
)
st.download_button(
    "Download the run history (CSV)",
    data=uh.runs_csv(runs),
    file_name="sync_runs.csv",
    mime="text/csv",
    on_click="ignore",
    key="download_runs",
)

run_ids = [run.id for run in runs]
st.selectbox(
    "Run",
    run_ids,
    key="run",
    bind="query-params",
    format_func=lambda run_id: uh.run_headline(next(r for r in runs if r.id == run_id), tz),
)
run_id = st.session_state.get("run") or run_ids[0]
run = ctx.run(int(run_id))
if run is None:
    st.warning(f"Run {run_id} does not exist.")
    st.stop()

with st.container(border=True):
    st.subheader(f"{uh.RUN_STATE_ICONS.get(run.state, '')} Run {run.id}: {run.state}")
    cols = st.columns(6)
    cols[0].metric("Planned", f"{run.planned:,}")
    cols[1].metric("Synced", f"{run.synced:,}")
    cols[2].metric("Failed", f"{run.failed:,}")
    cols[3].metric("Renamed", f"{run.renamed:,}")
    cols[4].metric("Adopted", f"{run.adopted:,}")
    cols[5].metric("Duration", uh.format_duration(uh.run_duration_s(run)))
    st.caption(
        f"{run.scope} · batch size {run.batch_size} · "
        f"{'retried failures' if run.retry_failed else 'new records only'} · by {run.operator} · "
        f"{uh.format_time(run.started_at, tz)} to {uh.format_time(run.finished_at, tz)} · "
        f"{uh.format_rate(run.records_per_s)}"
    )
    if run.message:
        failed = run.state in (RunState.FAILED, RunState.INTERRUPTED)
        (st.error if failed else st.info)(run.message)
    if run.is_running:
        st.page_link(
            ui.PAGE_SYNC,
            label="Running now: watch it on the Sync page",
            icon=":material/hourglass_top:",
        )

    errors = ctx.run_entries(run.id)
    if not errors:
        st.success("No errors and no notices in this run.")
    else:
        counts = {
            o: sum(1 for e in errors if (e.get("outcome") or Outcome.FAILED) == o) for o in OUTCOMES
        }
        st.download_button(
            f"Download this run's errors and notices (CSV, {len(errors):,} rows)",
            data=uh.errors_csv(errors, run.id),
            file_name=f"sync_run_{run.id}_errors.csv",
            mime="text/csv",
            on_click="ignore",
            key=f"download_errors_{run.id}",
        )
        shown = st.segmented_control(
            "Show",
            [o for o in OUTCOMES if counts[o]],
            format_func=lambda o: f"{OUTCOMES[o]} ({counts[o]:,})",
            default=next(o for o in OUTCOMES if counts[o]),
            required=True,
            key=f"outcome_{run.id}",
        )
        rows = [e for e in errors if (e.get("outcome") or Outcome.FAILED) == shown]
        ui.error_table(rows, key=f"errors_{run.id}_{shown}", outcome=shown)
