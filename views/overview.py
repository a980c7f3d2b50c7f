"""Overview: how far the sync has come, the failures, the running sync, the synced records
changed in the MIS since they were pushed, the last runs and pushes, the connection. Live while
a run goes on.

First paint (the title and the counts) waits for nothing slow: the counts are one grouped query
per table (cached for a second), the charts follow them, and the changes since pushed, which
scan every synced record, are counted in the background and shown when known."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from sync_core.domain.statuses import SyncStatus
from sync_core.service import history
from sync_core.service.worklist import WorkStatus
from views._components import present as uh
from views._components import ui
from views._components.text import literal

ctx = ui.page_context()
tz = ui.timezone()
LIVE_S = 2.0  # while a run goes on
IDLE_S = 10.0  # otherwise: notice a run started elsewhere (another browser, the CLI, cron)
FAILED_RED = uh.STATUS_COLORS[SyncStatus.FAILED.label]

st.title("Overview")
st.caption("Applicants and students of the MIS as QuickBooks customers.")


def status_chart(analysis) -> go.Figure:
    frame = uh.status_frame(analysis)
    fig = go.Figure()
    for status in uh.STATUS_ORDER:
        part = frame[frame["status"] == status]
        fig.add_bar(
            name=status,
            y=part["group"],
            x=part["count"],
            orientation="h",
            marker_color=uh.STATUS_COLORS[status],
            customdata=part["share"],
            hovertemplate="%{y}: %{x:,} " + status + " (%{customdata:.1%})<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        title={"text": "Records by status", "y": 0.98},
        height=320,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "traceorder": "normal"},
        yaxis={"autorange": "reversed"},
        xaxis={"title": None},
    )
    return fig


def progress_chart(analysis) -> go.Figure:
    frame = uh.progress_frame(analysis)
    fig = go.Figure(
        go.Bar(
            y=frame["group"],
            x=frame["progress_pct"],
            orientation="h",
            marker_color=uh.STATUS_COLORS[SyncStatus.SYNCED.label],
            text=[f"{p:.1f} %" for p in frame["progress_pct"]],
            # inside the bar once it is wide enough, so that "100.0 %" is never cut off
            textposition=["inside" if p >= 25 else "outside" for p in frame["progress_pct"]],
            insidetextanchor="end",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f} % synced<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": "Progress (% synced)", "y": 0.98},
        height=320,
        margin={"l": 10, "r": 40, "t": 70, "b": 10},
        xaxis={"range": [0, 100], "title": None, "ticksuffix": " %"},
        yaxis={"autorange": "reversed"},
    )
    return fig


def failures_chart(analysis) -> go.Figure:
    """Failures on a scale of their own: a handful among thousands is never a 1-pixel sliver."""
    frame = uh.failures_frame(analysis)
    fig = go.Figure(
        go.Bar(
            y=frame["group"],
            x=frame["failed"],
            orientation="h",
            marker_color=FAILED_RED,
            text=[f"{n:,}" for n in frame["failed"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,} failed<extra></extra>",
        )
    )
    top = max(int(frame["failed"].max()), 1)
    fig.update_layout(
        title={"text": "Failed (own scale)", "y": 0.98},
        height=320,
        margin={"l": 10, "r": 40, "t": 70, "b": 10},
        xaxis={"range": [0, top * 1.25], "title": None, "rangemode": "tozero"},
        yaxis={"autorange": "reversed"},
    )
    return fig


def running_panel(active) -> None:
    with st.container(border=True):
        st.markdown(
            f":material/hourglass_top: **A sync is running** — run {active.id} "
            f"({active.scope}) started by {literal(active.operator)} at "
            f"{uh.format_time(active.started_at, tz)}"
        )
        st.progress(active.progress, text=literal(uh.run_progress_text(active)))
        waiting = uh.waiting_text(active)
        if waiting:
            st.caption(literal(waiting))
        st.page_link(
            ui.PAGE_SYNC, label="Open the Sync page to watch or cancel it", icon=":material/sync:"
        )


def counts_and_charts(watching_run: bool) -> None:
    active = ctx.active_run()
    if watching_run != (active is not None):
        ui.clear_caches()  # a run started or ended: show its counts, poll at its pace
        st.rerun()
    analysis = ui.analysis(ctx)
    overall = analysis.overall
    if active is not None:
        running_panel(active)
    cols = st.columns(6)
    cols[0].metric("Total records", f"{overall.total:,}")
    cols[1].metric("Synced", f"{overall.synced:,}")
    cols[2].metric("Not synced", f"{overall.not_synced:,}")
    cols[3].metric("Failed", f"{overall.failed:,}")
    if overall.failed:
        cols[3].page_link(
            ui.PAGE_RECORDS,
            label=f"Open the {uh.plural(overall.failed, 'failure')}",
            icon=":material/error:",
            query_params={"status": WorkStatus.FAILED.name.lower()},
        )
    cols[4].metric("In progress", f"{overall.in_progress:,}")
    cols[5].metric("Progress", f"{overall.progress_pct:.1f} %")
    if overall.total == 0:
        st.info("The MIS has no applicants or students yet.")
        return
    left, middle, right = st.columns([5, 3, 2])
    left.plotly_chart(status_chart(analysis), key="status_chart", config={"displaylogo": False})
    middle.plotly_chart(
        progress_chart(analysis), key="progress_chart", config={"displaylogo": False}
    )
    right.plotly_chart(
        failures_chart(analysis), key="failures_chart", config={"displaylogo": False}
    )
    st.caption(
        f"Applicants: {analysis.applicants.synced:,} of {analysis.applicants.total:,} synced "
        f"({analysis.applicants.progress_pct:.1f} %) · Students: {analysis.students.synced:,} "
        f"of {analysis.students.total:,} synced ({analysis.students.progress_pct:.1f} %)"
    )
    if overall.out_of_scope:
        rules = "; ".join(ctx.settings.scope_rules().describe())
        st.info(
            f"{overall.out_of_scope:,} applicants are outside the sync scope "
            f"({literal(rules)}): counted, never synced.",
            icon=":material/filter_alt:",
        )
    if overall.synced_without_id:
        st.warning(
            f"{overall.synced_without_id:,} records are synced without a QuickBooks Id in the "
            "MIS (left by an earlier integration). The next sync looks for their customers "
            "and writes the Ids it finds; the others stay listed here.",
            icon=":material/link_off:",
        )


def changed_since_pushed(fast_pace: bool) -> None:
    """The synced records whose MIS fields differ from what was last sent (issue 11), per kind,
    as last counted in the background; polled at the live pace until the count is known."""
    known = ui.changes(ctx, hold=ctx.active_run() is not None)
    if fast_pace and not known.busy:
        st.rerun()  # known now: the page polls at its idle pace again
    summary = known.value
    if summary is None:
        if known.error is not None:
            ui.show_error(known.error, "Counting the changes since pushed")
        else:
            st.caption(
                ":material/hourglass_top: Counting the synced records changed in the MIS since "
                "they were pushed…"
            )
        return
    overall = summary.overall
    st.subheader("Changed in the MIS since pushed")
    cols = st.columns(5)
    cols[0].metric(
        "Changed since pushed",
        f"{overall.changed:,}",
        help="Synced records whose fields in the MIS differ from what was last sent to "
        "QuickBooks: the next sync with updates sends them.",
    )
    cols[1].metric("Applicants changed", f"{summary.applicants.changed:,}")
    cols[2].metric("Students changed", f"{summary.students.changed:,}")
    cols[3].metric(
        "Not compared yet",
        f"{overall.not_compared:,}",
        help="Synced before the product remembered what it sent: compared with their customer "
        "at their first update, on the Reconcile page or by a reconciliation.",
    )
    cols[4].metric("Marked for a re-push", f"{overall.marked:,}")
    when = uh.format_time(summary.computed_at, tz)
    state = " · recounting…" if known.busy else ""
    st.caption(f"Of {uh.plural(overall.synced, 'synced record')} · counted {when}{state}")
    if known.error is not None:
        ui.show_error(known.error, "Counting the changes since pushed again")
    left, right = st.columns([4, 1])
    with left:
        st.page_link(
            ui.PAGE_RECONCILE,
            label="See what changed, field by field (Reconcile, Changes since pushed)",
            icon=":material/rule:",
        )
    if right.button(
        "Recount",
        key="changes_recount",
        icon=":material/refresh:",
        help="Count again now (changes made in the MIS are counted within a minute anyway).",
    ):
        ui.recount_changes()
        st.rerun()  # the whole page, so that this section polls until the new count is known


def runs_table(runs, key: str) -> None:
    """A static table (the Overview loads no data grid, so its charts draw sooner); its cells
    are Markdown to Streamlit, so every value goes through literal()."""
    frame = uh.runs_frame(runs, tz)[
        ["Run", "Outcome", "Scope", "Operator", "Started", "Duration", "Synced", "Failed"]
    ]
    frame = frame.assign(Synced=frame["Synced"].map("{:,}".format))
    shown = frame.map(lambda v: literal(v) if isinstance(v, str) else v)
    st.table(shown, hide_index=True, border="horizontal")


def last_runs() -> None:
    st.subheader("Last runs")
    runs = history.last_runs(ctx)
    if runs:
        runs_table(runs, "last_runs")
        st.page_link(
            ui.PAGE_RUNS,
            label="All runs, their errors and CSV downloads",
            icon=":material/history:",
        )
    else:
        st.info("No sync has run yet.")
        st.page_link(ui.PAGE_SYNC, label="Start the first sync", icon=":material/sync:")
    pushes = history.last_pushes(ctx)
    if pushes:
        st.subheader("Last pushes of chosen records")
        st.caption("Records pushed on their own or chosen on the Preview or Records page.")
        runs_table(pushes, "last_pushes")


def connection() -> None:
    st.subheader("QuickBooks")
    status = ui.connection_status(ctx)
    if status is not None:
        if status.connected:
            st.success(
                f"Connected to realm {literal(status.realm_id)} ({status.environment}) · access "
                "renewed automatically until "
                f"{uh.format_time(status.refresh_expires_at, tz)}",
                icon=":material/check_circle:",
            )
            if status.last_error:
                st.warning(literal(status.last_error))
        else:
            ui.not_connected_notice()
    if ctx.bootstrap_error:
        st.error("Automatic connection failed: " + literal(ctx.bootstrap_error))


running = ctx.active_run() is not None
ui.live(counts_and_charts, LIVE_S if running else IDLE_S)(running)
counting = ui.changes(ctx, hold=running).busy  # starts the count in the background when due
ui.live(changed_since_pushed, LIVE_S if counting else IDLE_S)(counting)
connection()
ui.live(last_runs, LIVE_S if running else None)()
