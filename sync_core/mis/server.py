"""What the MIS database server can do: MySQL 5.7 has no window functions and no SKIP LOCKED,
MariaDB before 10.6 no SKIP LOCKED; the product takes a portable path where a feature lacks."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class ServerFeatures:
    product: str  # "MariaDB", "MySQL", "SQLite"
    version: str
    window_functions: bool = True  # ROW_NUMBER() OVER (...): the latest registration in SQL
    skip_locked: bool = False  # FOR UPDATE SKIP LOCKED: claims never wait on each other

    def describe(self) -> str:
        missing = [
            name
            for name, present in (
                ("window functions", self.window_functions),
                ("SKIP LOCKED", self.skip_locked or self.product == "SQLite"),
            )
            if not present
        ]
        portable = f" (no {' or '.join(missing)}: the portable path is used)" if missing else ""
        return f"{self.product} {self.version}{portable}"


def detect_features(engine: sa.Engine, *, portable: bool = False) -> ServerFeatures:
    """The server's features; ``portable`` switches every optional feature off (tests)."""
    if engine.dialect.name == "sqlite":
        version = sqlite3.sqlite_version
        windows = tuple(int(p) for p in version.split(".")[:2]) >= (3, 25)
        return ServerFeatures("SQLite", version, windows and not portable, False)
    with engine.connect():  # the dialect learns the server's version on first connect
        pass
    info = tuple(p for p in engine.dialect.server_version_info or () if isinstance(p, int))
    mariadb = bool(getattr(engine.dialect, "is_mariadb", False))
    return features_of(mariadb, info, portable=portable)


def features_of(mariadb: bool, info: tuple[int, ...], *, portable: bool = False) -> ServerFeatures:
    """What a MySQL or MariaDB server of version ``info`` can do (window functions: MySQL
    8.0.2, MariaDB 10.2; SKIP LOCKED: MySQL 8.0.1, MariaDB 10.6)."""
    version = ".".join(str(p) for p in info[:3])
    if mariadb:
        windows, skip_locked = info >= (10, 2), info >= (10, 6)
    else:
        windows, skip_locked = info >= (8, 0, 2), info >= (8, 0, 1)
    if portable:
        windows = skip_locked = False
    return ServerFeatures("MariaDB" if mariadb else "MySQL", version, windows, skip_locked)
