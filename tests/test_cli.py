"""``python -m sync_core`` as an operator runs it: real processes, real database, simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
import sqlalchemy as sa

from sync_core.database import create_db_engine
from sync_core.store.tokens import TokenCipher, TokenStore, generate_key

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, env=None, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "sync_core", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": PROJECT_ROOT, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def mis_env(db_url, simulator, tmp_path, key=None):
    return {
        "MIS_DATABASE_URL": db_url,
        "QBO_ENVIRONMENT": "simulator",
        "QBO_API_BASE_URL": simulator.base_url,
        "QBO_DISCOVERY_URL": simulator.discovery_url,
        "QBO_TOKEN_KEY": key or generate_key(),
        "SYNC_DATA_DIR": str(tmp_path / "data"),
        "QBO_REDIRECT_URI": "http://localhost:8501/QuickBooks",
    }


def test_analyze_prints_the_seed_report_and_json(demo_engine, db_url, simulator, tmp_path):
    env = mis_env(db_url, simulator, tmp_path)
    text = cli("analyze", env=env)
    assert text.returncode == 0, text.stderr
    for line in (
        "Total Applicants: 850",
        "Total Students: 1,200",
        "Total Customers: 2,050",
        "Overall Progress: 0.0%",
    ):
        assert line in text.stdout
    data = json.loads(cli("analyze", "--json", env=env).stdout)
    assert data["success"] is True
    assert data["data"]["overall"]["total_customers"] == 2050
    assert data["data"]["applicants"]["not_synced"] == 850


def test_preview_text_and_json(demo_engine, db_url, simulator, tmp_path):
    env = mis_env(db_url, simulator, tmp_path)
    text = cli("preview-applicants", "--limit", "5", env=env)
    assert text.returncode == 0, text.stderr
    assert "Applicants not yet synced: 850 (showing 1-5)" in text.stdout
    assert "CustomerType: Applicant   → Notes" in text.stdout
    data = json.loads(
        cli("preview-students", "--limit", "3", "--offset", "2", "--json", env=env).stdout
    )
    assert data["success"] is True and data["command"] == "preview-students"
    records = data["data"]["records"]
    assert [r["row_id"] for r in records] == [3, 4, 5]
    assert data["data"]["total_not_synced"] == 1200
    assert records[0]["payload"]["DisplayName"]
    bad = cli("preview-students", "--limit", "0", env=env)
    assert bad.returncode == 2 and "limit must be at least 1" in bad.stderr


def test_demo_db_fills_any_database(make_database, backend):
    url = make_database(backend)
    done = cli("demo-db", "--url", url, "--applicants", "30", "--students", "40")
    assert done.returncode == 0, done.stderr
    engine = create_db_engine(url)
    with engine.connect() as conn:
        counts = [
            conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("tbl_online_application", "tbl_personal_ug")
        ]
        columns = {c["name"] for c in sa.inspect(conn).get_columns("tbl_personal_ug")}
    engine.dispose()
    assert counts == [30, 40]
    assert "quickbk_status" in {c.lower() for c in columns}  # ready to sync
    again = cli("demo-db", "--url", url)
    assert again.returncode == 2 and "replace" in again.stderr


def test_connect_by_pasting_the_redirect_and_status_never_shows_a_token(
    demo_engine, db_url, simulator, tmp_path
):
    env = mis_env(db_url, simulator, tmp_path)
    before = cli("status", env=env)
    assert before.returncode == 0 and "not connected" in before.stdout
    # the operator's browser: the consent page sends it back to the redirect URI
    started = subprocess.Popen(
        [sys.executable, "-m", "sync_core", "connect"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": PROJECT_ROOT, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = ""
    while "oauth2" not in url:
        url = started.stdout.readline().strip()
    redirect = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    out, err = started.communicate(redirect + "\n", timeout=60)
    assert started.returncode == 0, err
    assert f"Connected to realm {simulator.config.realm_id}" in out
    status = cli("status", "--json", env=env)
    data = json.loads(status.stdout)
    assert data["data"]["connection"]["connected"] is True
    text = cli("status", env=env).stdout
    assert "connected to realm" in text and "Last runs:" in text
    engine = create_db_engine(db_url)
    stored = TokenStore(engine, TokenCipher(env["QBO_TOKEN_KEY"]), "simulator").load()
    engine.dispose()
    for secret in (stored.tokens.access_token.reveal(), stored.tokens.refresh_token.reveal()):
        assert secret not in status.stdout + text + out + err


def test_token_key_prints_a_usable_key():
    key = cli("token-key").stdout.strip()
    TokenCipher(key)  # a valid Fernet key
    assert key != cli("token-key").stdout.strip()


@pytest.mark.integration  # child processes
def test_demo_db_reset_puts_the_embedded_demo_back_as_on_first_start(tmp_path):
    env = {"SYNC_DATA_DIR": str(tmp_path / "data"), "QBO_LIMIT_WINDOW_S": "2"}
    first = json.loads(cli("status", "--json", env=env).stdout)["data"]
    synced = cli("all", "--limit", "40", "--operator", "Trainee", "--json", env=env)
    assert synced.returncode in (0, 1), synced.stdout + synced.stderr
    after = json.loads(cli("status", "--json", env=env).stdout)["data"]
    assert after["counts"]["overall"] != first["counts"]["overall"]
    assert after["last_runs"]
    reset = cli("demo-db", "--reset", env=env)
    assert reset.returncode == 0, reset.stderr
    assert "as on first start" in reset.stdout
    again = json.loads(cli("status", "--json", env=env).stdout)["data"]
    assert again["counts"] == first["counts"]
    assert again["last_runs"] == [] and again["connection"]["connected"]
    # the simulator's company again holds only what the earlier integration made
    from qbo_simulator import QuickBooksSimulator, SimulatorConfig
    from sync_core.demo.embedded import _earlier_customers
    from sync_core.settings import load_settings

    settings = load_settings({"SYNC_DATA_DIR": env["SYNC_DATA_DIR"]})
    store = tmp_path / "data" / "qbo_simulator.sqlite"
    sim = QuickBooksSimulator(SimulatorConfig(), store_path=store)
    try:
        assert sim.inspect().customer_count == len(_earlier_customers(settings))
    finally:
        sim.store.close()


def test_demo_db_reset_refuses_a_university_mis(demo_engine, db_url, simulator, tmp_path):
    env = {**mis_env(db_url, simulator, tmp_path)}
    done = cli("demo-db", "--reset", env=env)
    assert done.returncode == 2
    assert "resets the embedded demo only" in done.stderr


def _embedded_demo_env(tmp_path) -> dict[str, str]:
    """No configuration at all: the embedded demo MIS, its files under ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "QBO_", "SYNC_"))}
    return {**env, "PYTHONPATH": PROJECT_ROOT, "SYNC_DATA_DIR": str(tmp_path / "data")}


QUICKBOOKS_SIDE = (
    "sync_core.quickbooks.client",
    "sync_core.quickbooks.oauth",
    "sync_core.service.wiring",
    "sync_core.sync.engine",
    "sync_core.sync.update",
    "requests",
    "intuitlib.client",  # (a .pth of intuit-oauth makes the bare package at every start)
    "tenacity",
    "pandas",
    "fastapi",
    "apprise",
)


@pytest.mark.parametrize("command", ["analyze", "preview-applicants", "preview-students"])
def test_a_cold_read_command_does_not_import_the_quickbooks_side(tmp_path, command):
    code = (
        "import contextlib, io, json, sys\n"
        "from sync_core.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    code = main([{command!r}, '--json'])\n"
        "assert code == 0 and json.loads(out.getvalue())['success'], out.getvalue()\n"
        f"print(json.dumps(sorted(m for m in {QUICKBOOKS_SIDE!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=_embedded_demo_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_preview_pages_by_row_id_with_after(demo_engine, db_url, simulator, tmp_path):
    env = mis_env(db_url, simulator, tmp_path)
    first = json.loads(cli("preview-applicants", "--limit", "4", "--json", env=env).stdout)
    assert first["data"]["next_after"] == 4
    data = json.loads(
        cli("preview-applicants", "--limit", "4", "--after", "4", "--json", env=env).stdout
    )["data"]
    assert [r["row_id"] for r in data["records"]] == [5, 6, 7, 8]
    assert data["next_after"] == 8 and data["total_not_synced"] == 850
    text = cli("preview-applicants", "--limit", "2", "--after", "848", env=env)
    assert "showing 2 after row id 848" in text.stdout and "Next page" not in text.stdout


def test_each_command_loads_only_its_module_and_help_lists_every_command():
    import argparse
    import importlib

    main = importlib.import_module("sync_core.cli.main")

    def registered(module: str) -> tuple[str, ...]:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"sync_core.cli.{module}").register(sub)
        return tuple(sub.choices)

    assert {m: registered(m) for m in main.COMMANDS} == main.COMMANDS
    every = [c for commands in main.COMMANDS.values() for c in commands]
    assert main._modules_for(["analyze", "--json"]) == ["analysis"]
    assert main._modules_for(["--help"]) == list(main.COMMANDS)
    assert main._modules_for(["analyz"]) == list(main.COMMANDS)  # argparse lists them all
    for command in every:
        parser = main.build_parser([command])
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        assert command in sub.choices
