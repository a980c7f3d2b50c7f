"""Runs: who synced what and how it went, by operator, scope and outcome; each run's errors
and notices, CSV downloads. ``/Runs?run=12`` opens run 12."""

from __future__ import annotations

import streamlit as st

from sync_core.domain.statuses import Outcome, RunState, Scope
from sync_core.service import history
from views._components import present as uh
from views._components import ui
from views._components.text import literal

ctx = ui.page_context()
tz = ui.timezone()
HISTORY = 200
OUTCOMES = {Outcome.FAILED: "Errors", Outcome.RENAMED: "Renamed", Outcome.ADOPTED: "Adopted"}
SCOPE_LABELS = {
    Scope.ALL: "applicants and students",
    Scope.APPLICANTS: "applicants",
    Scope.STUDENTS: "students",
    Scope.RECORD: "chosen records (one-record pushes, selections)",
    "updates": "updates of records already in QuickBooks",
}


def scope_label(scope: str) -> str:
    return SCOPE_LABELS.get(scope, str(scope))


st.title("Runs")


def linked_run() -> int | None:
    value = str(st.query_params.get("run", "")).strip()
    return int(value) if value.isdigit() else None


def remember_pick() -> None:
    """Keep the address shareable: /Runs?run=<the run shown>."""
    st.query_params["run"] = str(st.session_state["run_pick"])


everyone = history.operators(ctx)
if not everyone:
    st.info("No sync has run yet.")
    st.page_link(
        ui.PAGE_SYNC, label="Start the first sync on the Sync page", icon=":material/sync:"
    )
    st.stop()

cols = st.columns([2, 3, 3])
operator = cols[0].selectbox(
    "Started by", [None, *everyone], format_func=lambda o: o or "Anyone", key="runs_operator"
)
scopes = cols[1].multiselect(
    "Scope", list(Scope), format_func=scope_label, key="runs_scopes", placeholder="Any"
)
states = cols[2].multiselect(
    "Outcome",
    list(RunState),
    format_func=lambda s: str(s.value),
    key="runs_states",
    placeholder="Any",
)
runs = history.find_runs(
    ctx, operator=operator, scopes=scopes or None, states=states or None, limit=HISTORY
)

if runs:
    st.dataframe(
        uh.runs_frame(runs, tz),
        hide_index=True,
        key="runs_table",
        column_config={
            "Records/s": st.column_config.NumberColumn(format="%.1f"),
            "Message": st.column_config.TextColumn(width="large"),
            **{
                name: st.column_config.NumberColumn(format="localized")
                for name in ("Planned", "Done", "Synced", "Failed", "Renamed", "Adopted")
            },
        },
    )
    st.download_button(
        f"Download these runs (CSV, {uh.plural(len(runs), 'run')})",
        data=uh.runs_csv(runs),
        file_name="sync_runs.csv",
        mime="text/csv",
        on_click="ignore",
        key="download_runs",
    )
else:
    st.info("No run matches these filters.")

# the run shown: the one the address names (even when the filters hide it), else the newest
linked = linked_run()
run_ids = [run.id for run in runs]
shown_runs = {run.id: run for run in runs}
if linked is not None and linked not in shown_runs:
    found = ctx.run(linked)
    if found is None:
        st.warning(f"Run {linked} does not exist.")
    else:
        shown_runs[found.id] = found
        run_ids.insert(0, found.id)
if st.session_state.get("run_pick") not in shown_runs:
    st.session_state.pop("run_pick", None)  # the filters hide the run picked before
if not run_ids:
    st.stop()

run_id = st.selectbox(
    "Run",
    run_ids,
    index=run_ids.index(linked) if linked in shown_runs else 0,
    key="run_pick",
    on_change=remember_pick,
    format_func=lambda i: uh.run_headline(shown_runs[i], tz),
)
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
    cols[5].metric(
        "Duration",
        uh.format_duration_short(uh.run_duration_s(run)),
        help=uh.format_duration(uh.run_duration_s(run)),
    )
    st.caption(
        f"{scope_label(run.scope)} · {uh.run_settings_text(run)} · by "
        f"{literal(run.operator)} · {uh.format_time(run.started_at, tz)} to "
        f"{uh.format_time(run.finished_at, tz)} · {uh.format_rate(run.records_per_s)}"
    )
    if run.message:
        failed = run.state in (RunState.FAILED, RunState.INTERRUPTED)
        (st.error if failed else st.info)(literal(run.message))
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
            f"Download this run's errors and notices (CSV, {uh.plural(len(errors), 'row')})",
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
