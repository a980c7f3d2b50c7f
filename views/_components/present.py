"""Presentation helpers shared by the dashboard's pages: tables and text built from what the
library returns. Pure: no Streamlit, no SQL, no HTTP, so every page stays layout and widgets."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from sync_core.domain.statuses import Outcome, RunState, Scope, SyncStatus

STATUS_ORDER = tuple(
    s.label
    for s in (SyncStatus.SYNCED, SyncStatus.NOT_SYNCED, SyncStatus.FAILED, SyncStatus.IN_PROGRESS)
)
# Mid-tone colours readable on a light and on a dark background alike.
STATUS_COLORS = {
    SyncStatus.SYNCED.label: "#2E9E5B",
    SyncStatus.NOT_SYNCED.label: "#8A94A6",
    SyncStatus.FAILED.label: "#D9534F",
    SyncStatus.IN_PROGRESS.label: "#E0A526",
}
# Streamlit's bundled Material Symbols: they render in every browser, unlike emoji.
RUN_STATE_ICONS = {
    RunState.RUNNING: ":material/hourglass_top:",
    RunState.COMPLETED: ":material/check_circle:",
    RunState.COMPLETED_WITH_ERRORS: ":material/warning:",
    RunState.CANCELLED: ":material/cancel:",
    RunState.FAILED: ":material/error:",
    RunState.INTERRUPTED: ":material/block:",
}
KIND_TITLES = {"applicant": "Applicant", "student": "Student"}
CUSTOM_FIELDS_NOTICE = (
    "QuickBooks Online has no classic custom fields on a Customer, so the seed's 13 custom "
    "fields (CustomerType, ApplicationID, RegNo, Campus, Program, ...) are written to the "
    "customer's **Notes** as `Key: value` lines, unless `QBO_CUSTOM_FIELDS` maps them to "
    "custom field definitions of the company (QuickBooks Online Advanced allows up to 12, "
    "Plus 4, Essentials none). CustomerType and the ApplicationID / RegNo always stay in "
    "Notes as well: that is how the sync recognises its own customers."
)


# ---------------------------------------------------------------- numbers, times


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count:,} {word}"


def format_duration(seconds: float | None) -> str:
    """``75`` -> ``1 min 15 s``; ``None`` -> ``—``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_duration_short(seconds: float | None) -> str:
    """For a metric, whose value must fit a narrow column: ``75`` -> ``1m 15s``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_rate(records_per_s: float | None) -> str:
    if not records_per_s:
        return "—"
    return f"{records_per_s:,.1f} records/s"


def zone(tz_name: str | None) -> dt.tzinfo:
    """The browser's time zone when it is known and valid, else UTC."""
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


def to_local(value: dt.datetime | None, tz_name: str | None = None) -> dt.datetime | None:
    """The library stores naive UTC datetimes; show them in the operator's zone."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone(tz_name))


def format_time(value: dt.datetime | None, tz_name: str | None = None) -> str:
    local = to_local(value, tz_name)
    if local is None:
        return "—"
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")


def jsonable(value: Any) -> Any:
    """A row or payload made safe for ``st.json`` and CSV: datetimes and decimals as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


# ---------------------------------------------------------------- counts


def status_frame(analysis: Any) -> pd.DataFrame:
    """Long table for the charts: one row per (group, status) with count and share."""
    rows = []
    for group, counts in (
        ("Applicants", analysis.applicants),
        ("Students", analysis.students),
        ("Overall", analysis.overall),
    ):
        values = {
            SyncStatus.SYNCED.label: counts.synced,
            SyncStatus.NOT_SYNCED.label: counts.not_synced,
            SyncStatus.FAILED.label: counts.failed,
            SyncStatus.IN_PROGRESS.label: counts.in_progress,
        }
        for status in STATUS_ORDER:
            rows.append(
                {
                    "group": group,
                    "status": status,
                    "count": values[status],
                    "share": values[status] / counts.total if counts.total else 0.0,
                }
            )
    return pd.DataFrame(rows)


def progress_frame(analysis: Any) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"group": group, "progress_pct": counts.progress_pct, "total": counts.total}
            for group, counts in (
                ("Applicants", analysis.applicants),
                ("Students", analysis.students),
                ("Overall", analysis.overall),
            )
        ]
    )


def pending_count(analysis: Any, scope: str, retry_failed: bool) -> int:
    """How many records a run of ``scope`` would take on (not synced, plus failed on retry)."""
    groups = {
        Scope.APPLICANTS: [analysis.applicants],
        Scope.STUDENTS: [analysis.students],
        Scope.ALL: [analysis.applicants, analysis.students],
    }[Scope(scope)]
    return sum(c.not_synced + (c.failed if retry_failed else 0) for c in groups)


# ---------------------------------------------------------------- runs


def run_outcome(run: Any) -> str:
    """Plain text for tables: ``completed with errors (1 failed)``."""
    if run.failed and run.state is not RunState.RUNNING:
        return f"{run.state} ({run.failed:,} failed)"
    return run.state


def run_headline(run: Any, tz_name: str | None = None) -> str:
    """``Run 7 · all · by Ada · started 2025-... · completed with errors``."""
    return (
        f"Run {run.id} · {run.scope} · by {run.operator} · started "
        f"{format_time(run.started_at, tz_name)} · {run.state}"
    )


def run_progress_text(run: Any) -> str:
    """``120 of 2,050 records done (5%) · about 1 min 30 s to go``: done means the outcome is
    known; the time to go is what the run publishes (the pace QuickBooks' limits allow)."""
    text = f"{run.done:,} of {plural(run.planned, 'record')} done ({run.progress:.0%})"
    if run.is_running and run.eta_s is not None:
        text += f" · about {format_duration(run.eta_s)} to go"
    return text


def waiting_text(run: Any) -> str | None:
    """``Waiting for QuickBooks' limit, about 12 s``, while the run waits for it."""
    waiting = getattr(run, "waiting_s", None)
    if not run.is_running or not waiting or waiting <= 0:
        return None
    return f"Waiting for QuickBooks' limit, about {max(1, round(waiting))} s"


def limit_text(record_limit: int | None) -> str:
    return "all pending" if record_limit is None else f"the next {record_limit:,}"


def run_settings_text(run: Any) -> str:
    """``all pending · 50 records per step · new records only`` (what the run was asked)."""
    parts = [] if run.scope == Scope.RECORD else [limit_text(run.record_limit)]
    parts.append(f"{plural(run.batch_size, 'record')} per step")
    if run.scope != Scope.RECORD:
        parts.append("retrying failures" if run.retry_failed else "new records only")
    return " · ".join(parts)


def run_duration_s(run: Any) -> float | None:
    if run.started_at is None:
        return None
    end = run.finished_at or run.heartbeat_at
    if end is None:
        return None
    return max((end - run.started_at).total_seconds(), 0.0)


def runs_frame(runs: Sequence[Any], tz_name: str | None = None) -> pd.DataFrame:
    columns = [
        "Run",
        "Outcome",
        "Scope",
        "Operator",
        "Started",
        "Duration",
        "Planned",
        "Done",
        "Synced",
        "Failed",
        "Renamed",
        "Adopted",
        "Records/s",
        "Limit",
        "Batch size",
        "Retry failed",
        "Message",
    ]
    rows = [
        {
            "Run": run.id,
            "Outcome": run_outcome(run),
            "Scope": run.scope,
            "Operator": run.operator,
            "Started": format_time(run.started_at, tz_name),
            "Duration": format_duration(run_duration_s(run)),
            "Planned": run.planned,
            "Done": run.done,
            "Synced": run.synced,
            "Failed": run.failed,
            "Renamed": run.renamed,
            "Adopted": run.adopted,
            "Records/s": run.records_per_s,
            "Limit": limit_text(getattr(run, "record_limit", None)),
            "Batch size": run.batch_size,
            "Retry failed": "yes" if run.retry_failed else "no",
            "Message": run.message or "",
        }
        for run in runs
    ]
    return pd.DataFrame(rows, columns=columns)


def record_label(kind: str, identity: str | None, row_id: int | None) -> str:
    """``Applicant 1234`` / ``Student 2021/BCS/0001`` / ``Student (row 55, no RegNo)``."""
    title = KIND_TITLES.get(kind, kind.title())
    identity = (identity or "").strip()
    if kind == "student" and (not identity or identity == str(row_id)):
        return f"{title} (row {row_id}, no RegNo)"
    return f"{title} {identity or row_id}"


def record_query(kind: str, row_id: int) -> dict[str, str]:
    """The Records page's query parameters that open this record."""
    return {"kind": kind, "id": str(row_id)}


def errors_frame(
    errors: Iterable[Mapping[str, Any]], outcome: str = Outcome.FAILED
) -> pd.DataFrame:
    """A run's per-record errors (or its renamed / adopted notices), as the operator reads them."""
    columns = (
        ["Record", "Name", "QuickBooks code", "Message", "What to do"]
        if outcome == Outcome.FAILED
        else ["Record", "Name", "Message"]
    )
    rows = [
        {
            "Record": record_label(e["kind"], e.get("identity"), e.get("row_id")),
            "Name": e.get("display_name") or "",
            "QuickBooks code": e.get("code") or "",
            "Message": e.get("message") or "",
            "What to do": e.get("hint") or "",
        }
        for e in errors
    ]
    return pd.DataFrame(rows, columns=columns)


def errors_csv(errors: Iterable[Mapping[str, Any]], run_id: int) -> bytes:
    """The run's errors and notices as CSV (UTF-8 with BOM, so Excel reads accents right)."""
    fields = [
        "run_id",
        "at_utc",
        "outcome",
        "kind",
        "row_id",
        "identity",
        "display_name",
        "code",
        "message",
        "hint",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for e in errors:
        at = e.get("at")
        writer.writerow(
            {
                "run_id": run_id,
                "at_utc": at.isoformat(sep=" ") if isinstance(at, dt.datetime) else at or "",
                "outcome": e.get("outcome") or Outcome.FAILED,
                "kind": e.get("kind"),
                "row_id": e.get("row_id"),
                "identity": e.get("identity") or "",
                "display_name": e.get("display_name") or "",
                "code": e.get("code") or "",
                "message": e.get("message") or "",
                "hint": e.get("hint") or "",
            }
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def runs_csv(runs: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    rows = [jsonable(run.as_dict()) for run in runs]
    fields = list(rows[0]) if rows else ["id"]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---------------------------------------------------------------- records and payloads


def payload_row(mapped: Any) -> dict[str, Any]:
    """One table row: the payload's standard fields exactly as sent, then the custom fields."""
    payload = mapped.payload
    row: dict[str, Any] = {
        "Row": mapped.row_id,
        "Warnings": "; ".join(mapped.warnings),
        "Cannot send": mapped.error or "",
        "DisplayName": payload.get("DisplayName", ""),
        "GivenName": payload.get("GivenName", ""),
        "MiddleName": payload.get("MiddleName", ""),
        "FamilyName": payload.get("FamilyName", ""),
        "Email": (payload.get("PrimaryEmailAddr") or {}).get("Address", ""),
        "Phone": (payload.get("PrimaryPhone") or {}).get("FreeFormNumber", ""),
    }
    row.update(mapped.fields)
    return row


def payload_frame(mapped_records: Sequence[Any], field_names: Sequence[str]) -> pd.DataFrame:
    # what the registrar must read first: the warnings, then the payload
    columns = [
        "Row",
        "Warnings",
        "Cannot send",
        "DisplayName",
        "GivenName",
        "MiddleName",
        "FamilyName",
        "Email",
        "Phone",
        *field_names,
    ]
    return pd.DataFrame([payload_row(m) for m in mapped_records], columns=columns)


def placement_frame(mapped: Any) -> pd.DataFrame:
    """Where each of the seed's custom fields goes in QuickBooks, with its value."""
    return pd.DataFrame(
        [
            {
                "Field": name,
                "Value": value,
                "Written to": mapped.placement.get(name, "Notes")
                if value
                else "(empty: not written)",
            }
            for name, value in mapped.fields.items()
        ],
        columns=["Field", "Value", "Written to"],
    )


def source_frame(row: Mapping[str, Any]) -> pd.DataFrame:
    """The MIS row as column/value pairs (a student's registration flattened after it)."""
    items = []
    for key, value in row.items():
        if isinstance(value, Mapping):
            items += [(f"{key}.{k}", v) for k, v in value.items()]
        elif key == "registration" and value is None:
            items.append((key, "(none)"))
        else:
            items.append((key, value))
    return pd.DataFrame(
        [{"Column": k, "Value": "" if v is None else str(jsonable(v))} for k, v in items],
        columns=["Column", "Value"],
    )


def matches_frame(matches: Sequence[Any]) -> pd.DataFrame:
    columns = ["Type", "Row", "ApplicationID / RegNo", "Name", "Email", "Tracking id", "Status"]
    return pd.DataFrame(
        [
            {
                "Type": KIND_TITLES.get(m.kind, m.kind),
                "Row": m.row_id,
                "ApplicationID / RegNo": m.identity,
                "Name": m.name,
                "Email": m.email,
                "Tracking id": m.tracking_id,
                "Status": m.status_label,
            }
            for m in matches
        ],
        columns=columns,
    )


def audit_frame(trail: Iterable[Mapping[str, Any]], tz_name: str | None = None) -> pd.DataFrame:
    columns = [
        "When",
        "Operation",
        "HTTP",
        "QuickBooks code",
        "Message",
        "requestid",
        "intuit_tid",
        "ms",
    ]
    return pd.DataFrame(
        [
            {
                "When": format_time(a.get("at"), tz_name),
                "Operation": a.get("operation") or "",
                "HTTP": a.get("http_status"),
                "QuickBooks code": a.get("error_code") or "",
                "Message": a.get("error_message") or "",
                "requestid": a.get("requestid") or "",
                "intuit_tid": a.get("intuit_tid") or "",
                "ms": a.get("duration_ms"),
            }
            for a in trail
        ],
        columns=columns,
    )


def record_errors_frame(
    errors: Iterable[Mapping[str, Any]], tz_name: str | None = None
) -> pd.DataFrame:
    columns = ["When", "Run", "Outcome", "QuickBooks code", "Message", "What to do"]
    return pd.DataFrame(
        [
            {
                "When": format_time(e.get("at"), tz_name),
                "Run": e.get("run_id"),
                "Outcome": e.get("outcome") or Outcome.FAILED,
                "QuickBooks code": e.get("code") or "",
                "Message": e.get("message") or "",
                "What to do": e.get("hint") or "",
            }
            for e in errors
        ],
        columns=columns,
    )


# ---------------------------------------------------------------- configuration


def demo_banner(uses_demo_database: bool, uses_simulator: bool) -> str | None:
    if uses_demo_database and uses_simulator:
        return "Demo data and simulated QuickBooks"
    if uses_demo_database:
        return "Demo data (QuickBooks is real: pushes create real customers)"
    if uses_simulator:
        return "Simulated QuickBooks (the MIS data is real)"
    return None


def describe_frame(description: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"Setting": k, "Value": v} for k, v in description.items()], columns=["Setting", "Value"]
    )


# ---------------------------------------------------------------- the worklist

NO_REASON = "no reason recorded (it failed before this product kept reasons)"


def worklist_frame(items: Sequence[Any]) -> pd.DataFrame:
    """One row per record: who it is, where it stands, and what its last push left."""
    columns = [
        "Record",
        "Name",
        "Status",
        "Campus",
        "Intake",
        "Warnings",
        "Last error",
        "What to do",
        "Attempts",
    ]
    rows = [
        {
            "Record": record_label(i.kind, i.mapped.identity, i.row_id),
            "Name": i.mapped.display_name,
            "Status": i.status.label,
            "Campus": i.mapped.fields.get("Campus", ""),
            "Intake": i.mapped.fields.get("Intake", ""),
            "Warnings": "; ".join(
                [*i.mapped.warnings, *([i.mapped.error] if i.mapped.error else [])]
            ),
            "Last error": (i.error_message or (NO_REASON if i.status == SyncStatus.FAILED else ""))
            + (f" (code {i.error_code})" if i.error_code else ""),
            "What to do": i.what_to_do,
            "Attempts": i.attempts,
        }
        for i in items
    ]
    return pd.DataFrame(rows, columns=columns)


def warnings_of(mapped: Any) -> list[str]:
    """A record's warnings, and why it cannot be sent (if so) first."""
    return ([f"Cannot be sent: {mapped.error}"] if mapped.error else []) + list(mapped.warnings)


def failures_csv(items: Iterable[Any]) -> bytes:
    """The records that failed and wait, with the reason and what to do (their last attempt),
    as CSV (UTF-8 with BOM, so Excel reads accents right)."""
    fields = [
        "kind",
        "row_id",
        "identity",
        "display_name",
        "campus",
        "intake",
        "attempts",
        "last_run_id",
        "error_code",
        "reason",
        "what_to_do",
        "updated_at_utc",
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for i in items:
        updated = i.state.get("updated_at")
        writer.writerow(
            {
                "kind": i.kind,
                "row_id": i.row_id,
                "identity": i.mapped.identity,
                "display_name": i.mapped.display_name,
                "campus": i.mapped.fields.get("Campus", ""),
                "intake": i.mapped.fields.get("Intake", ""),
                "attempts": i.attempts,
                "last_run_id": i.state.get("last_run_id") or "",
                "error_code": i.error_code,
                "reason": i.error_message or NO_REASON,
                "what_to_do": i.what_to_do,
                "updated_at_utc": updated.isoformat(sep=" ")
                if isinstance(updated, dt.datetime)
                else "",
            }
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def failures_frame(analysis: Any) -> pd.DataFrame:
    """Failed records per type, for a chart of their own (at a size a person sees)."""
    return pd.DataFrame(
        [
            {"group": "Applicants", "failed": analysis.applicants.failed},
            {"group": "Students", "failed": analysis.students.failed},
        ]
    )
