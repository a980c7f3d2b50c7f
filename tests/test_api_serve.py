"""End to end: ``python -m sync_core serve`` as its own process on a free port, on MariaDB and
the QuickBooks simulator over HTTP. A key made with ``api-key create`` starts a run over HTTP;
the run is watched through GET runs/{id}, seen by ``status --json`` and by the dashboard (AppTest)
while it runs, cancelled, and a record is pushed alone; the serve process tells a webhook of a
run with failures; SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from api_support import (
    BLANK_REGNO_STUDENT,
    SMALL_STUDENTS,
    free_port,
    hook,  # noqa: F401  (fixture)
    make_small_mis,
    wait_until,
)
from streamlit.testing.v1 import AppTest

from sync_core.store.tokens import generate_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASE = "/api/v1/sync/customers"


@pytest.fixture
def product_env(make_database, simulator, hook, tmp_path) -> dict[str, str]:  # noqa: F811
    url = make_database("mariadb")
    make_small_mis(url)
    return {
        "MIS_DATABASE_URL": url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": simulator.base_url,
        "QBO_DISCOVERY_URL": simulator.discovery_url,
        "QBO_TOKEN_KEY": generate_key(),
        "QBO_REALM_ID": simulator.config.realm_id,
        "QBO_REFRESH_TOKEN": simulator.issue_refresh_token(),
        "SYNC_DATA_DIR": str(tmp_path / "data"),
        "SYNC_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
        "SYNC_NOTIFY_URLS": hook.url(),
    }


def child_env(product_env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **product_env, "PYTHONPATH": str(PROJECT_ROOT)}


def run_ended(http: requests.Session, url: str) -> dict:
    """GET the run until it is no longer running; answers the last answer's data."""

    def ended() -> dict | None:
        data = http.get(url, timeout=10).json()["data"]
        return data if data["run"]["state"] != "running" else None

    return wait_until(ended, timeout=30, what=f"{url} to end", every=0.2)


def same_process_cli(capsys, *args: str) -> dict:
    """The CLI's own entry point in this process (the environment is the product's)."""
    from sync_core.cli.main import main

    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def cli(product_env, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "sync_core", *args, "--json"],
        cwd=PROJECT_ROOT,
        env=child_env(product_env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


@pytest.fixture
def server(product_env, tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-m", "sync_core", "serve", "--port", str(port), "--tick", "1"],
        cwd=PROJECT_ROOT,
        env=child_env(product_env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if child.poll() is not None:
            pytest.fail(f"serve exited: {(tmp_path / 'serve.log').read_text()}")
        try:
            return requests.get(f"{base}/api/v1/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_until(healthy, timeout=30, what="the API to answer", every=0.2)
    yield base, child, tmp_path / "serve.log"
    if child.poll() is None:
        child.kill()
        child.wait()
    log.close()


def test_serve_end_to_end(product_env, server, simulator, hook, monkeypatch, capsys):  # noqa: F811
    base, child, log_path = server
    key = cli(product_env, "api-key", "create", "--name", "Admissions portal", "--role", "operator")
    token = key["data"]["key"]
    assert token.startswith(f"qbs_{key['data']['id']}_")
    for name, value in product_env.items():  # for the dashboard and the CLI in this process
        monkeypatch.setenv(name, value)
    listed = same_process_cli(capsys, "api-key", "list")["data"]["keys"]
    assert [(k["name"], k["role"], k["active"]) for k in listed] == [
        ("Admissions portal", "operator", True)
    ]
    assert token not in json.dumps(listed)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"

    assert requests.get(f"{base}{BASE}/status", timeout=5).status_code == 401
    analysis = http.get(f"{base}{BASE}/analyze", timeout=10).json()["data"]
    assert analysis["students"]["not_synced"] == SMALL_STUDENTS

    # a run started over HTTP, slow enough to be watched
    simulator.set_faults(latency_ms=300)
    started = http.post(f"{base}{BASE}/students", json={"batch_size": 5}, timeout=10)
    assert started.status_code == 202, started.text
    run_id = started.json()["data"]["run_id"]
    run_url = f"{base}{started.headers['Location']}"
    live = http.get(run_url, timeout=10).json()["data"]["run"]
    assert live["state"] == "running" and live["operator"] == "Admissions portal"

    status = cli(product_env, "status")["data"]
    assert status["running"]["id"] == run_id
    assert status["running"]["operator"] == "Admissions portal"

    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    sidebar = [c.value for c in at.sidebar.caption]
    assert any(f"Sync running (run {run_id}, by Admissions portal)" in c for c in sidebar), sidebar
    at.switch_page("views/sync.py").run()
    assert any(f"Run {run_id}: running" in s.value for s in at.subheader)

    cancelled = http.post(f"{run_url}/cancel", timeout=10)
    assert cancelled.status_code == 202 and cancelled.json()["data"]["cancel_requested"]
    simulator.set_faults(latency_ms=0)
    ended = run_ended(http, run_url)["run"]
    assert ended["state"] == "cancelled" and ended["done"] < SMALL_STUDENTS

    pushed = http.post(f"{base}/api/v1/sync/records/student/3/push", timeout=30).json()
    assert pushed["data"]["status"] in ("synced", "already synced"), pushed
    assert pushed["data"]["qk_id"]

    # the rest, to its end: one record fails, and the serve process tells the webhook
    rest = http.post(
        f"{base}{BASE}/students", json={"batch_size": 50, "retry_failed": True}, timeout=10
    ).json()
    last = rest["data"]["run_id"]
    done = run_ended(http, f"{base}/api/v1/sync/runs/{last}")
    assert done["run"]["state"] == "completed with errors" and done["run"]["failed"] == 1
    failed = [e["row_id"] for e in done["entries"]["items"] if e["outcome"] == "failed"]
    assert failed == [BLANK_REGNO_STUDENT]
    title = f"QuickBooks sync run {last} ended with 1 failed records"
    wait_until(
        lambda: title in [r.body["title"] for r in hook.received],
        timeout=15,
        what="the serve process to tell the webhook",
        every=0.2,
    )
    counts = same_process_cli(capsys, "analyze")["data"]["students"]
    assert counts["synced"] == SMALL_STUDENTS - 1 and counts["failed"] == 1

    # a revoked key is refused at once by the running server
    viewer = same_process_cli(capsys, "api-key", "create", "--name", "Monitor", "--role", "viewer")
    watch = {"Authorization": f"Bearer {viewer['data']['key']}"}
    assert requests.get(f"{base}{BASE}/status", headers=watch, timeout=10).status_code == 200
    same_process_cli(capsys, "api-key", "revoke", "--name", "Monitor")
    assert requests.get(f"{base}{BASE}/status", headers=watch, timeout=10).status_code == 401

    # stopped while its run goes on: the run is cancelled, not left running or claimed
    simulator.set_faults(latency_ms=300)
    slow = http.post(f"{base}{BASE}/applicants", json={"batch_size": 5}, timeout=10)
    assert slow.status_code == 202
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=30)
    simulator.set_faults(latency_ms=0)
    log = log_path.read_text()
    assert "Application shutdown complete" in log
    for secret in (token, product_env["QBO_TOKEN_KEY"], "SECRET-PATH-TOKEN", "Traceback"):
        assert secret not in log
    status = same_process_cli(capsys, "status")["data"]
    assert status["running"] is None
    assert status["last_runs"][0]["id"] == slow.json()["data"]["run_id"]
    assert status["last_runs"][0]["state"] == "cancelled"
    assert status["counts"]["overall"]["total_in_progress"] == 0
