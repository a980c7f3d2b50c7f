"""Every verb's ``--json`` answer is one envelope (docs/cli-json-envelope.schema.json), on
success and on every kind of failure, and the process exit code is the envelope's."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from test_cli import mis_env

from sync_core.cli.main import main

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "docs" / "cli-json-envelope.schema.json").read_text()
)


def run_json(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    answer = json.loads(captured.out)  # stdout is exactly one JSON document
    jsonschema.validate(answer, SCHEMA)
    assert answer["exit_code"] == code
    assert answer["command"] == args[0]
    return code, answer


@pytest.fixture
def product_env(demo_engine, db_url, simulator, tmp_path, monkeypatch):
    env = {
        **mis_env(db_url, simulator, tmp_path),
        "QBO_REALM_ID": simulator.config.realm_id,
        "QBO_REFRESH_TOKEN": simulator.issue_refresh_token(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_every_verb_answers_one_envelope(product_env, capsys):
    answers = {}
    for args in (
        ("analyze",),
        ("preview-applicants", "--limit", "3"),
        ("preview-students",),
        ("check",),
        ("status",),
        ("applicants", "--limit", "5", "--operator", "Cron"),
        ("retry", "--applicant", "3", "--operator", "Cron"),
        ("changes",),
        ("updates", "--operator", "Cron"),
        ("reconcile",),
        ("api-key", "list"),
        ("token-key",),
    ):
        code, answer = run_json(capsys, *args)
        assert code == 0, answer
        assert answer["success"] is True and answer["error"] is None
        answers[args[0]] = answer["data"]
    assert answers["analyze"]["overall"]["total_customers"] == 2050
    assert answers["applicants"]["run"]["synced"] == 5


def test_failures_are_envelopes_too(product_env, capsys, monkeypatch):
    code, answer = run_json(capsys, "retry", "--student", "NO/SUCH/REGNO")
    assert code != 0 and answer["error"]["category"] == "not_found"
    code, answer = run_json(capsys, "all", "--limit", "abc")
    assert code == 2 and answer["error"]["category"] == "invalid"
    assert "--limit" in answer["error"]["message"]
    monkeypatch.setenv("MIS_DATABASE_URL", "notaurl")
    code, answer = run_json(capsys, "analyze")
    assert code == 2 and answer["error"]["category"] == "configuration"
    assert "MIS_DATABASE_URL is not a database URL" in answer["error"]["message"]
    assert "notaurl" not in answer["error"]["message"]  # a URL may hold a password


@pytest.mark.integration  # a child process
def test_a_malformed_setting_is_one_readable_line_and_exit_2(tmp_path):
    from test_cli import cli

    done = cli("analyze", env={"MIS_DATABASE_URL": "notaurl", "SYNC_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "MIS_DATABASE_URL is not a database URL" in done.stderr
