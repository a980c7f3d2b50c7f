"""Schedules (administrators): scheduled syncs that the API server runs, and notifications.

Names, cron expressions, outcomes and messages are text from people or the library: they are
shown in tables, st.text or st.code, never as Markdown.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from sync_core.defaults import MAX_BATCH_SIZE, RECOMMENDED_BATCH_SIZES
from sync_core.domain.access import Role
from sync_core.domain.clock import utcnow
from sync_core.domain.errors import SyncError
from sync_core.domain.statuses import Scope
from sync_core.service.notifications import Notifier, send_test_notification, summary_cron
from sync_core.service.schedules import (
    CRON_HELP,
    SCHEDULE_SCOPES,
    Schedules,
    ScheduleSpec,
    ScheduleView,
    next_fire,
)
from views._components import ui

ctx = ui.page_context()
# who changes schedules in the open demo, when nobody typed a name
ADMIN_FALLBACK = "dashboard user"
SCOPE_LABELS = {
    Scope.ALL: "Applicants and students",
    Scope.APPLICANTS: "Applicants",
    Scope.STUDENTS: "Students",
}
MESSAGES = "_schedule_messages"

st.title("Schedules")

actor = ui.actor(ADMIN_FALLBACK)
if not actor.may(Role.ADMIN):
    st.error("Only an administrator manages schedules and notifications.")
    st.stop()

schedules = Schedules(ctx)

st.caption(
    "Syncs that run on their own, started by the API server (`python -m sync_core serve`): "
    "schedules run only while it runs. Times are cron expressions in **UTC**. "
    "When a sync is already running at a fire time, the schedule **skips** that fire and its "
    "last outcome says by whom (it does not wait); the next fire runs as usual. A fire missed "
    "while the server was down runs **once** when it starts. When nothing waits, no run is "
    "recorded."
)


# ---------------------------------------------------------------- messages (shown literally)


def say(kind: str, headline: str, detail: str | None = None, hint: str | None = None) -> None:
    """Keep an outcome across the rerun: a fixed headline, then the literal details."""
    st.session_state[MESSAGES] = (kind, headline, detail, hint)


def said_error(headline: str, exc: SyncError) -> None:
    say("error", headline, exc.describe(), exc.what_to_do or None)


def show_messages() -> None:
    kind, headline, detail, hint = st.session_state.get(MESSAGES, (None, "", None, None))
    if kind is None:
        return
    {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind](
        headline
    )
    if detail:
        st.text(detail)
    if hint:
        st.text(f"What to do: {hint}")


def forget_messages() -> None:
    st.session_state.pop(MESSAGES, None)


# ---------------------------------------------------------------- the list


def _utc(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "—"


def frame(views: list[ScheduleView]) -> pd.DataFrame:
    rows = []
    for view in views:
        s = view.schedule
        rows.append(
            {
                "Name": s.name,
                "Cron (UTC)": s.cron,
                "Scope": SCOPE_LABELS.get(Scope(s.scope), s.scope),
                "Enabled": "yes" if s.enabled else "no",
                "Next fire (UTC)": _utc(view.next_fire_at) if s.enabled else "disabled",
                "Last outcome": s.last_outcome or "—",
                "Last fire (UTC)": _utc(s.last_fire_at),
                "Last run": "" if s.last_run_id is None else str(s.last_run_id),
                "Batch size": s.batch_size,
                "Limit": "all" if s.record_limit is None else f"{s.record_limit:,}",
                "Retry failed": "yes" if s.retry_failed else "no",
                "Updates": "yes" if s.include_updates else "no",
            }
        )
    return pd.DataFrame(rows)


def spec_fields(prefix: str, current: ScheduleSpec | None) -> None:
    """The fields of a schedule, inside a form; values land in session_state[prefix_*]."""
    st.text_input(
        "Name",
        value=current.name if current else "",
        key=f"{prefix}_name",
        max_chars=100,
        placeholder="Nightly students",
    )
    st.text_input(
        "Cron expression (UTC)",
        value=current.cron if current else "0 2 * * *",
        key=f"{prefix}_cron",
        help=CRON_HELP[0].upper() + CRON_HELP[1:] + ".",
    )
    scopes = list(SCHEDULE_SCOPES)
    st.selectbox(
        "What to sync",
        scopes,
        index=scopes.index(Scope(current.scope)) if current else 0,
        format_func=lambda s: SCOPE_LABELS[s],
        key=f"{prefix}_scope",
    )
    cols = st.columns(2)
    cols[0].number_input(
        "Batch size",
        min_value=1,
        max_value=MAX_BATCH_SIZE,
        value=current.batch_size if current else RECOMMENDED_BATCH_SIZES[1],
        step=10,
        key=f"{prefix}_batch",
        help="Records per step: 10-20 to test, 50 regularly, 100 for bulk.",
    )
    cols[1].number_input(
        "Limit (records per run, 0 = all waiting)",
        min_value=0,
        value=(current.record_limit or 0) if current else 0,
        step=100,
        key=f"{prefix}_limit",
        help="The next N records only; the rest wait for the next fire.",
    )
    st.checkbox(
        "Retry records that failed before",
        value=current.retry_failed if current else False,
        key=f"{prefix}_retry",
    )
    st.checkbox(
        "Include updates of records already in QuickBooks",
        value=current.include_updates if current else False,
        key=f"{prefix}_updates",
        help="Applied once the sync supports updates; until then the run sends new records only "
        "and its outcome says so.",
    )


def spec_from(prefix: str) -> ScheduleSpec:
    limit = int(st.session_state.get(f"{prefix}_limit") or 0)
    return ScheduleSpec(
        name=str(st.session_state.get(f"{prefix}_name") or ""),
        cron=str(st.session_state.get(f"{prefix}_cron") or ""),
        scope=str(st.session_state.get(f"{prefix}_scope") or Scope.ALL),
        batch_size=int(st.session_state.get(f"{prefix}_batch") or 1),
        record_limit=limit or None,
        retry_failed=bool(st.session_state.get(f"{prefix}_retry")),
        include_updates=bool(st.session_state.get(f"{prefix}_updates")),
    )


# ---------------------------------------------------------------- callbacks


def add() -> None:
    forget_messages()
    spec = spec_from("new")
    try:
        schedules.add(actor, spec)
    except SyncError as exc:
        said_error("The schedule was not added.", exc)
        return
    say("success", "Schedule added.", spec.name.strip())


def save(schedule_id: int) -> None:
    forget_messages()
    spec = spec_from(f"edit{schedule_id}")
    try:
        schedules.update(actor, schedule_id, spec)
    except SyncError as exc:
        said_error("The schedule was not saved.", exc)
        return
    say("success", "Schedule saved.", spec.name.strip())


def toggle(schedule_id: int, enable: bool, name: str) -> None:
    forget_messages()
    try:
        schedules.set_enabled(actor, schedule_id, enable)
    except SyncError as exc:
        said_error("Nothing changed.", exc)
        return
    say("success", "Schedule enabled." if enable else "Schedule disabled.", name)


def delete(schedule_id: int, name: str) -> None:
    forget_messages()
    try:
        schedules.delete(actor, schedule_id)
    except SyncError as exc:
        said_error("Nothing was deleted.", exc)
        return
    st.session_state.pop("schedules_table", None)
    say("success", "Schedule deleted.", name)


def test_notification() -> None:
    forget_messages()
    try:
        delivery = send_test_notification(ctx, actor)
    except SyncError as exc:
        said_error("No test notification was sent.", exc)
        return
    st.session_state["_test_delivery"] = [
        {"Target": r.target, "Delivered": "yes" if r.ok else "no", "Problem": r.problem or ""}
        for r in delivery.results
    ]
    if delivery.failed:
        say(
            "warning",
            f"Test notification: {delivery.delivered} of {len(delivery.results)} targets took it.",
            None,
            "Check the failing target's URL in SYNC_NOTIFY_URLS; the server log names it by "
            "number.",
        )
    else:
        say("success", f"Test notification sent to {len(delivery.results)} target(s).")


# ---------------------------------------------------------------- the page

show_messages()
try:
    views = schedules.views()
except SyncError as exc:
    ui.show_error(exc)
    st.stop()

st.subheader("Scheduled syncs")
if not views:
    st.info("No schedule yet: add one below.")
    selected: ScheduleView | None = None
else:
    event = st.dataframe(
        frame(views),
        hide_index=True,
        key="schedules_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={"Last outcome": st.column_config.TextColumn(width="large")},
    )
    rows = event.selection.rows
    selected = views[rows[0]] if rows and rows[0] < len(views) else None
    if selected is None:
        st.caption("Select a schedule to edit, disable or delete it.")

if selected is not None:
    s = selected.schedule
    with st.container(border=True):
        st.text(f"Schedule: {s.name}")
        st.code(s.cron, language=None)
        upcoming, at = [], utcnow()
        for _ in range(3):
            at = next_fire(s.cron, at)
            upcoming.append(f"{at:%Y-%m-%d %H:%M} UTC")
        st.text("Next fires: " + ", ".join(upcoming) + ("" if s.enabled else " (when enabled)"))
        if s.last_outcome:
            st.text(f"Last outcome ({_utc(s.last_outcome_at)} UTC): {s.last_outcome}")
        cols = st.columns(3)
        cols[0].button(
            "Disable" if s.enabled else "Enable",
            key=f"toggle_{s.id}",
            on_click=toggle,
            args=(s.id, not s.enabled, s.name),
        )
        confirm = cols[1].checkbox("Confirm delete", key=f"confirm_delete_{s.id}")
        cols[2].button(
            "Delete",
            key=f"delete_{s.id}",
            disabled=not confirm,
            on_click=delete,
            args=(s.id, s.name),
        )
        with st.form(f"edit_form_{s.id}"):
            st.markdown("**Edit**")
            spec_fields(f"edit{s.id}", s.spec)
            st.form_submit_button(
                "Save changes", on_click=save, args=(s.id,), key=f"save_schedule_{s.id}"
            )

with st.expander("Add a schedule", expanded=not views), st.form("add_form", clear_on_submit=False):
    spec_fields("new", None)
    st.form_submit_button("Add schedule", on_click=add, type="primary", key="add_schedule")

st.markdown(
    "Prefer cron or a systemd timer? `python -m sync_core all --batch-size 50` does the same "
    "from the command line (see the README, Deployment)."
)

# ---------------------------------------------------------------- notifications

st.subheader("Notifications")
notifier = Notifier(ctx)
targets = notifier.targets()
if targets:
    st.caption(
        "Sent by the API server: a run that ended with failures, failed or was interrupted; "
        "the QuickBooks connection lost or its refresh token expiring within 14 days; the "
        "summary, if configured. A failing target never fails a run."
    )
    st.dataframe(pd.DataFrame({"Target (from SYNC_NOTIFY_URLS)": targets}), hide_index=True)
else:
    st.info(
        "No notification target is configured: set SYNC_NOTIFY_URLS in "
        ".streamlit/secrets.toml or the environment (e-mail, Teams, Slack, webhooks)."
    )
try:
    cron = summary_cron(ctx.settings.sync_notify_summary)
except SyncError as exc:
    st.warning("SYNC_NOTIFY_SUMMARY is not valid: no summary is sent.")
    st.text(exc.describe())
else:
    st.text(
        "Summary: "
        + ("none (SYNC_NOTIFY_SUMMARY)" if cron is None else f"{cron} (UTC, SYNC_NOTIFY_SUMMARY)")
    )
st.button(
    "Send a test notification",
    key="test_notification",
    on_click=test_notification,
    disabled=not targets,
)
delivery = st.session_state.get("_test_delivery")
if delivery:
    st.dataframe(pd.DataFrame(delivery), hide_index=True, key="test_delivery")
recent = ui.guarded(notifier.recent, 10, doing="Reading the notifications sent")
if recent:
    st.markdown("**Last notifications sent**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "When (UTC)": _utc(r["claimed_at"]),  # type: ignore[arg-type]
                    "Kind": r["kind"],
                    "Title": r["title"],
                    "Delivered": f"{r['delivered'] or 0} of {r['targets'] or 0}",
                }
                for r in recent
            ]
        ),
        hide_index=True,
    )
