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
