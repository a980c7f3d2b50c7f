"""Telling people: a run that failed or was interrupted, a QuickBooks connection lost or about to
expire, an optional daily or weekly summary, and a test message from the dashboard.

Targets are apprise URLs (``SYNC_NOTIFY_URLS``): ``mailto://`` (e-mail), ``workflows://`` or a
Power Automate URL (Teams), ``slack://`` or a Slack hook URL, ``json://`` (any webhook), and the
rest of apprise's list. Each event is sent once, whichever ``serve`` process sees it first (a
claim in ``qbsync_notification``). A target that fails is logged by its number and service name
(its URL carries secrets, so it is never written anywhere) and never fails anything else.

Messages carry counts, run ids, states and what to do: no personal data of a record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sync_core.domain.access import Actor, Role, require
from sync_core.domain.clock import utcnow
from sync_core.domain.errors import InvalidRequest, SyncError
from sync_core.domain.secret import Secret
from sync_core.domain.statuses import RunState, Scope
from sync_core.service.schedules import latest_fire, parse_cron
from sync_core.settings import SettingsError
from sync_core.store.locks import HOST, STALE_AFTER, process_alive
from sync_core.store.notifications import NotificationLog

if TYPE_CHECKING:
    from sync_core.service.facade import SyncService
    from sync_core.store.runs import RunSummary

log = logging.getLogger(__name__)

EXPIRY_WARNING = dt.timedelta(days=14)  # warn when the refresh token expires sooner than this
RUN_LOOKBACK = dt.timedelta(hours=24)  # runs that ended longer ago are not told of any more
SUMMARY_LATE_LIMIT = dt.timedelta(hours=6)  # a summary more than this late is not sent
SUMMARY_PRESETS = {"daily": "0 7 * * *", "weekly": "0 7 * * 1"}
SUMMARY_OFF = ("", "off", "none", "no")
# schemes whose host part is a real host name (shown in logs and on the page); for the others
# (slack://TOKEN/..., and so on) the host part is itself a secret
_HOST_IS_PUBLIC = {
    "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos",
    "workflow", "workflows", "http", "https", "ntfy", "ntfys", "gotify", "gotifys",
}  # fmt: skip


class Level:
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class Notice:
    key: str  # the event's identity: told once
    kind: str  # run / connection / expiry / summary / test
    title: str
    body: str
    level: str = Level.INFO


@dataclass(frozen=True)
class TargetResult:
    target: str  # "2. E-Mail (127.0.0.1)": number, service, public host; never the URL
    ok: bool
    problem: str | None = None


@dataclass(frozen=True)
class Delivery:
    notice: Notice
    results: list[TargetResult] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)


# ---------------------------------------------------------------- apprise, quietly


class _NoSecretsFilter(logging.Filter):
    """Apprise logs whole URLs (passwords, webhook tokens) at DEBUG and some errors: keep only
    its warnings and errors that hold no URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        try:
            text = record.getMessage()
        except Exception:
            return False
        return "://" not in text and "@" not in text


_FILTER = _NoSecretsFilter()


def _apprise() -> ModuleType:
    import apprise

    logger = logging.getLogger("apprise")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return apprise


def describe_target(n: int, url: Secret) -> str:
    """How a target is named in logs and on the page: its number, service and public host."""
    text = url.reveal()
    scheme = text.split("://", 1)[0].lower() if "://" in text else "?"
    host = ""
    if scheme in _HOST_IS_PUBLIC:
        try:
            host = urlsplit(text).hostname or ""
        except ValueError:
            host = ""
    service = _service_name(scheme)
    return f"{n}. {service}" + (f" ({host})" if host else "")


def _service_name(scheme: str) -> str:
    names = {
        "mailto": "E-mail",
        "mailtos": "E-mail",
        "json": "Webhook (JSON)",
        "jsons": "Webhook (JSON)",
        "xml": "Webhook (XML)",
        "xmls": "Webhook (XML)",
        "form": "Webhook (form)",
        "forms": "Webhook (form)",
        "slack": "Slack",
        "workflow": "Teams (Power Automate)",
        "workflows": "Teams (Power Automate)",
        "https": "HTTPS service",
        "http": "HTTP service",
    }
    return names.get(scheme, scheme or "unknown")


def _apprise_type(level: str) -> str:
    return {
        Level.SUCCESS: "success",
        Level.WARNING: "warning",
        Level.FAILURE: "failure",
    }.get(level, "info")


def summary_cron(setting: str) -> str | None:
    """``SYNC_NOTIFY_SUMMARY`` as a cron expression (None: no summary); SettingsError when it
    is neither off, daily, weekly nor a cron expression."""
    value = (setting or "").strip().lower()
    if value in SUMMARY_OFF:
        return None
    try:
        return parse_cron(SUMMARY_PRESETS.get(value, value))
    except InvalidRequest:
        raise SettingsError(
            f"SYNC_NOTIFY_SUMMARY must be daily, weekly, off or a cron expression; got {setting!r}"
        ) from None


# ---------------------------------------------------------------- the use case


class Notifier:
    """Sends notices to the configured targets; decides which events deserve one."""

    def __init__(self, service: SyncService, urls: Sequence[Secret] | None = None) -> None:
        self.service = service
        self.urls = list(service.settings.notification_urls() if urls is None else urls)
        self.log = NotificationLog(service.store_engine)

    @property
    def configured(self) -> bool:
        return bool(self.urls)

    def targets(self) -> list[str]:
        return [describe_target(n, url) for n, url in enumerate(self.urls, start=1)]

    def recent(self, limit: int = 20) -> list[dict[str, object]]:
        """The latest events told (key, kind, when, title, targets, delivered)."""
        return self.log.recent(limit)

    # ------------------------------------------------------------ sending

    def send(self, notice: Notice) -> Delivery:
        """Send to every target, one at a time; never raises."""
        results = []
        for n, url in enumerate(self.urls, start=1):
            name = describe_target(n, url)
            try:
                ok, problem = self._send_one(url, notice)
            except Exception as exc:  # a plugin's own failure: logged by type only
                ok, problem = False, f"the notification library failed ({type(exc).__name__})"
            if not ok:
                log.warning(
                    "notification %r not delivered to target %s: %s", notice.kind, name, problem
                )
            results.append(TargetResult(name, ok, problem))
        return Delivery(notice, results)

    def _send_one(self, url: Secret, notice: Notice) -> tuple[bool, str | None]:
        apprise = _apprise()
        plugin = apprise.Apprise.instantiate(url.reveal())
        if plugin is None:
            return False, "not a URL the notification library knows (check its scheme and form)"
        sender = apprise.Apprise()
        sender.add(plugin)
        ok = bool(
            sender.notify(
                title=notice.title, body=notice.body, notify_type=_apprise_type(notice.level)
            )
        )
        return ok, None if ok else "the target refused it or could not be reached"

    def notify_once(self, notice: Notice, now: dt.datetime | None = None) -> Delivery | None:
        """Send ``notice`` unless it was sent already (by this or another process)."""
        if not self.configured:
            return None
        if not self.log.claim(notice.key, notice.kind, notice.title, now or utcnow()):
            return None
        delivery = self.send(notice)
        try:
            self.log.record_delivery(notice.key, len(delivery.results), delivery.delivered)
        except Exception:
            log.warning("could not record the delivery of notification %r", notice.kind)
        return delivery

    # ------------------------------------------------------------ what deserves a notice

    def check(self, now: dt.datetime | None = None) -> list[Delivery]:
        """Every periodic check; each one's failure is logged and the others still run."""
        if not self.configured:
            return []
        now = now or utcnow()
        sent: list[Delivery] = []
        for check in (self.check_runs, self.check_connection, self.check_summary):
            try:
                sent += check(now)
            except Exception as exc:
                log.warning("notification check %s failed (%s)", check.__name__, _describe(exc))
        return sent

    def check_runs(self, now: dt.datetime) -> list[Delivery]:
        sent = []
        for run in self.service.runs(limit=50):
            notice = run_notice(run, now)
            if notice is not None:
                delivery = self.notify_once(notice, now)
                if delivery is not None:
                    sent.append(delivery)
        return sent

    def check_connection(self, now: dt.datetime) -> list[Delivery]:
        notice = connection_notice(self.service, now)
        if notice is None:
            return []
        delivery = self.notify_once(notice, now)
        return [delivery] if delivery is not None else []

    def check_summary(self, now: dt.datetime) -> list[Delivery]:
        cron = summary_cron(self.service.settings.sync_notify_summary)
        if cron is None:
            return []
        fire = latest_fire(cron, now)
        if now - fire > SUMMARY_LATE_LIMIT:
            return []
        delivery = self.notify_once(summary_notice(self.service, cron, fire), now)
        return [delivery] if delivery is not None else []


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyncError):
        return exc.describe()
    return type(exc).__name__


# ---------------------------------------------------------------- the notices


def _when(at: dt.datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "an unknown time"


def _run_line(run: RunSummary) -> str:
    return (
        f"Run {run.id} ({run.scope}, started by {run.operator} at {_when(run.started_at)}): "
        f"{run.synced:,} synced, {run.failed:,} failed of {run.planned:,} planned."
    )


WHERE_TO_LOOK = (
    "The records and what to do about each: the dashboard's Runs page, "
    "GET /api/v1/sync/runs/{id}, or `python -m sync_core status`."
)


def _stale(run: RunSummary, now: dt.datetime) -> bool:
    """A run still marked running whose process is gone (same host) or silent too long."""
    if run.host == HOST and run.pid is not None and not process_alive(run.pid):
        return True
    beat = run.heartbeat_at or run.started_at
    return now - beat >= STALE_AFTER


def run_notice(run: RunSummary, now: dt.datetime) -> Notice | None:
    """The notice a run deserves: failed records, failed, or interrupted; None otherwise (a
    clean run, a cancel, a one-record push whose caller saw the answer, an old run)."""
    if run.scope == Scope.RECORD:
        return None
    key = f"run:{run.id}:ended"
    if run.is_running:
        if not _stale(run, now) or now - (run.heartbeat_at or run.started_at) > RUN_LOOKBACK:
            return None
        return Notice(
            key,
            "run",
            f"QuickBooks sync run {run.id} was interrupted",
            f"{_run_line(run)}\nIts process stopped at {_when(run.heartbeat_at)} before the run "
            "finished. The next run checks the records it had in flight in QuickBooks before "
            f"sending them again, so nothing is duplicated.\n{WHERE_TO_LOOK}",
            Level.FAILURE,
        )
    if run.finished_at is None or now - run.finished_at > RUN_LOOKBACK:
        return None
    if run.state is RunState.INTERRUPTED:
        title = f"QuickBooks sync run {run.id} was interrupted"
    elif run.state is RunState.FAILED:
        title = f"QuickBooks sync run {run.id} failed"
    elif run.failed:
        title = f"QuickBooks sync run {run.id} ended with {run.failed:,} failed records"
    else:
        return None
    message = f"\n{run.message}" if run.message else ""
    return Notice(key, "run", title, f"{_run_line(run)}{message}\n{WHERE_TO_LOOK}", Level.FAILURE)


def connection_notice(service: SyncService, now: dt.datetime) -> Notice | None:
    """The connection lost (a refresh refused, its refresh token expired, or the configured
    refresh token refused at start) or expiring within 14 days; None when it is fine, was never
    made or was disconnected on purpose."""
    status = service.connection_status()
    reconnect = (
        "Connect again on the dashboard's QuickBooks page (an administrator) or with "
        "`python -m sync_core connect`."
    )
    if not status.connected:
        problem = service.bootstrap_error  # the headless connection (QBO_REFRESH_TOKEN) failed
        if not problem:
            return None  # never connected, or disconnected on purpose
        digest = hashlib.sha256(problem.encode("utf-8")).hexdigest()[:12]
        return Notice(
            f"connection-bootstrap:{status.environment}:{digest}",
            "connection",
            "QuickBooks not connected",
            f"The server could not connect to QuickBooks: {problem}.\n"
            f"Syncs fail until it is connected. {reconnect}",
            Level.FAILURE,
        )
    realm = status.realm_id or "?"
    expires = status.refresh_expires_at
    if status.last_error:
        digest = hashlib.sha256(status.last_error.encode("utf-8")).hexdigest()[:12]
        return Notice(
            f"connection-lost:{realm}:{digest}:{status.refreshed_at or ''}",
            "connection",
            "QuickBooks connection lost",
            f"The connection to QuickBooks company {realm} no longer works: "
            f"{status.last_error}.\nSyncs fail until it is renewed. {reconnect}",
            Level.FAILURE,
        )
    if expires is None or expires - now > EXPIRY_WARNING:
        return None
    if expires <= now:
        return Notice(
            f"token-expired:{realm}:{expires:%Y-%m-%d}",
            "connection",
            "QuickBooks connection expired",
            f"The QuickBooks refresh token of company {realm} expired at {_when(expires)}. "
            f"Syncs fail until the connection is renewed. {reconnect}",
            Level.FAILURE,
        )
    days = max((expires - now).days, 0)
    return Notice(
        f"token-expiring:{realm}:{expires:%Y-%m-%d}",
        "expiry",
        f"QuickBooks connection expires in {days} day{'s' if days != 1 else ''}",
        f"The QuickBooks refresh token of company {realm} expires at {_when(expires)}. "
        "A refresh token lives 100 days from its last use and five years at most: a sync "
        "renews it unless the five years are reached. If this notice comes back after a "
        f"sync, the connection must be made again. {reconnect}",
        Level.WARNING,
    )


def summary_notice(service: SyncService, cron: str, fire: dt.datetime) -> Notice:
    """Counts, the runs since the previous summary, and the connection."""
    from croniter import croniter

    previous = croniter(cron, fire).get_prev(dt.datetime)
    counts = service.analyze().overall
    runs = [r for r in service.runs(limit=500) if r.started_at >= previous]
    status = service.connection_status()
    lines = [
        f"Records: {counts.total:,} in total, {counts.synced:,} synced "
        f"({counts.progress_pct:.1f} %), {counts.not_synced:,} not synced, "
        f"{counts.failed:,} failed.",
        f"Runs since {_when(previous)}: {len(runs)}, "
        f"{sum(r.synced for r in runs):,} records synced, "
        f"{sum(r.failed for r in runs):,} failed"
        + (
            f"; {sum(1 for r in runs if r.state in (RunState.FAILED, RunState.INTERRUPTED))} "
            "failed or interrupted."
            if runs
            else "."
        ),
    ]
    if status.connected:
        lines.append(
            f"QuickBooks: connected to company {status.realm_id}"
            + (
                f", refresh token valid until {_when(status.refresh_expires_at)}."
                if status.refresh_expires_at
                else "."
            )
        )
    else:
        lines.append("QuickBooks: not connected.")
    return Notice(
        f"summary:{fire:%Y-%m-%dT%H:%M}",
        "summary",
        f"QuickBooks sync summary, {fire:%Y-%m-%d}",
        "\n".join(lines),
        Level.INFO,
    )


def send_test_notification(service: SyncService, actor: Actor) -> Delivery:
    """The dashboard's "send a test notification" button: every target, now, not logged as an
    event. Raises InvalidRequest when no target is configured."""
    require(actor, Role.ADMIN, "send a test notification")
    notifier = Notifier(service)
    if not notifier.configured:
        raise InvalidRequest(
            "No notification target is configured",
            what_to_do="Set SYNC_NOTIFY_URLS in .streamlit/secrets.toml or the environment "
            "(see the README, Schedules and notifications), then restart.",
        )
    notice = Notice(
        key=f"test:{utcnow():%Y%m%dT%H%M%S}",
        kind="test",
        title="QuickBooks sync: test notification",
        body=f"{actor.name} sent this test from the sync dashboard at {_when(utcnow())}. "
        "Failed runs, a QuickBooks connection lost or about to expire, and summaries (when "
        "configured) arrive here.",
        level=Level.INFO,
    )
    return notifier.send(notice)
