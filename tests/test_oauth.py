"""The QuickBooks connection: authorisation with state, headless bootstrap, encrypted token
store, refresh races between processes, status and disconnect."""

from __future__ import annotations

import multiprocessing
import sys
import types
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import sqlalchemy as sa

from sync_core.database import create_db_engine
from sync_core.quickbooks.errors import AuthenticationError
from sync_core.quickbooks.oauth import OAuthStateError, QuickBooksConnection
from sync_core.settings import Secret
from sync_core.store import tables as app_tables
from sync_core.store.tokens import TokenCipher, TokenKeyError, TokenStore, generate_key

REDIRECT = "http://localhost:8501/QuickBooks"


def make_connection(sim, engine, key: str) -> QuickBooksConnection:
    app_tables.metadata.create_all(engine)
    return QuickBooksConnection(
        environment="simulator",
        client_id=sim.config.client_id,
        client_secret=Secret(sim.config.client_secret),
        redirect_uri=REDIRECT,
        discovery_url=sim.discovery_url,
        store=TokenStore(engine, TokenCipher(key), "simulator"),
    )


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def connection(simulator, empty_engine, key) -> QuickBooksConnection:
    return make_connection(simulator, empty_engine, key)


def follow_consent(url: str) -> str:
    """What the browser does: Intuit's consent redirects back to our redirect URI."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return answer.headers["Location"]


def test_authorization_code_flow_checks_state_and_stores_realm(connection, simulator):
    url = connection.authorization_url()
    query = parse_qs(urlparse(url).query)
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    assert len(query["state"][0]) >= 24
    redirect = follow_consent(url)
    assert redirect.startswith(REDIRECT)
    status = connection.complete_from_redirect(redirect)
    assert status.connected and status.realm_id == simulator.config.realm_id
    assert status.access_expires_at > status.connected_at
    # the same answer cannot be replayed: its state was used up
    with pytest.raises(OAuthStateError):
        connection.complete_from_redirect(redirect)


def test_forged_state_is_refused_and_nothing_is_stored(connection):
    redirect = follow_consent(connection.authorization_url())
    params = parse_qs(urlparse(redirect).query)
    with pytest.raises(OAuthStateError, match="state"):
        connection.complete_authorization(params["code"][0], "forged-state", params["realmId"][0])
    assert not connection.status().connected


def test_denied_consent_is_a_clear_error(connection):
    with pytest.raises(AuthenticationError, match="access_denied"):
        connection.complete_from_redirect(f"{REDIRECT}?error=access_denied&state=x")


def test_headless_bootstrap_only_when_nothing_is_stored(connection, simulator):
    status = connection.bootstrap(Secret(simulator.issue_refresh_token()), "realm-from-config")
    assert status.connected and status.realm_id == "realm-from-config"
    version = connection.store.load().version
    # a second bootstrap with a stale configured token changes nothing
    connection.bootstrap(Secret("stale-configured-token"), "realm-from-config")
    assert connection.store.load().version == version


def test_bad_bootstrap_token_is_a_clear_error(connection):
    with pytest.raises(AuthenticationError, match="QBO_REFRESH_TOKEN"):
        connection.bootstrap(Secret("not-a-token"), "123")


def test_tokens_are_unreadable_in_the_table(connection, simulator, empty_engine):
    connection.bootstrap(Secret(simulator.issue_refresh_token()), simulator.config.realm_id)
    stored = connection.store.load()
    with empty_engine.connect() as conn:
        row = conn.execute(sa.select(app_tables.oauth_connections)).mappings().one()
    raw = " ".join(str(v) for v in row.values())
    assert stored.tokens.access_token.reveal() not in raw
    assert stored.tokens.refresh_token.reveal() not in raw
    assert row["refresh_token_enc"].startswith("gAAAA")  # a Fernet token


def test_a_wrong_key_gives_a_clear_error(connection, simulator, empty_engine):
    connection.bootstrap(Secret(simulator.issue_refresh_token()), simulator.config.realm_id)
    other = TokenStore(empty_engine, TokenCipher(generate_key()), "simulator")
    with pytest.raises(TokenKeyError, match="cannot be decrypted with this QBO_TOKEN_KEY"):
        other.load()
    with pytest.raises(TokenKeyError, match="not a valid key"):
        TokenCipher("not-a-fernet-key")
    with pytest.raises(TokenKeyError, match="not set"):
        TokenCipher("")


def test_status_never_shows_a_token_and_disconnect_revokes(connection, simulator):
    connection.bootstrap(Secret(simulator.issue_refresh_token()), simulator.config.realm_id)
    stored = connection.store.load()
    shown = str(connection.status().as_dict()) + repr(stored)
    assert stored.tokens.refresh_token.reveal() not in shown
    assert stored.tokens.access_token.reveal() not in shown
    assert connection.disconnect() is None
    assert not connection.status().connected
    # revoked at Intuit: the old refresh token no longer works anywhere
    answer = requests.post(
        f"{simulator.base_url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": stored.tokens.refresh_token.reveal()},
        auth=(simulator.config.client_id, simulator.config.client_secret),
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def _refresh_in_another_process(url, key, base_url, discovery_url, rejected, barrier, out):
    from sync_core.database import create_db_engine
    from sync_core.quickbooks.oauth import QuickBooksConnection
    from sync_core.settings import Secret
    from sync_core.store.tokens import TokenCipher, TokenStore

    try:  # whatever fails, the test hears of it (a silent child would look like a hang)
        engine = create_db_engine(url)
        connection = QuickBooksConnection(
            environment="simulator",
            client_id="simulator-client-id",
            client_secret=Secret("simulator-client-secret"),
            redirect_uri=REDIRECT,
            discovery_url=discovery_url,
            store=TokenStore(engine, TokenCipher(key), "simulator"),
        )
        barrier.wait(timeout=120)
        out.put(("ok", connection.refresh_access_token(rejected=rejected)))
    except Exception as exc:  # reported to the test
        out.put(("error", repr(exc)))


def test_two_processes_refreshing_at_once_keep_the_newest_token(
    connection, simulator, db_url, key, monkeypatch
):
    connection.bootstrap(Secret(simulator.issue_refresh_token()), simulator.config.realm_id)
    rejected = connection.store.load().tokens.access_token.reveal()
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(3), ctx.Queue()
    procs = [
        ctx.Process(
            target=_refresh_in_another_process,
            args=(db_url, key, simulator.base_url, simulator.discovery_url, rejected, barrier, out),
        )
        for _ in range(3)
    ]
    # A spawned child runs the parent's __main__ again; after an AppTest in this process that is
    # the dashboard's app.py. A bare __main__ keeps the children to the target alone.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    for p in procs:
        p.start()
    monkeypatch.undo()
    # spawned children import the product first: generous on a loaded machine (CI)
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert all(kind == "ok" for kind, _ in results), results
    # one refresh happened; the others found it done and used its token
    assert simulator.inspect().refreshes == 2  # the bootstrap and exactly one more
    assert len({token for _, token in results}) == 1
    # the stored refresh token is the newest: it still refreshes
    engine = create_db_engine(db_url)
    store = TokenStore(engine, TokenCipher(key), "simulator")
    answer = requests.post(
        f"{simulator.base_url}/oauth2/v1/tokens/bearer",
        data={
            "grant_type": "refresh_token",
            "refresh_token": store.load().tokens.refresh_token.reveal(),
        },
        auth=(simulator.config.client_id, simulator.config.client_secret),
        timeout=10,
    )
    engine.dispose()
    assert answer.status_code == 200


def test_the_discovery_document_is_read_once_per_process(connection, simulator):
    connection.bootstrap(Secret(simulator.issue_refresh_token()), simulator.config.realm_id)
    for _ in range(5):
        rejected = connection.store.load().tokens.access_token.reveal()
        connection.refresh_access_token(rejected=rejected)
    connection.authorization_url()
    assert simulator.inspect().refreshes == 6
    assert simulator.inspect().discovery_fetches == 1


def test_an_operator_disconnect_is_not_undone_by_the_configured_token(connection, simulator):
    configured = Secret(simulator.issue_refresh_token())
    connection.bootstrap(configured, simulator.config.realm_id)
    connection.disconnect()
    # a restart with QBO_REFRESH_TOKEN still in the configuration
    status = connection.bootstrap(
        Secret(simulator.issue_refresh_token()), simulator.config.realm_id
    )
    assert not status.connected
    assert status.disconnected_at is not None
    assert connection.store.load() is None


def test_status_says_when_the_refresh_token_is_dead(connection, simulator):
    connection.bootstrap(Secret(simulator.issue_refresh_token()), simulator.config.realm_id)
    simulator.revoke_all()
    with pytest.raises(AuthenticationError, match="connect again"):
        connection.refresh_access_token(
            rejected=connection.store.load().tokens.access_token.reveal()
        )
    status = connection.status()
    assert status.renewal_needed and status.refresh_refused_at is not None


_REFRESH_FOREVER = """
import sys
from sync_core.database import create_db_engine
from sync_core.quickbooks.oauth import QuickBooksConnection
from sync_core.settings import Secret
from sync_core.store.tokens import TokenCipher, TokenStore

url, key, discovery = sys.argv[1:4]
connection = QuickBooksConnection(
    environment="simulator",
    client_id="simulator-client-id",
    client_secret=Secret("simulator-client-secret"),
    redirect_uri="http://localhost:8501/QuickBooks",
    discovery_url=discovery,
    store=TokenStore(create_db_engine(url), TokenCipher(key), "simulator"),
)
print("refreshing", flush=True)
while True:  # every access token counts as rejected: one refresh after another until killed
    connection.refresh_access_token(rejected=connection.store.load().tokens.access_token.reveal())
"""


def test_sigkill_during_refreshes_twenty_times_keeps_the_connection(
    simulator_process, db_url, key, empty_engine
):
    """QuickBooks in its own process, rotating the refresh token as Intuit does (about daily);
    a process refreshing in a loop is killed at a random moment, 20 times. Each time the
    product must still hold a refresh token that works, and the next refresh must not wait out
    the dead process's lease."""
    import random
    import signal
    import subprocess
    import sys
    import time

    sim = simulator_process("--refresh-token-rotation", "86400")
    app_tables.metadata.create_all(empty_engine)

    def connect() -> QuickBooksConnection:
        return QuickBooksConnection(
            environment="simulator",
            client_id=sim.client_id,
            client_secret=Secret("simulator-client-secret"),
            redirect_uri=REDIRECT,
            discovery_url=sim.discovery_url,
            store=TokenStore(empty_engine, TokenCipher(key), "simulator"),
        )

    connect().bootstrap(Secret(sim.refresh_token), sim.realm_id)
    rng = random.Random(20)
    waits = []
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, "-c", _REFRESH_FOREVER, db_url, key, sim.discovery_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline() == "refreshing\n", child.stderr.read()
        time.sleep(rng.uniform(0.05, 0.4))  # somewhere inside its refreshes
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        child.stderr.close()
        connection = connect()
        started = time.monotonic()
        token = connection.refresh_access_token(
            rejected=connection.store.load().tokens.access_token.reveal()
        )
        waits.append(time.monotonic() - started)
        answer = requests.get(
            f"{sim.base_url}/v3/company/{sim.realm_id}/companyinfo/{sim.realm_id}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    status = connect().status()
    assert status.connected and not status.renewal_needed
    assert max(waits) < 5, waits  # a dead holder's lease is taken over, not waited out
