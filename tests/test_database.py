"""Database errors reach messages and logs as their kind only: no SQL text, no record values."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from sync_core.database import create_db_engine, database_error_text, log_failure
from sync_core.sync.outcomes import errors_text

NAME = "Aline Uwimana"


def _failing_statement() -> sa.exc.DBAPIError:
    engine = create_db_engine("sqlite://")
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as caught:
        conn.execute(sa.text("INSERT INTO tbl_missing (given_name) VALUES (:n)"), {"n": NAME})
    engine.dispose()
    return caught.value


def test_the_engine_hides_a_statement_s_values():
    error = _failing_statement()
    assert NAME not in str(error)


def test_a_database_error_is_told_without_sql_or_values():
    error = _failing_statement()
    for text in (database_error_text(error), errors_text(error)):
        assert text == "The database refused the operation (OperationalError)"
    try:  # wrapped in another error, as a stage would raise it
        try:
            raise error
        except sa.exc.DBAPIError as inner:
            raise RuntimeError("write-back failed") from inner
    except RuntimeError as outer:
        assert database_error_text(outer) == "The database refused the operation (OperationalError)"
    assert database_error_text(ValueError("x")) is None


def test_log_failure_keeps_sql_out_of_the_log(caplog):
    log = logging.getLogger("sync_core.test")
    caplog.set_level(logging.DEBUG)
    error = _failing_statement()
    try:
        raise error
    except sa.exc.DBAPIError:
        log_failure(log, "sync run %s failed", 7)
    assert "sync run 7 failed: The database refused the operation" in caplog.text
    assert "INSERT" not in caplog.text and "tbl_missing" not in caplog.text
    assert NAME not in caplog.text
    try:
        raise KeyError("plain bug")
    except KeyError:
        log_failure(log, "sync run %s failed", 8)
    assert "Traceback" in caplog.text  # other errors keep their traceback for the developer


# ---------------------------------------------------------------- a MIS URL that is wrong


def _cli(env_url: str, *args: str):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "SYNC_", "QBO_"))}
    env["MIS_DATABASE_URL"] = env_url
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(
        [sys.executable, "-m", "sync_core", *args],
        env={**env, "PYTHONPATH": root},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda url: url + "qbsync_no_such_database", "does not exist on the server"),
        (
            lambda url: url.replace("root@", "qbsync_nobody:wrong@") + "test",
            "refused the sign-in",
        ),
    ],
    ids=["no such database", "wrong user or password"],
)
def test_a_url_the_server_refuses_is_a_configuration_error_not_unreachable(
    mariadb_server, change, said
):
    """The server answers, so 'Cannot reach the MIS database' would send the operator to the
    wrong place; and it is no traceback: exit 2, one message, JSON when asked."""
    import json

    url = change(mariadb_server)
    analyzed = _cli(url, "analyze", "--json")
    assert analyzed.returncode == 2, analyzed.stderr
    assert "Traceback" not in analyzed.stderr
    error = json.loads(analyzed.stdout)["error"]
    assert error["category"] == "configuration" and said in error["message"]
    assert "Cannot reach" not in error["message"]
    checked = json.loads(_cli(url, "check", "--json").stdout)
    problems = [p["what"] for p in checked["data"]["problems"]]
    assert any(said in p for p in problems) and not any("Cannot reach" in p for p in problems)
    assert "wrong" not in analyzed.stdout + checked["data"]["mis_database"], "no password shown"
