"""The use cases the dashboard, the CLI and the API call: one typed facade over the library.

Callers hold a :class:`SyncService` and nothing else: no engine, no SQL, no HTTP. Every method
either answers plain values or raises a :class:`~sync_core.domain.errors.SyncError`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from sync_core.database import create_db_engine, is_unreachable, refused_connection
from sync_core.demo import embedded as demo
from sync_core.domain.access import Actor, Role, require
from sync_core.domain.errors import ConfigurationError, DatabaseUnavailable, NotFound
from sync_core.domain.kinds import APPLICANT, STUDENT, RecordKind, kind_named
from sync_core.domain.mapping import MappingOptions
from sync_core.domain.statuses import Outcome, Scope, SyncStatus
from sync_core.mis.reader import fetch_records, find_row_id
from sync_core.mis.schema import MisSchema, inspect_schema
from sync_core.mis.scope import scope_warnings, with_scope
from sync_core.mis.search import RecordMatch, search_records
from sync_core.mis.setup import ensure_tracking_columns
from sync_core.mis.tracking import count_records
from sync_core.service.analysis import SyncAnalysis, analyze
from sync_core.service.preview import Preview, preview
from sync_core.service.records import PushOutcome, PushStatus, RecordDetail
from sync_core.settings import Settings, load_settings
from sync_core.store import record_state
from sync_core.store.audit import AuditLog
from sync_core.store.runs import RunHistory, RunSummary
from sync_core.store.setup import ensure_tables

if TYPE_CHECKING:
    # The QuickBooks side (requests, intuit-oauth, the sync engine) is imported where it is
    # used: reading the MIS (analyze, preview) starts a cold process without it.
    from sync_core.quickbooks.client import QuickBooksClient, RetryPolicy
    from sync_core.quickbooks.oauth import ConnectionStatus
    from sync_core.service.wiring import QuickBooksWiring
    from sync_core.sync.claim import Databases
    from sync_core.sync.engine import SyncEngine
    from sync_core.sync.request import Progress, SyncRequest, SyncResult

# How long an analysis's counts stand for the totals of pages (the Preview's, the worklist's)
# when no run has made progress since: a page then costs no count of its own.
COUNTS_REUSE_S = 5.0


class SyncService:
    def __init__(self, settings: Settings, mis: sa.Engine, store: sa.Engine) -> None:
        self.settings = settings
        self._mis = mis
        self._store = store
        self.setup_actions: list[str] = []
        self._schema: MisSchema | None = None
        self._lock = threading.Lock()
        self._counted: tuple[float, tuple[Any, ...], SyncAnalysis] | None = None

    # ------------------------------------------------------------ the databases

    def open(self) -> SyncService:
        """Bring both databases to what sync needs and inspect the MIS as found."""
        with _database_errors():
            self.setup_actions = ensure_tracking_columns(self._mis) + ensure_tables(self._store)
            found = inspect_schema(self._mis, portable=self.settings.portable_sql)
            self._schema = with_scope(found, self.settings.scope_rules())
        return self

    @property
    def schema(self) -> MisSchema:
        if self._schema is None:
            self.open()
        assert self._schema is not None
        return self._schema

    @property
    def mis_engine(self) -> sa.Engine:
        """The MIS database, for tools and tests (pages and the API use the methods below)."""
        return self._mis

    @property
    def store_engine(self) -> sa.Engine:
        return self._store

    @property
    def databases(self) -> Databases:
        from sync_core.sync.claim import Databases

        return Databases(mis=self._mis, store=self._store, schema=self.schema)

    @property
    def is_demo(self) -> bool:
        return self.settings.uses_demo_database or self.settings.uses_simulator

    @property
    def mapping_options(self) -> MappingOptions:
        return MappingOptions(
            custom_field_definitions=dict(self.settings.qbo_custom_fields),
            phone_region=self.settings.phone_region,
            student_customer=self.settings.sync_student_customer,
        )

    def describe_configuration(self) -> dict[str, str]:
        return self.settings.describe()

    def schema_warnings(self) -> list[str]:
        """What the MIS lacks that the mapping or the scope would use, one line each."""
        rules = self.settings.scope_rules()
        return self.schema.warnings() + [
            line for table in self.schema.customer_tables for line in scope_warnings(rules, table)
        ]

    @cached_property
    def history(self) -> RunHistory:
        return RunHistory(self._store)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self._store)

    @cached_property
    def _quickbooks(self) -> QuickBooksWiring:
        from sync_core.service.wiring import QuickBooksWiring

        return QuickBooksWiring(self.settings, self._store, self.audit)

    def close(self) -> None:
        self._mis.dispose()
        if self._store is not self._mis:
            self._store.dispose()

    # ------------------------------------------------------------ reading the MIS

    def analyze(self, *, shared_identity: bool = True) -> SyncAnalysis:
        """The counts per status; ``shared_identity=False`` skips the slowest of them (records
        sharing a RegNo or tracking id), which stays 0."""
        version = self.data_version()
        with _database_errors(), self._mis.connect() as conn:
            result = analyze(conn, self.schema, shared_identity=shared_identity)
        self._counted = (time.monotonic(), version, result)
        return result

    def recent_counts(self, max_age_s: float = COUNTS_REUSE_S) -> SyncAnalysis | None:
        """The latest analysis when it is younger than ``max_age_s`` and no run has made
        progress since (pages reuse its counts rather than count again), else None."""
        counted = self._counted
        if counted is None:
            return None
        at, version, result = counted
        if time.monotonic() - at > max_age_s or version != self.data_version():
            return None
        return result

    def preview(
        self,
        kind: RecordKind | str,
        *,
        limit: int = 10,
        offset: int = 0,
        after: int | None = None,
        before: int | None = None,
        last: bool = False,
        include_failed: bool = False,
        total: int | None = None,
    ) -> Preview:
        """A page of the Preview (see :func:`sync_core.service.preview.preview`): by keyset
        (``after`` / ``before`` a row id, or the ``last`` page), or by ``offset``. Its total is
        ``total`` when given, else the counts of a recent analysis (:meth:`recent_counts`),
        else one count of its own."""
        kind = kind_named(kind)
        statuses = (
            (SyncStatus.NOT_SYNCED, SyncStatus.FAILED)
            if include_failed
            else (SyncStatus.NOT_SYNCED,)
        )
        recent = self.recent_counts() if total is None else None
        if recent is not None:
            counts = recent.for_kind(kind)
            total = counts.not_synced + (counts.failed if include_failed else 0)
        with _database_errors(), self._mis.connect() as conn:
            return preview(
                conn,
                self.schema,
                kind,
                limit=limit,
                offset=offset,
                after=after,
                before=before,
                last=last,
                total=total,
                options=self.mapping_options,
                statuses=statuses,
            )

    def search(self, text: str) -> list[RecordMatch]:
        with _database_errors(), self._mis.connect() as conn:
            return search_records(conn, self.schema, text)

    def record(self, kind: RecordKind | str, row_id: int) -> RecordDetail | None:
        """Everything about one record: its row, payload, state, audit trail and run entries."""
        kind = kind_named(kind)
        with _database_errors():
            with self._mis.connect() as conn:
                page = fetch_records(conn, self.schema, kind, row_ids=[row_id])
            if not page.records:
                return None
            with self._store.connect() as conn:
                state = record_state.get(conn, kind, row_id)
        return RecordDetail(
            kind=kind,
            source=page.records[0],
            mapped=page.mapped(self.mapping_options)[0],
            state=state,
            audit=self.audit.trail(kind.name, row_id),
            run_errors=self.history.errors_of_record(kind.name, row_id),
        )

    def find_record(self, kind: RecordKind | str, identity: str) -> RecordDetail | None:
        """By ApplicationID (applicants) or RegNo (students)."""
        kind = kind_named(kind)
        with _database_errors(), self._mis.connect() as conn:
            row_id = find_row_id(conn, self.schema, kind, identity)
        return None if row_id is None else self.record(kind, row_id)

    # ------------------------------------------------------------ runs

    def runs(self, limit: int = 50) -> list[RunSummary]:
        return self.history.recent(limit=limit)

    def run(self, run_id: int) -> RunSummary | None:
        return self.history.get(run_id)

    def active_run(self) -> RunSummary | None:
        return self.history.active()

    def run_entries(
        self,
        run_id: int,
        *,
        outcome: Outcome | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """A run's per-record failures and notices (renamed, adopted)."""
        return self.history.errors(run_id, outcome=outcome, limit=limit, newest_first=newest_first)

    def data_version(self) -> tuple[Any, ...]:
        """Changes whenever a run (from any process) makes progress or ends: caches of counts
        and previews are keyed by it."""
        last = self.history.recent(1)
        if not last:
            return ()
        run = last[0]
        return (run.id, run.state, run.done, run.finished_at)

    # ------------------------------------------------------------ QuickBooks connection

    @property
    def bootstrap_error(self) -> str | None:
        return self._quickbooks.bootstrap_error

    @property
    def embedded_simulator(self) -> object | None:
        return self._quickbooks.endpoints.embedded_simulator

    def connection_status(self) -> ConnectionStatus:
        return self._quickbooks.connection.status()

    def authorization_url(self, actor: Actor) -> str:
        require(actor, Role.ADMIN, "connect QuickBooks")
        return self._quickbooks.connection.authorization_url()

    def complete_authorization(
        self, actor: Actor, code: str, state: str, realm_id: str
    ) -> ConnectionStatus:
        require(actor, Role.ADMIN, "connect QuickBooks")
        return self._quickbooks.connection.complete_authorization(code, state, realm_id)

    def complete_from_redirect(self, actor: Actor, redirect_url: str) -> ConnectionStatus:
        require(actor, Role.ADMIN, "connect QuickBooks")
        return self._quickbooks.connection.complete_from_redirect(redirect_url)

    def disconnect(self, actor: Actor) -> str | None:
        require(actor, Role.ADMIN, "disconnect QuickBooks")
        return self._quickbooks.connection.disconnect()

    def client(self, retry: RetryPolicy | None = None) -> QuickBooksClient:
        return self._quickbooks.client(retry)

    # ------------------------------------------------------------ syncing

    def sync_engine(
        self,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        cancel_event: threading.Event | None = None,
        retry: RetryPolicy | None = None,
    ) -> SyncEngine:
        from sync_core.store.locks import RunLock
        from sync_core.sync.engine import SyncEngine

        return SyncEngine(
            self.databases,
            self.client(retry),
            history=self.history,
            lock=RunLock(self._store, self.history),
            mapping_options=self.mapping_options,
            on_progress=on_progress,
            cancel_event=cancel_event,
        )

    def nothing_to_sync(self, request: SyncRequest) -> bool:
        """No record in the request's scope waits, no update was asked for, and no run left any
        behind to check: a run
        would only add an empty line to the history (a cron job would flood it)."""
        if request.scope is Scope.RECORD or request.wants_updates:
            return False  # a run with updates always runs: comparing is its work
        with _database_errors(), self._mis.connect() as conn:
            for kind in (APPLICANT, STUDENT):
                table = self.schema.customers(kind)
                statuses = (*request.statuses, SyncStatus.IN_PROGRESS)
                wanted = statuses if kind in request.kinds else (SyncStatus.IN_PROGRESS,)
                if count_records(conn, table, wanted):
                    return False
        return True

    def run_sync(
        self,
        request: SyncRequest,
        actor: Actor,
        on_progress: Callable[[Progress], None] | None = None,
        cancel_event: threading.Event | None = None,
        retry: RetryPolicy | None = None,
    ) -> SyncResult | None:
        """Run a sync in this thread to its end (the CLI); None when there is nothing to sync
        (no run is recorded). Setting ``cancel_event`` stops it after the batches in flight."""
        request = _made_by(request, actor)
        if self.nothing_to_sync(request):
            return None
        engine = self.sync_engine(on_progress=on_progress, cancel_event=cancel_event, retry=retry)
        return engine.run(request)

    def start_sync(self, request: SyncRequest, actor: Actor) -> int | None:
        """Start a sync in the background of this process (the dashboard, the API); answers its
        run id at once, None when there is nothing to sync, or raises SyncAlreadyRunning."""
        request = _made_by(request, actor)
        if self.nothing_to_sync(request):
            return None
        from sync_core.service import background

        cancel = threading.Event()
        engine = self.sync_engine(cancel_event=cancel)
        return background.start(engine, request, cancel)

    def cancel_sync(self, run_id: int, actor: Actor) -> bool:
        """Ask a run to stop after its current step, wherever it runs."""
        from sync_core.service import background

        require(actor, Role.OPERATOR, "cancel a sync")
        return background.cancel(run_id) | self.history.request_cancel(run_id)

    def push_record(self, kind: RecordKind | str, row_id: int, actor: Actor) -> PushOutcome:
        """Push one record now, through the same engine as a full run (a run of one record).

        A synced record is left alone: pushing it again could only risk a second customer.
        Raises SyncAlreadyRunning when a sync of the company is running.
        """
        kind = kind_named(kind)
        detail = self.record(kind, row_id)
        if detail is None:
            return PushOutcome(
                PushStatus.NOT_FOUND, f"No {kind.name} with row id {row_id} in the MIS"
            )
        if detail.is_synced:
            return PushOutcome(
                PushStatus.ALREADY_SYNCED,
                f"Already in QuickBooks as customer {detail.source.qk_id}: nothing to push.",
                qk_id=detail.source.qk_id,
                detail=detail,
            )
        from sync_core.sync.request import SyncRequest

        require(actor, Role.OPERATOR, "push records to QuickBooks")
        request = SyncRequest(
            scope=Scope.RECORD, operator=actor.name, batch_size=1, records=((kind.name, row_id),)
        )
        result = self.sync_engine().run(_made_by(request, actor))
        after = self.record(kind, row_id)
        if after is None:
            raise NotFound(f"The {kind.name} with row id {row_id} left the MIS during the push")
        if after.is_synced:
            name = (after.state or {}).get("sent_display_name") or after.mapped.display_name
            return PushOutcome(
                PushStatus.SYNCED,
                f"Synced as QuickBooks customer {after.source.qk_id} ({name}).",
                qk_id=after.source.qk_id,
                run_id=result.run.id,
                detail=after,
            )
        return PushOutcome(
            PushStatus.FAILED,
            after.last_error or result.run.message or "The record could not be synced.",
            run_id=result.run.id,
            detail=after,
        )


def _made_by(request: SyncRequest, actor: Actor) -> SyncRequest:
    """The request as the actor makes it: their role allows it, their name is the operator."""
    require(actor, Role.OPERATOR, "push records to QuickBooks")
    return replace(request, operator=actor.name)


@contextmanager
def _database_errors() -> Iterator[None]:
    """Turn "the database cannot be reached" or "refused the connection" (a wrong password, no
    such database) into one readable error (no SQL, no URL)."""
    try:
        yield
    except OperationalError as exc:
        refused = refused_connection(exc)
        if refused is not None:
            raise ConfigurationError(refused[0], what_to_do=refused[1]) from None
        if not is_unreachable(exc):
            raise
        raise DatabaseUnavailable(
            "Cannot reach the MIS database",
            what_to_do="Check MIS_DATABASE_URL and that the database server is running.",
        ) from None


def open_service(settings: Settings | None = None) -> SyncService:
    """Settings -> a service on a MIS ready for sync (the demo's when MIS_DATABASE_URL is unset)."""
    settings = settings or load_settings()
    if settings.uses_demo_database:
        demo.ensure_demo_database(settings)
    with _database_errors():
        mis = create_db_engine(settings.database_url)
        if settings.store_database_url == settings.database_url:
            store = mis
        else:
            store = create_db_engine(settings.store_database_url)
        return SyncService(settings, mis, store).open()
