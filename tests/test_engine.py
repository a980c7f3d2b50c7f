"""The sync engine on the demo MIS (SQLite and MariaDB) against the simulator over HTTP.

QuickBooks' limits are kept (500 requests and 40 batches per window, 10 at a time) but the
window is shrunk from 60 s to 2 s on both sides, so a full run takes seconds.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from conftest import record_rows, repair_planted_failures, status_counts, update_record

from sync_core.domain.access import Actor, Role
from sync_core.domain.errors import SyncAlreadyRunning
from sync_core.domain.identity import parse_notes
from sync_core.domain.kinds import APPLICANT, STUDENT
from sync_core.domain.statuses import Outcome, RunState, SyncStatus
from sync_core.quickbooks.client import RetryPolicy
from sync_core.service import open_service
from sync_core.service.background import wait_for
from sync_core.sync.lanes import lane_widths
from sync_core.sync.request import SyncRequest

STATUS_NOT_SYNCED, STATUS_SYNCED = SyncStatus.NOT_SYNCED, SyncStatus.SYNCED
STATUS_FAILED, STATUS_IN_PROGRESS = SyncStatus.FAILED, SyncStatus.IN_PROGRESS
COMPLETED, CANCELLED = RunState.COMPLETED, RunState.CANCELLED
COMPLETED_WITH_ERRORS = RunState.COMPLETED_WITH_ERRORS

WINDOW_S = 2.0
FAST_RETRY = RetryPolicy(attempts=10, initial_wait_s=0.05, max_wait_s=0.5)
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def ctx(demo_engine, db_url, simulator, make_settings):
    simulator.config.limit_window_s = WINDOW_S
    service = open_service(make_settings(simulator, db_url, qbo_limit_window_s=WINDOW_S))
    repair_planted_failures(service)  # tests below plant the failures they are about
    yield service
    service.close()


def run(ctx, scope="all", retry=FAST_RETRY, **kwargs):
    kwargs.setdefault("operator", "Test Registrar")
    return ctx.sync_engine(retry=retry).run(SyncRequest(scope=scope, **kwargs))


statuses = status_counts
rows = record_rows


def actor(name: str) -> Actor:
    return Actor(name, Role.OPERATOR if name != "Admin" else Role.ADMIN, "dashboard")


def customers_by_id(simulator) -> dict[str, dict]:
    return {c["Id"]: c for c in simulator.inspect().customers}


def assert_each_record_is_exactly_one_customer(ctx, simulator, expect_all_synced=True):
    """The finance office's first test: no MIS record is two customers, ever."""
    customers = customers_by_id(simulator)
    identities = Counter(
        (
            parse_notes(c.get("Notes"))["CustomerType"],
            parse_notes(c.get("Notes")).get("ApplicationID")
            or parse_notes(c.get("Notes")).get("RegNo"),
        )
        for c in customers.values()
    )
    duplicates = {k: n for k, n in identities.items() if n > 1}
    assert not duplicates, f"records that became several customers: {duplicates}"
    linked = 0
    for kind in (APPLICANT, STUDENT):
        for row_id, identity, status, qk_id, _ in rows(ctx, kind):
            assert status != STATUS_IN_PROGRESS, f"{kind.name} {row_id} left at 3"
            if status == STATUS_SYNCED:
                customer = customers[qk_id]
                marks = parse_notes(customer["Notes"])
                assert marks["CustomerType"] == kind.customer_type
                assert marks[kind.identity_field] == str(identity).strip()
                linked += 1
            elif expect_all_synced:
                pytest.fail(f"{kind.name} {identity} not synced (status {status})")
    assert linked == len(customers)


def test_demo_data_syncs_completely_without_a_duplicate(ctx, simulator):
    result = run(ctx, batch_size=50)
    state = simulator.inspect()
    assert result.run.state == COMPLETED and result.all_synced
    assert state.customer_count == 2050 == result.run.synced
    assert state.throttled_count == 0
    assert_each_record_is_exactly_one_customer(ctx, simulator)
    customers = list(customers_by_id(simulator).values())
    names = [c["DisplayName"] for c in customers]
    # namesakes and applicant/student twins are all there, told apart by name and CustomerType
    john_does = [n for n in names if n.casefold().startswith("john doe")]
    assert len(john_does) >= 5
    assert "John Doe" in names or "JOHN DOE" in names
    assert any(n.endswith(")") and "(APP " in n for n in john_does)
    assert any("(REG " in n for n in names)
    twins = Counter(n.split(" (")[0].casefold() for n in names)
    assert max(twins.values()) >= 2
    # the real name always comes first
    assert all(not n.startswith(("APP", "REG")) for n in names)
    # every synced row knows who pushed it
    assert {r[4] for r in rows(ctx, APPLICANT)} == {"Test Registrar"}
    notices = ctx.run_entries(result.run.id, outcome=Outcome.RENAMED)
    assert len(notices) == result.run.renamed > 0
    assert "belongs to another QuickBooks customer" in notices[0]["message"]
    # creates went by batches of 30 at most and one by one (singles spend the allowance batches
    # leave), each request with a requestid of QuickBooks' length; names known to be taken were
    # made distinct before sending: renames cost no second request
    creates = [r for r in state.requests if r.path.endswith("/customer") and r.method == "POST"]
    batches = [r for r in state.requests if r.path.endswith("/batch")]
    assert batches and creates
    assert all(r.requestid and len(r.requestid) <= 36 for r in batches)
    assert all(r.requestid and len(r.requestid) <= 50 for r in creates)
    assert len(batches) <= 2050 // 30 + 6, len(batches)
    assert len(creates) <= 2050 - 30 * (len(batches) - 6), (len(batches), len(creates))


def test_scope_and_batch_size_are_respected(ctx, simulator):
    result = run(ctx, scope="applicants", batch_size=10)
    assert result.run.synced == 850
    assert statuses(ctx, STUDENT) == Counter({STATUS_NOT_SYNCED: 1200})
    assert simulator.inspect().customer_count == 850


def blank_reg_no(ctx, row_id: int = 5) -> None:
    update_record(ctx, STUDENT, row_id, reg_no="  ")


def test_hostile_records_sync_sanitised_or_fail_readably_and_the_run_goes_on(ctx, simulator):
    long_ok = ctx.mis_engine.dialect.name == "sqlite"  # MariaDB enforces VARCHAR(200)
    hostile = {
        1: {"first_name": None, "family_name": None},
        2: {"first_name": "Marie: Claire", "family_name": "Uwimana\tKeza"},
        3: {"email1": "john@", "phone1": "N/A"},
        4: {"camp_id": "99", "intake_id": " 7 ", "opt_1": "abc", "prg_mode_id": "0"},
        6: {
            "first_name": "A" * (600 if long_ok else 200),
            "family_name": "B" * (400 if long_ok else 200),
        },
    }
    for row_id, values in hostile.items():
        update_record(ctx, APPLICANT, row_id, **values)
    blank_reg_no(ctx)
    result = run(ctx, batch_size=100)
    assert result.run.state == COMPLETED_WITH_ERRORS
    assert result.run.failed == 1 and result.run.synced == 2049
    failed = ctx.run_entries(result.run.id, outcome=Outcome.FAILED)
    assert len(failed) == 1
    assert failed[0]["kind"] == "student" and "RegNo is empty" in failed[0]["message"]
    assert failed[0]["hint"]
    customers = customers_by_id(simulator)
    by_row = {r[0]: r for r in rows(ctx, APPLICANT)}
    name_of = {row_id: customers[by_row[row_id][3]]["DisplayName"] for row_id in hostile}
    assert name_of[1] == "Applicant 1"
    assert name_of[2] == "Marie Claire Uwimana Keza"
    assert "PrimaryEmailAddr" not in customers[by_row[3][3]]
    assert "Campus: 99" in customers[by_row[4][3]]["Notes"]
    assert len(name_of[6]) <= 500 and name_of[6].startswith("A" * 100)
    assert_each_record_is_exactly_one_customer(ctx, simulator, expect_all_synced=False)


def test_failed_records_are_retried_only_when_asked(ctx, simulator):
    blank_reg_no(ctx)
    first = run(ctx, scope="students")
    assert first.run.failed == 1
    again = run(ctx, scope="students")
    assert again.run.planned == 0 and again.run.failed == 0
    update_record(ctx, STUDENT, 5, reg_no="2099/FIX/0001")
    retried = run(ctx, scope="students", retry_failed=True)
    assert retried.run.planned == 1 and retried.run.synced == 1
    assert statuses(ctx, STUDENT) == Counter({STATUS_SYNCED: 1200})


def test_under_faults_a_run_and_one_rerun_sync_everything_exactly_once(ctx, simulator):
    """10% server errors, 5% answers dropped after the create committed, throttle storms, and
    access tokens dying every 3 s (QuickBooks' 30 s, on the shrunk clock)."""
    simulator.set_faults(
        server_error_rate=0.10,
        drop_after_commit_rate=0.05,
        throttle_storm_every_s=0.6,
        throttle_storm_duration_s=0.3,  # half the time: bursts always meet one
        access_token_ttl_s=3.0,
        latency_ms=20,
        seed=11,
    )
    first = run(ctx, batch_size=100)
    state = simulator.inspect()
    assert state.server_errors_sent > 0 and state.dropped_responses > 0
    assert state.throttled_count > 0 and state.unauthorized_count > 0
    second = run(ctx, batch_size=100, retry_failed=True)
    assert first.run.synced + second.run.synced == 2050
    assert statuses(ctx, APPLICANT) == Counter({STATUS_SYNCED: 850})
    assert statuses(ctx, STUDENT) == Counter({STATUS_SYNCED: 1200})
    assert simulator.inspect().customer_count == 2050
    assert_each_record_is_exactly_one_customer(ctx, simulator)


def test_lost_answer_then_crash_is_adopted_not_created_again(ctx, simulator):
    """A record left at 3 whose customer QuickBooks did create (the answer never came back)."""
    from sync_core.sync.claim import claim_step

    claims = claim_step(
        ctx.databases, APPLICANT, statuses=[0], limit=3, after_row_id=0, row_ids=None, run_id=0
    )
    sent = ctx.record(APPLICANT, claims[0].row_id).mapped
    created = ctx.client().create_customer(sent.payload)
    result = run(ctx, scope="applicants")
    assert result.run.reconciled == 1
    assert {r[0]: r[3] for r in rows(ctx, APPLICANT)}[claims[0].row_id] == created["Id"]
    assert simulator.inspect().customer_count == 850
    assert_each_record_is_exactly_one_customer(ctx, simulator, expect_all_synced=False)


def test_name_clash_adopts_our_own_customer_and_renames_for_a_namesake(ctx, simulator):
    ours = ctx.record(APPLICANT, 1).mapped  # e.g. created by hand from our payload
    mine = ctx.client().create_customer(ours.payload)
    namesake = ctx.record(APPLICANT, 2).mapped
    stranger = ctx.client().create_customer({"DisplayName": namesake.display_name})
    result = run(ctx, scope="applicants")
    by_row = {r[0]: r[3] for r in rows(ctx, APPLICANT)}
    assert by_row[1] == mine["Id"]
    assert by_row[2] != stranger["Id"]
    renamed = customers_by_id(simulator)[by_row[2]]["DisplayName"]
    assert renamed == f"{namesake.display_name} (APP 2)"
    adopted = ctx.run_entries(result.run.id, outcome=Outcome.ADOPTED)
    assert any(e["row_id"] == 1 for e in adopted)


def test_a_record_whose_both_names_are_taken_fails_readably(ctx, simulator):
    mapped = ctx.record(APPLICANT, 2).mapped
    ctx.client().create_customer({"DisplayName": mapped.display_name})
    ctx.client().create_customer({"DisplayName": f"{mapped.display_name} (APP 2)"})
    result = run(ctx, scope="applicants")
    failed = ctx.run_entries(result.run.id, outcome=Outcome.FAILED)
    assert [e["row_id"] for e in failed] == [2]
    assert "are taken by other QuickBooks customers" in failed[0]["message"]


def test_a_qk_id_already_in_the_mis_is_linked_not_created(ctx, simulator):
    existing = ctx.client().create_customer({"DisplayName": "Created By The Earlier System"})
    update_record(ctx, STUDENT, 3, qk_id=existing["Id"])
    run(ctx, scope="students")
    assert {r[0]: r[3] for r in rows(ctx, STUDENT)}[3] == existing["Id"]
    assert simulator.inspect().customer_count == 1200


def test_two_runs_started_together_exactly_one_runs(ctx):
    results, barrier = [], threading.Barrier(2)

    def start(name):
        engine = ctx.sync_engine(retry=FAST_RETRY)
        barrier.wait()
        try:
            results.append(("started", engine.start(SyncRequest("all", operator=name))))
        except SyncAlreadyRunning as exc:
            results.append(("refused", str(exc)))

    threads = [threading.Thread(target=start, args=(n,)) for n in ("Alice", "Bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = sorted(k for k, _ in results)
    assert kinds == ["refused", "started"]
    refusal = next(m for k, m in results if k == "refused")
    assert "a sync started by" in refusal and ("Alice" in refusal or "Bob" in refusal)


def test_cancel_stops_after_the_current_step_and_releases_the_rest(ctx, simulator):
    simulator.set_faults(latency_ms=150)
    run_id = ctx.start_sync(SyncRequest("all", operator="-", batch_size=10), actor("Canceller"))
    with pytest.raises(SyncAlreadyRunning, match="Canceller"):
        ctx.start_sync(SyncRequest("all", operator="-"), actor("Second Browser"))
    deadline = time.monotonic() + 30
    while ctx.run(run_id).done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ctx.cancel_sync(run_id, actor("Canceller"))
    assert wait_for(run_id, timeout=60)
    summary = ctx.run(run_id)
    assert summary.state == CANCELLED
    assert 0 < summary.synced < 2050
    counts = statuses(ctx, APPLICANT) + statuses(ctx, STUDENT)
    assert counts[STATUS_IN_PROGRESS] == 0
    assert counts[STATUS_SYNCED] == summary.synced == simulator.inspect().customer_count
    assert counts[STATUS_NOT_SYNCED] == 2050 - summary.synced


def test_progress_is_published_while_running(ctx):
    seen = []
    engine = ctx.sync_engine(
        on_progress=lambda p: seen.append((p.done, p.planned)), retry=FAST_RETRY
    )
    engine.progress_interval_s = 0.0
    engine.run(SyncRequest("applicants", operator="Watcher", batch_size=50))
    assert seen[0] == (0, 850) and seen[-1] == (850, 850)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) > 3


def test_single_record_push(ctx, simulator):
    blank_reg_no(ctx, row_id=7)
    run(ctx, scope="students")
    outcome = ctx.push_record(STUDENT, 7, actor("Registrar Retry"))
    assert outcome.status == "failed" and "RegNo is empty" in outcome.message
    update_record(ctx, STUDENT, 7, reg_no="2099/FIX/0007")
    outcome = ctx.push_record(STUDENT, 7, actor("Registrar Retry"))
    assert outcome.status == "synced" and outcome.qk_id
    again = ctx.push_record(STUDENT, 7, actor("Registrar Retry"))
    assert again.status == "already synced" and again.qk_id == outcome.qk_id
    assert simulator.inspect().customer_count == 1200
    trail = again.detail.audit
    assert trail and trail[0]["operation"] == "batch"


# ---------------------------------------------------------------- SIGKILL


def _cli_env(ctx, simulator) -> dict[str, str]:
    s = ctx.settings
    return {
        **os.environ,
        "MIS_DATABASE_URL": s.database_url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": simulator.base_url,
        "QBO_DISCOVERY_URL": simulator.discovery_url,
        "QBO_TOKEN_KEY": s.qbo_token_key.reveal(),
        "QBO_LIMIT_WINDOW_S": str(WINDOW_S),
        "SYNC_DATA_DIR": str(s.data_dir),
        "PYTHONPATH": PROJECT_ROOT,
    }


@pytest.mark.slow
def wait_until(predicate, *, timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def _child_run_in_flight(ctx, pid: int, done_at_least: int) -> bool:
    run = ctx.active_run()
    if run is None or run.pid != pid or run.done < done_at_least:
        return False
    counts = statuses(ctx, APPLICANT) + statuses(ctx, STUDENT)
    return counts[STATUS_IN_PROGRESS] > 0


def test_sigkill_at_random_moments_then_rerun_leaves_no_duplicate(ctx, simulator):
    simulator.set_faults(latency_ms=250)
    ctx.connection_status()  # connected and stored before the child processes start
    rng = random.Random(5)
    env = {**_cli_env(ctx, simulator), "QBO_MAX_CONCURRENT": "2"}  # a run lasts ~10 s
    for _trial in range(3):
        child = subprocess.Popen(
            [sys.executable, "-m", "sync_core", "all", "--batch-size", "50", "--operator", "Cron"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # kill once the child's run has written back a random number of records and holds
        # others in flight (claimed, at 3): an observable moment, not a guess in seconds
        target = rng.randint(30, 300)
        wait_until(
            lambda child=child, target=target: _child_run_in_flight(ctx, child.pid, target),
            timeout=60,
            what=f"run of pid {child.pid} to write back {target} records",
        )
        child.send_signal(signal.SIGKILL)
        child.wait()
    # killed mid-step, records are left at 3 (claimed, maybe sent): the rerun must repair them
    counts_before = statuses(ctx, APPLICANT) + statuses(ctx, STUDENT)
    assert counts_before[STATUS_IN_PROGRESS] > 0 and counts_before[STATUS_NOT_SYNCED] > 0
    simulator.set_faults(latency_ms=0)
    result = run(ctx, batch_size=50)
    assert result.run.state == COMPLETED
    assert simulator.inspect().customer_count == 2050
    assert_each_record_is_exactly_one_customer(ctx, simulator)
    history = ctx.runs(limit=10)
    assert sum(1 for r in history if r.state is RunState.INTERRUPTED) == 3
    assert result.run.reconciled + result.run.released == counts_before[STATUS_IN_PROGRESS]
    assert counts_before[STATUS_SYNCED] > 0  # the killed runs did real work


def test_cli_exit_codes(ctx, simulator):
    env = _cli_env(ctx, simulator)
    blank_reg_no(ctx)
    ctx.connection_status()

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "sync_core", *args],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = cli("students", "--batch-size", "100", "--operator", "CLI Tester")
    assert done.returncode == 1, done.stderr  # one record failed
    assert "RegNo is empty" in done.stdout
    assert "run " in done.stderr  # plain progress lines when not a terminal
    ok = cli("applicants", "--operator", "CLI Tester", "--json")
    assert ok.returncode == 0, ok.stderr
    ctx.sync_engine().start(SyncRequest("all", operator="Someone Else"))
    busy = cli("all", "--retry-failed")  # the failed record waits: a run would start
    assert busy.returncode == 3 and "a sync started by Someone Else" in busy.stderr
    broken = subprocess.run(
        [sys.executable, "-m", "sync_core", "status"],
        env={**env, "QBO_ENVIRONMENT": "production", "QBO_TOKEN_KEY": ""},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broken.returncode == 2 and "Configuration problem" in broken.stderr
    assert statuses(ctx, STUDENT)[STATUS_FAILED] == 1


def test_connection_lost_mid_run_fails_the_run_and_leaves_nothing_at_3(ctx, simulator):
    simulator.set_faults(latency_ms=100)
    run_id = ctx.start_sync(SyncRequest("all", operator="-", batch_size=10), actor("Unlucky"))
    deadline = time.monotonic() + 30
    while ctx.run(run_id).done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.disconnect(actor("Admin"))  # someone disconnects QuickBooks in another window
    simulator.set_faults(access_token_ttl_s=0.0)  # the access token in hand dies too
    assert wait_for(run_id, timeout=60)
    summary = ctx.run(run_id)
    assert summary.state is RunState.FAILED
    assert "connect" in summary.message.lower()
    counts = statuses(ctx, APPLICANT) + statuses(ctx, STUDENT)
    assert counts[STATUS_IN_PROGRESS] == 0
    assert counts[STATUS_SYNCED] == simulator.inspect().customer_count
    assert sum(counts.values()) == 2050


def test_no_token_or_secret_in_logs_or_errors(ctx, simulator, caplog):
    import logging

    caplog.set_level(logging.DEBUG)  # urllib3, requests, intuit-oauth, ours: everything
    simulator.set_faults(access_token_ttl_s=0.5)  # force refreshes during the run
    blank_reg_no(ctx)
    result = run(ctx, scope="students", batch_size=100)
    stored = ctx._quickbooks.connection.store.load()
    secrets = [
        stored.tokens.access_token.reveal(),
        stored.tokens.refresh_token.reveal(),
        ctx._quickbooks.endpoints.client_secret.reveal(),
        ctx.settings.qbo_token_key.reveal(),
    ]
    visible = caplog.text + repr(ctx.run_entries(result.run.id)) + repr(ctx.audit.recent(500))
    visible += repr(result.run) + repr(ctx.connection_status())
    assert caplog.text  # there were logs to look at
    for secret in secrets:
        assert secret not in visible
    assert "Bearer" not in visible and "Authorization" not in visible


def test_a_run_of_the_next_n_sends_exactly_n_also_when_cancelled(ctx, simulator):
    result = run(ctx, scope="all", batch_size=50, limit=10)
    assert result.run.planned == 10 and result.run.synced == 10 and result.run.record_limit == 10
    assert simulator.inspect().customer_count == 10
    assert sum(statuses(ctx, APPLICANT).values()) == 850  # the rest still waits
    assert statuses(ctx, APPLICANT)[STATUS_SYNCED] == 10
    # a run of 25 (batch size 10) cancelled at once still sends no more than 25
    simulator.set_faults(latency_ms=100)
    run_id = ctx.start_sync(
        SyncRequest("applicants", operator="-", batch_size=10, limit=25), actor("Canceller")
    )
    ctx.cancel_sync(run_id, actor("Canceller"))
    assert wait_for(run_id, timeout=60)
    assert simulator.inspect().customer_count <= 10 + 25
    counts = statuses(ctx, APPLICANT)
    assert counts[STATUS_IN_PROGRESS] == 0
    assert counts[STATUS_SYNCED] == simulator.inspect().customer_count


# ---------------------------------------------------------------- faults that stop a run


def _start_and_wait_for_first_records(ctx, simulator, **request):
    simulator.set_faults(latency_ms=50)
    run_id = ctx.start_sync(
        SyncRequest(request.pop("scope", "all"), operator="-", batch_size=10, **request),
        actor("Registrar"),
    )
    wait_until(lambda: ctx.run(run_id).done > 0, timeout=30, what="the first records")
    return run_id


def _assert_stopped_cleanly(ctx, simulator, run_id):
    """One readable message on the run, no record failed or left at 3, nothing lost."""
    summary = ctx.run(run_id)
    assert summary.state is RunState.FAILED
    assert "The sync stopped" in summary.message
    assert summary.failed == 0 and ctx.run_entries(run_id, outcome=Outcome.FAILED) == []
    counts = statuses(ctx, APPLICANT) + statuses(ctx, STUDENT)
    assert counts[STATUS_FAILED] == 0 and counts[STATUS_IN_PROGRESS] == 0
    assert counts[STATUS_NOT_SYNCED] > 0 and sum(counts.values()) == 2050
    assert 0 < counts[STATUS_SYNCED] <= simulator.inspect().customer_count
    return summary


@pytest.mark.parametrize("down_mode", ["503", "drop"])
def test_quickbooks_unreachable_stops_the_run_without_failing_records(ctx, simulator, down_mode):
    run_id = _start_and_wait_for_first_records(ctx, simulator)
    simulator.set_faults(api_down=True, down_mode=down_mode)
    assert wait_for(run_id, timeout=120)
    summary = _assert_stopped_cleanly(ctx, simulator, run_id)
    assert summary.message.startswith("QuickBooks could not be reached")
    # once QuickBooks is back, a rerun finishes the job with no record twice
    simulator.set_faults(api_down=False, latency_ms=0)
    assert run(ctx, batch_size=50).run.state is COMPLETED
    assert_each_record_is_exactly_one_customer(ctx, simulator)


def test_a_revoked_connection_stops_the_run_without_failing_records(ctx, simulator):
    run_id = _start_and_wait_for_first_records(ctx, simulator)
    simulator.revoke_all()  # the company disconnected the app in QuickBooks
    simulator.set_faults(access_token_ttl_s=0.0)
    assert wait_for(run_id, timeout=60)
    summary = _assert_stopped_cleanly(ctx, simulator, run_id)
    assert summary.message.startswith("The QuickBooks connection no longer works")
    assert "connect" in summary.message.lower()
    assert ctx.connection_status().renewal_needed


def test_cli_exits_2_with_one_message_when_quickbooks_is_down(ctx, simulator):
    env = _cli_env(ctx, simulator)
    ctx.connection_status()
    simulator.set_faults(api_down=True)
    done = subprocess.run(
        [sys.executable, "-m", "sync_core", "applicants", "--operator", "Cron"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "The sync stopped" in done.stdout
    assert "QuickBooks could not be reached" in done.stdout
    assert "❌ applicant" not in done.stdout  # no page of per-record failures
    assert "Traceback" not in done.stderr
    counts = statuses(ctx, APPLICANT)
    assert counts[STATUS_NOT_SYNCED] == 850


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_cancels_the_cli_run_and_releases_its_records(ctx, simulator, signum):
    simulator.set_faults(latency_ms=250)
    ctx.connection_status()
    env = {**_cli_env(ctx, simulator), "QBO_MAX_CONCURRENT": "2"}
    child = subprocess.Popen(
        [sys.executable, "-m", "sync_core", "all", "--batch-size", "50", "--operator", "Cron"],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(
        lambda: _child_run_in_flight(ctx, child.pid, 30),
        timeout=60,
        what=f"run of pid {child.pid} in flight",
    )
    run_id = ctx.active_run().id
    child.send_signal(signum)
    out, err = child.communicate(timeout=60)
    assert "Traceback" not in err, err
    summary = ctx.run(run_id)
    assert summary.state is CANCELLED, (summary, out, err)
    assert child.returncode != 0
    counts = statuses(ctx, APPLICANT) + statuses(ctx, STUDENT)
    assert counts[STATUS_IN_PROGRESS] == 0 and counts[STATUS_FAILED] == 0
    assert counts[STATUS_SYNCED] == simulator.inspect().customer_count == summary.synced


def test_a_name_the_query_parser_refuses_blinds_no_neighbour(ctx, simulator):
    """QuickBooks' query parser chokes on one applicant's name: the names looked up with it in
    the same query are still looked up (the chunk is split around it), and every record syncs,
    the odd one too (a clash on its name would still come back as 6240)."""
    update_record(ctx, APPLICANT, 17, first_name="Zzodd")
    simulator.set_faults(refuse_query_containing="Zzodd")
    result = run(ctx, scope="applicants", batch_size=30)
    assert result.run.state is COMPLETED
    requests = simulator.inspect().requests
    queries = [r for r in requests if r.path.endswith("/query")]
    refused = [r for r in queries if r.status == 400]
    # the chunk holding the odd name is halved until it stands alone: a refusal per halving
    assert 1 <= len(refused) <= 7 and len(queries) > len(refused)
    counts = statuses(ctx, APPLICANT)
    assert counts[STATUS_SYNCED] == 850
    assert_each_record_is_exactly_one_customer(ctx, simulator, expect_all_synced=False)


# -- batches and single creates together ------------------------------------------------------


def posts(simulator) -> tuple[list, list]:
    """(batch requests, single creates) the simulator was sent."""
    requests = [r for r in simulator.inspect().requests if r.method == "POST"]
    return (
        [r for r in requests if r.path.endswith("/batch")],
        [r for r in requests if r.path.endswith("/customer")],
    )


def test_lanes_leave_a_slot_for_the_runs_look_ups():
    assert lane_widths(10) == (4, 5)  # 4 batch workers, 5 single, 1 place for look-ups
    assert sum(lane_widths(4)) == 3
    assert lane_widths(2) == (2, 0) and lane_widths(1) == (1, 0)


@pytest.fixture
def tight(demo_engine, db_url, simulator, make_settings):
    """QuickBooks' two windows shrunk so both bind within seconds: 60 requests of which 3
    batch requests per 1 s, on the simulator and on the client alike."""
    limits = {"requests_per_minute": 60, "batch_requests_per_minute": 3, "limit_window_s": 1.0}
    for name, value in limits.items():
        setattr(simulator.config, name, value)
    service = open_service(
        make_settings(
            simulator,
            db_url,
            qbo_requests_per_minute=60,
            qbo_batch_requests_per_minute=3,
            qbo_limit_window_s=1.0,
            qbo_limit_window_margin_s=0.25,
        )
    )
    repair_planted_failures(service)
    yield service
    service.close()


def test_batches_and_singles_share_both_windows_without_a_429_or_a_duplicate(tight, simulator):
    result = tight.sync_engine(retry=FAST_RETRY).run(
        SyncRequest(scope="all", operator="Test Registrar", limit=600, batch_size=100)
    )
    assert result.run.state == COMPLETED and result.run.synced == 600
    state = simulator.inspect()
    assert state.throttled_count == 0
    batches, singles = posts(simulator)
    assert batches and singles  # both lanes carried records
    assert state.customer_count == 600
    assert_each_record_is_exactly_one_customer(tight, simulator, expect_all_synced=False)


def test_answers_lost_in_both_lanes_are_looked_up_not_created_again(ctx, simulator):
    """Every create's answer is lost and the retries run out: the run stops with its records
    "maybe sent", batch items and singles alike; the next run finds them, creates none twice."""
    simulator.set_faults(drop_after_commit_rate=1.0, latency_ms=50, seed=5)
    no_retry = RetryPolicy(attempts=1, initial_wait_s=0.01, max_wait_s=0.01)
    first = run(ctx, retry=no_retry, limit=400, batch_size=100)
    assert first.run.state == RunState.FAILED
    batches, singles = posts(simulator)
    assert any(r.dropped for r in batches) and any(r.dropped for r in singles)
    assert statuses(ctx, APPLICANT)[STATUS_IN_PROGRESS] == 0
    taken = simulator.inspect().customer_count
    assert taken > 0
    simulator.set_faults(drop_after_commit_rate=0.0, latency_ms=0)
    second = run(ctx, limit=400, batch_size=100)
    assert second.run.reconciled + second.run.adopted >= taken
    assert_each_record_is_exactly_one_customer(ctx, simulator, expect_all_synced=False)
