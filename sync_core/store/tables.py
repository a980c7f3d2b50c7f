"""The product's own tables (all prefixed ``qbsync_``), in the MIS database or a database of
their own (``SYNC_DATABASE_URL``).

They hold what the MIS has no place for: the QuickBooks connection (tokens encrypted), the audit
trail of every QuickBooks call, sync runs and their per-record errors, a per-company run lock, and
per-record sync state (the attempt counter behind each ``requestid``, the name last sent, the last
error), which is what makes a crash or a lost answer recoverable without a duplicate customer.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}

oauth_connections = sa.Table(
    "qbsync_oauth_connection",
    metadata,
    # one connection per QuickBooks environment (simulator / sandbox / production)
    sa.Column("environment", sa.String(20), primary_key=True),
    sa.Column("realm_id", sa.String(50), nullable=False),
    sa.Column("access_token_enc", sa.Text),
    sa.Column("access_expires_at", sa.DateTime),
    sa.Column("refresh_token_enc", sa.Text, nullable=False),
    sa.Column("refresh_expires_at", sa.DateTime),
    # bumped on every token change; a refresh that lost the race sees it moved
    sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("connected_at", sa.DateTime),
    sa.Column("refreshed_at", sa.DateTime),
    sa.Column("last_error", sa.Text),
    # Intuit refused the refresh token: the connection must be renewed by someone
    sa.Column("refresh_refused_at", sa.DateTime),
    # the process refreshing now, and until when others wait for it (no lock across the network)
    sa.Column("refresh_lease_until", sa.DateTime),
    sa.Column("refresh_lease_holder", sa.String(200)),
    # an operator disconnected: the tokens are gone and a configured token does not reconnect
    sa.Column("disconnected_at", sa.DateTime),
    **MYSQL_TABLE_ARGS,
)

# authorisations started and not yet answered: the redirect back from Intuit arrives in a new
# browser session (or the CLI), so the CSRF ``state`` we sent must be kept server-side
oauth_states = sa.Table(
    "qbsync_oauth_state",
    metadata,
    sa.Column("state", sa.String(100), primary_key=True),
    sa.Column("environment", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    **MYSQL_TABLE_ARGS,
)

audit_log = sa.Table(
    "qbsync_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.Integer),
    sa.Column("operation", sa.String(40), nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("requestid", sa.String(50)),
    sa.Column("http_status", sa.Integer),
    sa.Column("error_code", sa.String(20)),
    sa.Column("error_message", sa.Text),
    sa.Column("intuit_tid", sa.String(100)),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("attempts", sa.Integer),
    # an operator's action that is no QuickBooks call (reconciliation: link, re-push): who did
    # it and what changed (record and customer ids, never a name or a token)
    sa.Column("actor", sa.String(200)),
    sa.Column("detail", sa.Text),
    sa.Index("ix_qbsync_audit_at", "at"),
    sa.Index("ix_qbsync_audit_run", "run_id"),
    **MYSQL_TABLE_ARGS,
)

# which MIS records an audited call was about (a batch call is about up to 30)
audit_records = sa.Table(
    "qbsync_audit_record",
    metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("row_id", sa.Integer, primary_key=True),
    sa.Index("ix_qbsync_audit_record_row", "kind", "row_id"),
    **MYSQL_TABLE_ARGS,
)

runs = sa.Table(
    "qbsync_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("realm_id", sa.String(50), nullable=False),
    sa.Column("scope", sa.String(20), nullable=False),  # applicants / students / all / record
    sa.Column("operator", sa.String(200), nullable=False),
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("retry_failed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("state", sa.String(30), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("heartbeat_at", sa.DateTime),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("planned", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("done", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("synced", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("failed", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("adopted", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("renamed", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("reconciled", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("released", sa.Integer, nullable=False, server_default=sa.text("0")),
    # synced records whose changes were sent, and those compared with nothing to send
    sa.Column("updated", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("records_per_s", sa.Float),
    # the most records the run may send ("the next N"); NULL: all pending
    sa.Column("record_limit", sa.Integer),
    # seconds the run is waiting for QuickBooks' limit now, and to its end by the limiter's pace
    sa.Column("waiting_s", sa.Float),
    sa.Column("eta_s", sa.Float),
    sa.Column("message", sa.Text),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    **MYSQL_TABLE_ARGS,
)

run_errors = sa.Table(
    "qbsync_run_error",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("row_id", sa.Integer, nullable=False),
    sa.Column("identity", sa.String(200), nullable=False),
    sa.Column("display_name", sa.String(500)),
    sa.Column("code", sa.String(20)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("hint", sa.Text),
    # "failed" for errors; "renamed" / "adopted" for notices the operator should see
    sa.Column("outcome", sa.String(20), nullable=False, server_default="failed"),
    sa.Index("ix_qbsync_run_error_run", "run_id"),
    **MYSQL_TABLE_ARGS,
)

sync_locks = sa.Table(
    "qbsync_sync_lock",
    metadata,
    sa.Column("realm_id", sa.String(50), primary_key=True),
    sa.Column("run_id", sa.Integer),
    sa.Column("operator", sa.String(200)),
    sa.Column("started_at", sa.DateTime),
    sa.Column("heartbeat_at", sa.DateTime),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    **MYSQL_TABLE_ARGS,
)

record_states = sa.Table(
    "qbsync_record_state",
    metadata,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("row_id", sa.Integer, primary_key=True),
    sa.Column("identity", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("sent_display_name", sa.String(500)),
    # the last request was sent but its answer never came: look before sending again
    sa.Column("outcome_unknown", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("renamed_from", sa.String(500)),
    sa.Column("error_code", sa.String(20)),
    sa.Column("error_message", sa.Text),
    sa.Column("error_hint", sa.Text),
    sa.Column("last_run_id", sa.Integer),
    sa.Column("updated_at", sa.DateTime),
    **MYSQL_TABLE_ARGS,
)
