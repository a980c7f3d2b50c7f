"""Connections to the MIS database: MySQL/MariaDB in real use, a SQLite file in the demo."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError


def normalise_url(url: str | URL) -> URL:
    """Make MySQL URLs speak utf8mb4 (accented names) and use PyMySQL unless told otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        if parsed.drivername in ("mysql", "mariadb"):
            parsed = parsed.set(drivername=f"{parsed.get_backend_name()}+pymysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the dashboard read while a sync writes; busy_timeout waits instead of failing.
    # The driver's own BEGIN is switched off so that _sqlite_begin decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A transaction that reads and then writes must hold the write lock from the start, or a
    # concurrent writer makes its write fail at once with "database is locked".
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def create_db_engine(url: str | URL, **kwargs) -> Engine:
    """An engine for the MIS database with the settings sync relies on."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("hide_parameters", True)
        engine = sa.create_engine(
            parsed, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("hide_parameters", True)  # a record's values never reach a message
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 3600)
    kwargs.setdefault("isolation_level", "READ COMMITTED")
    return sa.create_engine(parsed, **kwargs)


def is_mysql(engine: Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may read then write: on SQLite it takes the write lock up front."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


# MySQL/MariaDB errors that mean "this account may not": table/database access denied
DENIED = (1142, 1044, 1227, 1370)


def is_denied(exc: DBAPIError) -> bool:
    """Did the server refuse because the account lacks a grant?"""
    orig = exc.orig
    code = orig.args[0] if orig is not None and orig.args else None
    return code in DENIED


def database_error_text(error: BaseException) -> str | None:
    """A database error told without its statement or parameters (SQL text and a record's
    values): only its kind and the server's error number. None when ``error`` (and what caused
    it) is no database error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa.exc.StatementError):
            orig = current.orig
            code = orig.args[0] if orig is not None and orig.args else None
            number = f" {code}" if isinstance(code, int) else ""
            return f"The database refused the operation ({type(orig).__name__}{number})"
        current = current.__cause__ or current.__context__
    return None


def log_failure(log: logging.Logger, message: str, *args: object) -> None:
    """``log.exception`` for an except block, except that a database error is logged as its
    kind only: its traceback would carry the SQL statement."""
    error = sys.exc_info()[1]
    told = database_error_text(error) if error is not None else None
    if told is None:
        log.exception(message, *args)
    else:
        log.error(message + ": %s", *args, told)


# MySQL / MariaDB client and server errors that mean "this connection cannot be made", each as
# what the operator reads and what to do. (Codes: CR_CONNECTION_ERROR 2002, CR_CONN_HOST_ERROR
# 2003, CR_UNKNOWN_HOST 2005, CR_SERVER_GONE_ERROR 2006, CR_SERVER_LOST 2013,
# ER_ACCESS_DENIED_ERROR 1045, ER_ACCESS_DENIED_NO_PASSWORD_ERROR 1698,
# ER_DBACCESS_DENIED_ERROR 1044, ER_BAD_DB_ERROR 1049.)
UNREACHABLE_CODES = frozenset({2002, 2003, 2005, 2006, 2013})
_REFUSED_CONNECTIONS: dict[int, tuple[str, str]] = {
    1045: (
        "The database server refused the sign-in (access denied for this user and password)",
        "Check the user name and password in the database URL.",
    ),
    1698: (
        "The database server refused the sign-in (access denied for this user)",
        "Check the user name and password in the database URL.",
    ),
    1044: (
        "The database user may not use the database named in the URL",
        "Grant the user access to that database, or check the database name in the URL.",
    ),
    1049: (
        "The database named in the URL does not exist on the server",
        "Check the database name in the URL (MIS_DATABASE_URL or SYNC_DATABASE_URL).",
    ),
}


def _error_code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", None)
    code = orig.args[0] if orig is not None and getattr(orig, "args", None) else None
    return code if isinstance(code, int) else None


def is_unreachable(exc: BaseException) -> bool:
    """Connection-level failures only (MySQL client errors 2002/2003/2005/2006/2013, SQLite
    "unable to open"); a schema, grant or sign-in problem is not "unreachable"."""
    code = _error_code(exc)
    if code is not None:
        return code in UNREACHABLE_CODES
    return "unable to open" in str(getattr(exc, "orig", exc)).lower()


def refused_connection(exc: BaseException) -> tuple[str, str] | None:
    """(message, what to do) when the server answered but refused the connection: a wrong
    password, a database that does not exist, no right to it. None for anything else."""
    code = _error_code(exc)
    return _REFUSED_CONNECTIONS.get(code) if code is not None else None
