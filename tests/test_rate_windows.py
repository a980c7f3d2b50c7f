"""QuickBooks' per-company limits are shared by every process of the product through the
database (``sync_core/store/rate_windows.py``): a second process, or the same command started
again, does not begin with an empty window. The product runs as CLI processes; QuickBooks (the
simulator) in this test's process, with its limits shrunk to a 4-second window so that each
check takes seconds: 24 requests and 4 batch requests per window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import repair_planted_failures

from sync_core.service import open_service

WINDOW_S = 4.0
REQUESTS = 24
BATCHES = 4
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def company(demo_engine, db_url, simulator, make_settings):
    """The demo MIS, the simulator's limits shrunk, the connection stored in the database."""
    simulator.config.limit_window_s = WINDOW_S
    simulator.config.requests_per_minute = REQUESTS
    simulator.config.batch_requests_per_minute = BATCHES
    service = open_service(
        make_settings(
            simulator,
            db_url,
            qbo_limit_window_s=WINDOW_S,
            qbo_requests_per_minute=REQUESTS,
            qbo_batch_requests_per_minute=BATCHES,
        )
    )
    repair_planted_failures(service)
    service.connection_status()  # connected and stored before the processes start
    s = service.settings
    env = {
        **os.environ,
        "MIS_DATABASE_URL": s.database_url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": simulator.base_url,
        "QBO_DISCOVERY_URL": simulator.discovery_url,
        "QBO_TOKEN_KEY": s.qbo_token_key.reveal(),
        "QBO_LIMIT_WINDOW_S": str(WINDOW_S),
        "QBO_REQUESTS_PER_MINUTE": str(REQUESTS),
        "QBO_BATCH_REQUESTS_PER_MINUTE": str(BATCHES),
        "SYNC_DATA_DIR": str(s.data_dir),
        "PYTHONPATH": PROJECT_ROOT,
    }
    yield service, env
    service.close()


def cli(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sync_core", *args, "--json"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answer(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=180)
    assert out, err
    return json.loads(out)


def test_a_process_started_after_another_waits_for_the_window_it_used(company, simulator):
    """Each run sends 4 batch requests of 30: the whole batch window. The second process starts
    the moment the first ends; with a window of its own it would send at once and meet 429."""
    service, env = company
    first = answer(cli(env, "applicants", "--limit", "120", "--operator", "First"))
    second = answer(cli(env, "students", "--limit", "120", "--operator", "Second"))
    for result in (first, second):
        assert result["success"], result
        run = result["data"]["run"]
        assert (run["state"], run["synced"], run["failed"]) == ("completed", 120, 0)
    state = simulator.inspect(customer_limit=0)
    assert state.throttled_count == 0, "the second process started with an empty window"
    assert state.customer_count == 240


def test_a_read_beside_a_running_sync_shares_its_window(company, simulator):
    """A reconciliation (reads, metered by QuickBooks as any request) started by another process
    while a sync runs: both keep within the company's limits together."""
    service, env = company
    simulator.set_faults(latency_ms=100)
    sync = cli(env, "all", "--limit", "360", "--operator", "Night run")
    deadline = time.monotonic() + 60
    while service.active_run() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.active_run() is not None, "the sync did not start"
    reads = [answer(cli(env, "reconcile")) for _ in range(3)]
    synced = answer(sync)
    assert synced["success"] and synced["data"]["run"]["synced"] == 360, synced
    # (exit 1 while the run goes on: its records in flight are listed as findings)
    assert [r.get("error") for r in reads] == [None] * 3
    assert [r["data"]["read_calls"] >= 1 for r in reads] == [True] * 3, [r["data"] for r in reads]
    assert simulator.inspect(customer_limit=0).throttled_count == 0
