"""The QuickBooks client over real HTTP against the simulator: errors, retries, refresh, limits,
idempotency, queries, batches, and the audit trail it leaves."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from sync_core.domain.kinds import RecordRef
from sync_core.quickbooks.client import (
    CallContext,
    QuickBooksClient,
    RetryPolicy,
    batch_create_item,
)
from sync_core.quickbooks.errors import (
    AuthenticationError,
    DuplicateNameError,
    NetworkError,
    NotFoundError,
    QueryError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    ValidationError,
)
from sync_core.quickbooks.limiter import Lane, Limits, MemoryWindows, RealmLimiter
from sync_core.quickbooks.oauth import QuickBooksConnection
from sync_core.quickbooks.ports import TokenSet
from sync_core.settings import Secret
from sync_core.store import tables as app_tables
from sync_core.store.audit import AuditLog
from sync_core.store.tokens import TokenCipher, TokenStore, generate_key

FAST_RETRY = RetryPolicy(attempts=4, initial_wait_s=0.01, max_wait_s=0.05)


class QB:
    """A connected client, its connection and the simulator, for one test."""

    def __init__(self, sim, engine, *, limits=None, retry=FAST_RETRY, read_timeout_s=5.0):
        app_tables.metadata.create_all(engine)
        self.sim = sim
        self.engine = engine
        self.store = TokenStore(engine, TokenCipher(generate_key()), "simulator")
        self.connection = QuickBooksConnection(
            environment="simulator",
            client_id=sim.config.client_id,
            client_secret=Secret(sim.config.client_secret),
            redirect_uri="http://localhost:8501/QuickBooks",
            discovery_url=sim.discovery_url,
            store=self.store,
        )
        self.connection.bootstrap(Secret(sim.issue_refresh_token()), sim.config.realm_id)
        self.audit = AuditLog(engine)
        self.client = self.make_client(limits=limits, retry=retry, read_timeout_s=read_timeout_s)

    def make_client(self, *, limits=None, retry=FAST_RETRY, read_timeout_s=5.0):
        return QuickBooksClient(
            self.sim.base_url,
            self.sim.config.realm_id,
            self.connection,
            limiter=RealmLimiter(limits or Limits()),
            audit=self.audit,
            retry=retry,
            read_timeout_s=read_timeout_s,
        )


@pytest.fixture
def qb(simulator, empty_engine) -> QB:
    return QB(simulator, empty_engine)


def test_create_read_and_sparse_update(qb):
    created = qb.client.create_customer({"DisplayName": "Grace Uwase", "GivenName": "Grace"})
    assert created["Id"] and created["SyncToken"] == "0"
    read = qb.client.get_customer(created["Id"])
    assert read["DisplayName"] == "Grace Uwase"
    updated = qb.client.update_customer(created["Id"], read["SyncToken"], {"FamilyName": "Uwase"})
    assert updated["FamilyName"] == "Uwase" and updated["GivenName"] == "Grace"
    with pytest.raises(StaleObjectError):
        qb.client.update_customer(created["Id"], "0", {"FamilyName": "X"})
    with pytest.raises(NotFoundError):
        qb.client.get_customer("999999")


def test_every_call_carries_minorversion_and_every_post_a_requestid(qb):
    qb.client.create_customer({"DisplayName": "Eric Mugisha"})
    qb.client.query("SELECT * FROM Customer")
    qb.client.batch([batch_create_item("1", {"DisplayName": "Peace Ingabire"})])
    api = [r for r in qb.sim.inspect().requests if r.path.startswith("/v3/")]
    assert api and all(r.minorversion == "75" for r in api)
    posts = [r for r in api if r.method == "POST"]
    assert posts and all(r.requestid for r in posts)


def test_validation_error_carries_quickbooks_code_and_message(qb):
    with pytest.raises(ValidationError) as caught:
        qb.client.create_customer({"DisplayName": "Marie: Claire"})
    assert caught.value.code == "2170"
    assert caught.value.status == 400
    assert "2170" in caught.value.describe()


def test_duplicate_name_gives_the_existing_id(qb):
    first = qb.client.create_customer({"DisplayName": "John Doe"})
    with pytest.raises(DuplicateNameError) as caught:
        qb.client.create_customer({"DisplayName": "JOHN DOE"})
    assert caught.value.code == "6240"
    assert caught.value.existing_id == first["Id"]
    with pytest.raises(DuplicateNameError) as vendor:
        qb.client.create_customer({"DisplayName": "Kigali Office Supplies Ltd"})
    assert vendor.value.existing_id is None  # QuickBooks does not always say who holds it


def test_authentication_error_when_refresh_is_refused(qb):
    """The stored refresh token is dead (e.g. rotated away by another app): a clear error, and
    the connection's status says so."""
    stored = qb.store.load()
    qb.store.finish_refresh(
        TokenSet(
            access_token=Secret("expired"),
            access_expires_at=stored.tokens.access_expires_at - dt.timedelta(hours=2),
            refresh_token=Secret("revoked-token"),
        ),
        holder="test",
    )
    qb.connection._remember(None)
    with pytest.raises(AuthenticationError) as caught:
        qb.client.create_customer({"DisplayName": "Nobody"})
    assert "connect" in caught.value.hint.lower()
    status = qb.connection.status()
    assert "invalid_grant" in status.last_error and status.renewal_needed
    assert qb.sim.inspect().customer_count == 0


SHORT_WINDOW = Limits(window_s=0.2, window_margin_s=0.05)  # Intuit's minute, shrunk


def test_throttled_and_server_errors_are_retried_then_typed(qb):
    qb.client = qb.make_client(limits=SHORT_WINDOW)
    qb.sim.set_faults(throttle_storm=True)
    with pytest.raises(ThrottledError):
        qb.client.create_customer({"DisplayName": "Throttled Person"})
    qb.sim.set_faults(throttle_storm=False, server_error_rate=1.0)
    with pytest.raises(ServerError):
        qb.client.create_customer({"DisplayName": "Server Error Person"})
    # retried FAST_RETRY.attempts times each, then given up
    statuses = [r.status for r in qb.sim.inspect().requests if r.path.endswith("/customer")]
    assert statuses.count(429) == 4 and sum(1 for s in statuses if s >= 500) == 4
    qb.sim.set_faults(server_error_rate=0.0)
    assert qb.client.create_customer({"DisplayName": "Server Error Person"})["Id"]


def test_after_a_429_the_client_waits_as_told_or_a_whole_window(qb):
    """Retry-After when QuickBooks sends it; else the minute Intuit advises (the limiter's
    window: shrunk here to 0.2 s); an XML throttle body keeps its code 3001."""
    client = qb.make_client(limits=SHORT_WINDOW, retry=RetryPolicy(attempts=2))
    qb.sim.set_faults(throttle_storm=True, retry_after_s=0.6, xml_throttle_body=True)
    started = time.monotonic()
    with pytest.raises(ThrottledError) as caught:
        client.create_customer({"DisplayName": "Told To Wait"})
    waited = time.monotonic() - started
    assert caught.value.code == "3001" and caught.value.retry_after_s == 0.6
    assert 0.6 <= waited < 3.0  # Retry-After obeyed, not the backoff's few milliseconds
    qb.sim.set_faults(throttle_storm=True, retry_after_s=None, xml_throttle_body=False)
    started = time.monotonic()
    with pytest.raises(ThrottledError):
        client.create_customer({"DisplayName": "Told Nothing"})
    assert 0.2 <= time.monotonic() - started < 3.0  # one window (Intuit: 60 s) before retrying
    audit = qb.audit.recent(10)
    assert any(a["error_code"] == "3001" and a["http_status"] == 429 for a in audit)


def test_transient_faults_are_absorbed_by_retries(qb):
    qb.sim.set_faults(server_error_rate=0.5, seed=3)
    client = qb.make_client(retry=RetryPolicy(attempts=10, initial_wait_s=0.01, max_wait_s=0.05))
    ids = {client.create_customer({"DisplayName": f"Retry Person {n}"})["Id"] for n in range(20)}
    assert len(ids) == 20
    assert qb.sim.inspect().customer_count == 20
    assert qb.sim.inspect().server_errors_sent > 0


def test_network_error_when_nobody_answers(qb):
    qb.sim.set_faults(latency_ms=1500)
    client = qb.make_client(read_timeout_s=0.2)
    with pytest.raises(NetworkError) as caught:
        client.get_customer("1")
    assert "No answer" in str(caught.value)


def test_dropped_answer_is_recovered_by_requestid_without_a_second_customer(qb):
    qb.sim.set_faults(drop_after_commit_rate=1.0)
    created = qb.client.create_customer({"DisplayName": "Dropped Answer"}, requestid="r-drop-1")
    state = qb.sim.inspect()
    assert state.dropped_responses == 1 and state.requestid_replays == 1
    assert state.customer_count == 1
    assert created["DisplayName"] == "Dropped Answer"


def test_requestid_replay_returns_the_first_answer(qb):
    first = qb.client.create_customer({"DisplayName": "Replay Me"}, requestid="r-1")
    again = qb.client.create_customer({"DisplayName": "Replay Me"}, requestid="r-1")
    assert again == first
    assert qb.sim.inspect().customer_count == 1


def test_401_refreshes_once_persists_the_rotated_token_and_repeats(qb):
    before = qb.store.load()
    qb.sim.set_faults(access_token_ttl_s=0.5)
    qb.client.create_customer({"DisplayName": "Before Expiry"})
    time.sleep(0.7)
    created = qb.client.create_customer({"DisplayName": "After Expiry"})
    assert created["Id"]
    after = qb.store.load()
    assert after.version == before.version + 1
    assert after.tokens.refresh_token != before.tokens.refresh_token  # rotated, and persisted
    statuses = [r.status for r in qb.sim.inspect().requests if r.path.endswith("/customer")]
    assert statuses == [200, 401, 200]
    # the old refresh token no longer works: only the persisted one would
    fresh = qb.make_client()
    qb.connection._remember(None)
    assert fresh.create_customer({"DisplayName": "Third"})["Id"]


def test_queries_escape_apostrophes_and_backslashes(qb):
    for name in ("Jean d'Amour Uwimana", "O'Brien", "Back\\slash Name"):
        qb.client.create_customer({"DisplayName": name})
    found = qb.client.find_customers_by_display_name(
        ["Jean d'Amour Uwimana", "O'Brien", "Back\\slash Name", "Nobody"]
    )
    assert sorted(c["DisplayName"] for c in found) == [
        "Back\\slash Name",
        "Jean d'Amour Uwimana",
        "O'Brien",
    ]
    with pytest.raises(QueryError):
        qb.client.query("SELECT * FROM Customer WHERE Notes = 'x'")


def test_query_pages_beyond_1000_rows(qb):
    for start in range(0, 1050, 30):
        qb.client.batch(
            [
                batch_create_item(str(n), {"DisplayName": f"Paged Person {n:05d}"})
                for n in range(start, min(start + 30, 1050))
            ]
        )
    everyone = list(qb.client.query_customers())
    assert len(everyone) == 1050 and len({c["Id"] for c in everyone}) == 1050
    assert qb.client.count_customers() == 1050
    pages = [r for r in qb.sim.inspect().requests if r.path.endswith("/query")]
    assert len(pages) == 3  # 1,000 + 50, plus the COUNT


def test_batch_mixed_success_and_faults_matched_by_bid(qb):
    qb.client.create_customer({"DisplayName": "Taken Name"})
    results = qb.client.batch(
        [
            batch_create_item("a", {"DisplayName": "Fine One"}),
            batch_create_item("b", {"DisplayName": "Taken Name"}),
            batch_create_item("c", {"DisplayName": "Bad: Colon"}),
            batch_create_item("d", {"DisplayName": "Fine Two"}),
            {"bId": "e", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Fine One'"},
        ]
    )
    assert results["a"].entity["DisplayName"] == "Fine One"
    assert results["d"].entity["DisplayName"] == "Fine Two"
    assert isinstance(results["b"].error, DuplicateNameError)
    assert results["c"].error.code == "2170"
    assert results["e"].ok
    with pytest.raises(ValueError, match="at most 30"):
        qb.client.batch([batch_create_item(str(n), {"DisplayName": f"N{n}"}) for n in range(31)])


def test_audit_trail_records_each_call_without_secrets(qb):
    ref = RecordRef("applicant", 42)
    qb.client.create_customer(
        {"DisplayName": "Audited Person"},
        requestid="r-audit",
        context=CallContext(run_id=7, records=(ref,)),
    )
    with pytest.raises(DuplicateNameError):
        qb.client.create_customer(
            {"DisplayName": "Audited Person"}, context=CallContext(records=(ref,))
        )
    trail = qb.audit.trail("applicant", 42)
    assert [t["http_status"] for t in trail] == [400, 200]
    assert trail[0]["error_code"] == "6240" and "already exists" in trail[0]["error_message"]
    assert trail[1]["requestid"] == "r-audit" and trail[1]["run_id"] == 7
    assert trail[1]["intuit_tid"] and trail[1]["duration_ms"] is not None
    stored = qb.store.load()
    secrets = [stored.tokens.access_token.reveal(), stored.tokens.refresh_token.reveal()]
    with qb.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(sa.select(app_tables.audit_log)))
    assert not any(s in dump for s in secrets)
    assert "Bearer" not in dump


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_limiter_keeps_2000_creates_free_of_429_at_default_limits(simulator, empty_engine):
    """QuickBooks' default limits (500 requests and 40 batches per window, 10 at a time), with
    the window shrunk from 60 s to 4 s on both sides so the test takes seconds, not minutes."""
    window = 4.0
    simulator.config.limit_window_s = window
    qb = QB(simulator, empty_engine, limits=Limits(window_s=window, window_margin_s=0.5))
    started = time.monotonic()

    def single(n):
        return qb.client.create_customer({"DisplayName": f"Single {n:05d}"})["Id"]

    def batch(n):
        items = [
            batch_create_item(str(i), {"DisplayName": f"Batch {n:03d}-{i:02d}"}) for i in range(30)
        ]
        return [r.entity["Id"] for r in qb.client.batch(items).values()]

    with ThreadPoolExecutor(16) as pool:
        singles = list(pool.map(single, range(1100)))  # > 2 windows of 500 requests
        batched = [i for ids in pool.map(batch, range(30)) for i in ids]  # 900 in 30 batches
    elapsed = time.monotonic() - started
    state = simulator.inspect()
    assert len(set(singles + batched)) == 2000 == state.customer_count
    assert state.throttled_count == 0
    assert elapsed >= 2 * window  # the limiter really had to pace 1,100 + 30 requests


def test_the_access_token_is_taken_after_the_limiter_wait(simulator, empty_engine):
    """The token a request carries is read when its turn comes, not before it queued: a token
    that expired while the request waited for the rate window would get a 401."""
    simulator.config.access_token_lifetime_s = 63  # said to live 63 s; we renew 60 s early
    simulator.set_faults(access_token_ttl_s=3.0)  # and QuickBooks indeed drops it after 3 s
    simulator.config.limit_window_s = 4.0
    qb = QB(
        simulator,
        empty_engine,
        limits=Limits(requests_per_minute=1, window_s=4.0, window_margin_s=0.0),
    )
    first = qb.client.create_customer({"DisplayName": "Before The Wait"})
    started = time.monotonic()
    second = qb.client.create_customer({"DisplayName": "After The Wait"})
    assert time.monotonic() - started >= 3.5  # the second really waited for the window
    assert first["Id"] != second["Id"]
    state = simulator.inspect()
    assert state.unauthorized_count == 0
    assert state.refreshes == 2  # the bootstrap, then a renewal when the turn came


# -- the limiter's lanes: batches, ordinary requests and single creates ---------------------


def test_quickbooks_500_are_split_between_batch_requests_and_the_rest():
    """Batch requests count in QuickBooks' 500 too: 40 of the 500 are theirs, the other 460
    everyone else's, single creates leaving a tenth of those to the look-ups."""
    limits = Limits()
    assert limits.others_per_window == 460 and limits.spare_per_window == 414
    assert limits.windows_of(Lane.BATCH) == (("batches", 40), ("requests", 500))
    assert limits.windows_of(Lane.REQUEST) == (("others", 460), ("requests", 500))
    assert limits.windows_of(Lane.SPARE) == (("others", 414), ("requests", 500))
    assert limits.records_per_window == 40 * 30 + 414
    # limits shrunk below the batch limit still leave every lane a place
    assert Limits(requests_per_minute=1).spare_per_window == 1


def test_single_creates_stop_short_and_leave_the_rest_to_look_ups():
    windows = MemoryWindows()
    limits = Limits(requests_per_minute=14, batch_requests_per_minute=4)  # 10 others, 9 spare
    limiter = RealmLimiter(limits, windows, "realm")
    for _ in range(limits.spare_per_window):
        with limiter.slot(Lane.SPARE):
            pass
    now = time.time()
    assert windows.take("realm:others", limits.spare_per_window, 61.0, now) > 0  # a 10th waits
    with limiter.slot(Lane.REQUEST):  # a look-up still goes at once
        pass
    for _ in range(limits.batch_requests_per_minute):  # and so do the batches
        with limiter.slot(Lane.BATCH):
            pass
    assert len(windows.stamps("realm:requests", 61.0, time.time())) == 14  # QuickBooks' 500
    assert len(windows.stamps("realm:batches", 61.0, time.time())) == 4


def test_a_request_takes_its_places_in_all_its_windows_or_none():
    windows = MemoryWindows()
    now = time.time()
    assert windows.take_all([("a", 1), ("b", 2)], 60.0, now) == 0
    assert windows.take_all([("b", 2), ("a", 1)], 60.0, now) > 0  # "a" is full ...
    assert len(windows.stamps("b", 60.0, now)) == 1  # ... so "b" was not stamped either


class GatedWindows(MemoryWindows):
    """Windows whose batch window stays full until opened."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = threading.Event()
        self.opened = threading.Event()

    def take_all(self, windows, window_s: float, now: float) -> float:
        if any(key.endswith(":batches") for key, _ in windows) and not self.opened.is_set():
            self.asked.set()
            return 0.02
        return super().take_all(windows, window_s, now)


def test_a_request_waiting_for_its_window_holds_no_concurrency_slot():
    """A batch waiting for the batch window never keeps a single create from its slot."""
    windows = GatedWindows()
    limiter = RealmLimiter(Limits(max_concurrent=1), windows, "realm")
    sent = threading.Event()

    def batch() -> None:
        with limiter.slot(Lane.BATCH):
            sent.set()

    waiting = threading.Thread(target=batch, daemon=True)
    waiting.start()
    assert windows.asked.wait(10)
    with limiter.slot(Lane.SPARE):  # the one slot there is: free while the batch waits
        assert not sent.is_set()
    windows.opened.set()
    waiting.join(10)
    assert sent.is_set()
