"""``check``: what the product finds in the MIS before it changes anything, and what to do.

Read-only and runnable before the first start (an account without ALTER learns which grant or
statement it needs): the server and its features, each table and column the mapping uses found
or missing with its type, which status and QuickBooks Id columns are used, the account's grants,
counts per status, what an earlier integration left, duplicate identities, and problems with
what to do about each. Messages never carry SQL text or a record's personal data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from sync_core.database import (
    create_db_engine,
    database_error_text,
    is_unreachable,
    refused_connection,
)
from sync_core.domain.errors import SyncError
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.lookups import LOOKUPS
from sync_core.domain.records import PUSHED_BY, PUSHED_DATE, QUICKBOOKS_ID, STATUS
from sync_core.domain.statuses import SyncStatus
from sync_core.mis.duplicates import duplicate_counts
from sync_core.mis.schema import (
    CUSTOMER_SPECS,
    FEEDS,
    ID_COLUMN_NAMES,
    REGISTRATIONS,
    SYNC_TOKEN,
    MisSchema,
    TableSpec,
    inspect_schema,
    live_columns,
)
from sync_core.mis.scope import scope_warnings, with_scope
from sync_core.mis.server import detect_features
from sync_core.mis.setup import has_status_index
from sync_core.mis.tracking import without_quickbooks_id
from sync_core.service.analysis import analyze
from sync_core.settings import Settings
from sync_core.store import tables as app_tables
from sync_core.store.tables import record_states


def plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


@dataclass(frozen=True)
class ColumnCheck:
    name: str
    found: bool
    type: str = ""
    used_for: str = ""


@dataclass(frozen=True)
class TableCheck:
    name: str
    found: bool
    columns: list[ColumnCheck] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    severity: str  # "error": sync cannot run; "warning": it runs, something is lost or odd
    what: str
    what_to_do: str


@dataclass
class CheckReport:
    mis_database: str
    product_tables: str
    server: str = ""
    reachable: bool = False
    tables: list[TableCheck] = field(default_factory=list)
    status_columns: dict[str, str] = field(default_factory=dict)
    id_columns: dict[str, str] = field(default_factory=dict)
    sync_token_columns: dict[str, str] = field(default_factory=dict)
    grants: list[str] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    earlier_system: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and not any(p.severity == "error" for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


REGISTRATION_ROLES = {
    "intake_id": "feeds Intake",
    "splz_id": "feeds Program",
    "level_id": "feeds Level",
    "prg_mode_id": "feeds ProgramMode",
    "camp_id": "feeds Campus",
    "reg_date": "picks the latest registration",
    "reg_active": "picks the latest registration",
}


def _role(spec: TableSpec, column: str) -> str:
    customer_table = spec.name in {s.name for s in CUSTOMER_SPECS.values()}
    if column == spec.key:
        return "row id" if customer_table or spec.name == REGISTRATIONS.name else "key"
    if column == spec.identity:
        return "identity" if customer_table else "the student it belongs to"
    if column in spec.required:
        return "name (required)"
    if spec.name == REGISTRATIONS.name:
        return REGISTRATION_ROLES.get(column, "not used")
    if not customer_table:
        return "readable name"
    feeds = FEEDS.get(column, "nothing sent")
    return feeds if feeds.startswith("nothing") else f"feeds {feeds}"


def _table_check(inspector: sa.Inspector, tables: dict[str, str], spec: TableSpec) -> TableCheck:
    actual = tables.get(spec.name.lower())
    wanted = [*spec.required, *spec.optional]
    if actual is None:
        return TableCheck(
            spec.name, False, [ColumnCheck(c, False, "", _role(spec, c)) for c in wanted]
        )
    found = {c["name"].lower(): c for c in live_columns(inspector, actual)}
    return TableCheck(
        actual,
        True,
        [
            ColumnCheck(
                found[c.lower()]["name"] if c.lower() in found else c,
                c.lower() in found,
                str(found[c.lower()]["type"]) if c.lower() in found else "",
                _role(spec, c),
            )
            for c in wanted
        ],
    )


def _start_up_work(
    report: CheckReport, engine: sa.Engine, store: sa.Engine, tables: dict[str, str]
) -> None:
    """What the first start will still create (a status index, the product's tables), and the
    grant it needs: said before the start, not only when the start is refused."""
    inspector = sa.inspect(engine)
    for spec in CUSTOMER_SPECS.values():
        actual = tables.get(spec.name.lower())
        if actual is None:
            continue
        columns = {c["name"].lower() for c in live_columns(inspector, actual)}
        if STATUS.lower() in columns and not has_status_index(engine, actual):
            report.problems.append(
                Problem(
                    "warning",
                    f"{actual} has no index on its status column yet",
                    "It is created at the first start; the account needs the INDEX grant on "
                    f"{actual} (or a DBA creates it: the start-up message gives the statement).",
                )
            )
    existing = {t.lower() for t in sa.inspect(store).get_table_names()}
    missing = [t.name for t in app_tables.metadata.sorted_tables if t.name.lower() not in existing]
    if missing:
        database = store.url.database or "the database"
        report.problems.append(
            Problem(
                "warning",
                f"the product's tables are not in {database} yet ({len(missing)} to create)",
                "They are created at the first start; the account needs the CREATE and INDEX "
                f"grants on {database} (or set SYNC_DATABASE_URL to a database of the "
                "product's own).",
            )
        )


def _grants(conn: sa.Connection) -> list[str]:
    if conn.dialect.name == "sqlite":
        return ["SQLite: whoever may write the file may do everything"]
    try:
        return [str(row[0]) for row in conn.exec_driver_sql("SHOW GRANTS")]
    except DBAPIError:
        return ["(the server did not say)"]


def _earlier_system(
    conn: sa.Connection, store: sa.Engine, schema: MisSchema, kind_name: str
) -> dict[str, int]:
    table = schema.customers(APPLICANT if kind_name == APPLICANT.name else STUDENT)
    linked = conn.execute(
        sa.select(sa.func.count())
        .select_from(table.table)
        .where(table.status == int(SyncStatus.SYNCED), sa.not_(without_quickbooks_id(table)))
    ).scalar_one()
    with store.connect() as sconn:
        ours = sconn.execute(
            sa.select(sa.func.count())
            .select_from(record_states)
            .where(
                record_states.c.kind == kind_name,
                record_states.c.outcome_unknown.is_(False),
                record_states.c.error_message.is_(None),
                record_states.c.sent_display_name.is_not(None),
            )
        ).scalar_one()
    return {"linked_before_this_product": max(int(linked) - int(ours), 0)}


def run_check(settings: Settings) -> CheckReport:
    """Everything ``check`` reports. Never raises for what it finds: problems are listed."""
    describe = settings.describe()
    report = CheckReport(describe["MIS database"], describe["Product tables"])
    report.scope = settings.scope_rules().describe()
    if settings.uses_demo_database:
        from sync_core.demo.embedded import ensure_demo_database

        ensure_demo_database(settings)
    engine = create_db_engine(settings.database_url)
    store = (
        engine
        if settings.store_database_url == settings.database_url
        else create_db_engine(settings.store_database_url)
    )
    try:
        _inspect(report, settings, engine, store)
    except OperationalError as exc:
        report.reachable = False
        refused = refused_connection(exc)
        if refused is not None:  # the server answered: it is reachable, the URL is wrong
            report.problems.append(Problem("error", *refused))
        elif is_unreachable(exc):
            report.problems.append(
                Problem(
                    "error",
                    "Cannot reach the MIS database",
                    "Check MIS_DATABASE_URL (host, port) and that the server is running.",
                )
            )
        else:  # reachable, but an operation was refused (a grant, a lock): say which error
            report.reachable = True
            report.problems.append(
                Problem(
                    "error",
                    database_error_text(exc) or "The database refused an operation",
                    "Check the database user's grants (SELECT on the MIS tables), then run "
                    "the check again.",
                )
            )
    finally:
        engine.dispose()
        if store is not engine:
            store.dispose()
    return report


def _inspect(report: CheckReport, settings: Settings, engine: sa.Engine, store: sa.Engine) -> None:
    features = detect_features(engine, portable=settings.portable_sql)
    report.reachable = True
    report.server = features.describe()
    inspector = sa.inspect(engine)
    tables = {t.lower(): t for t in inspector.get_table_names()}
    for spec in (*CUSTOMER_SPECS.values(), REGISTRATIONS):
        report.tables.append(_table_check(inspector, tables, spec))
    for lookup in LOOKUPS.values():
        spec = TableSpec(lookup.table, lookup.key, lookup.key, (lookup.key,), lookup.columns)
        report.tables.append(_table_check(inspector, tables, spec))
    with engine.connect() as conn:
        report.grants = _grants(conn)
    missing_tracking: list[str] = []
    for kind_name, spec in CUSTOMER_SPECS.items():
        actual = tables.get(spec.name.lower())
        if actual is None:
            report.problems.append(
                Problem(
                    "error",
                    f"{spec.name} not found",
                    "Set MIS_DATABASE_URL to the university's MIS database.",
                )
            )
            continue
        found = {c["name"].lower(): c["name"] for c in live_columns(inspector, actual)}
        for missing in (c for c in spec.required if c.lower() not in found):
            report.problems.append(
                Problem(
                    "error",
                    f"{spec.name} has no column {missing}",
                    "Ask the DBA which column holds it; the product cannot identify or name "
                    "the records without it.",
                )
            )
        report.status_columns[kind_name] = found.get(STATUS.lower(), "")
        id_column = next((found[n] for n in ID_COLUMN_NAMES[kind_name] if n in found), "")
        report.id_columns[kind_name] = id_column
        report.sync_token_columns[kind_name] = found.get(SYNC_TOKEN, "")
        for column in (STATUS, PUSHED_BY, PUSHED_DATE):
            if column.lower() not in found:
                missing_tracking.append(f"{actual}.{column}")
        if not id_column:
            missing_tracking.append(f"{actual}.{QUICKBOOKS_ID}")
    if missing_tracking:
        report.problems.append(
            Problem(
                "warning",
                f"tracking columns not there yet: {', '.join(missing_tracking)}",
                "They are added at the first start; the account needs the ALTER grant on those "
                "tables (or a DBA adds them: the start-up message gives the statements).",
            )
        )
    _start_up_work(report, engine, store, tables)
    if any(p.severity == "error" for p in report.problems) or missing_tracking:
        return
    try:
        schema = with_scope(
            inspect_schema(engine, portable=settings.portable_sql), settings.scope_rules()
        )
    except SyncError as exc:
        report.problems.append(Problem("error", exc.describe(), exc.what_to_do))
        return
    for line in schema.warnings():
        report.problems.append(Problem("warning", line, "Nothing to do if that is expected."))
    for table in schema.customer_tables:
        for line in scope_warnings(settings.scope_rules(), table):
            report.problems.append(Problem("warning", line, "Fix the scope settings."))
    with engine.connect() as conn:
        analysis = analyze(conn, schema)
        report.counts = analysis.as_dict()
        report.duplicates = {
            "applicants_tracking_id": duplicate_counts(conn, schema.applicants.table.c.tracking_id)
            if schema.applicants.has("tracking_id")
            else {"values": 0, "records": 0},
            "students_reg_no": duplicate_counts(conn, schema.students.identity),
        }
        has_store = record_states.name.lower() in {
            t.lower() for t in sa.inspect(store).get_table_names()
        }
        for kind_name in CUSTOMER_SPECS:
            counts = analysis.applicants if kind_name == APPLICANT.name else analysis.students
            earlier = (
                _earlier_system(conn, store, schema, kind_name)
                if has_store
                else {"linked_before_this_product": counts.synced - counts.synced_without_id}
            )
            earlier["synced_without_id"] = counts.synced_without_id
            earlier["left_in_progress"] = counts.in_progress
            report.earlier_system[kind_name] = earlier
    for name, found in report.duplicates.items():
        if found["values"]:
            what = "tracking_id" if name.startswith("applicants") else "RegNo"
            report.problems.append(
                Problem(
                    "warning",
                    f"{found['values']:,} {what} values are shared by {found['records']:,} records",
                    f"Two records with one {what} cannot be told apart in QuickBooks: correct "
                    "the duplicates in the MIS (the Preview flags them).",
                )
            )
    overall = analysis.overall
    if overall.synced_without_id:
        report.problems.append(
            Problem(
                "warning",
                f"{plural(overall.synced_without_id, 'record is', 'records are')} synced "
                "without a QuickBooks Id",
                "The next sync looks for their customers and writes the Ids it finds; those "
                "not found stay listed here and on the Overview.",
            )
        )
    if overall.in_progress:
        report.problems.append(
            Problem(
                "warning",
                f"{plural(overall.in_progress, 'record is', 'records are')} left in progress "
                "(status 3)",
                "Unless a sync is running now, the next sync checks them in QuickBooks before "
                "sending anything (no duplicate).",
            )
        )
