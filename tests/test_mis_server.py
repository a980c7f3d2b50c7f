"""What the MIS server can do decides the SQL the product uses: MySQL 5.7 has no window
functions and no SKIP LOCKED, MariaDB before 10.6 no SKIP LOCKED (sync_core/mis/server.py)."""

from __future__ import annotations

import pytest

from sync_core.mis.server import features_of


@pytest.mark.parametrize(
    "mariadb, version, windows, skip_locked",
    [
        (False, (5, 7, 44), False, False),  # MySQL 5.7: the portable path for both
        (False, (8, 0, 1), False, True),
        (False, (8, 0, 36), True, True),
        (True, (10, 1, 48), False, False),
        (True, (10, 3, 39), True, False),  # MariaDB 10.3: window functions, no SKIP LOCKED
        (True, (10, 6, 16), True, True),
        (True, (10, 11, 6), True, True),
    ],
)
def test_features_follow_the_servers_version(mariadb, version, windows, skip_locked):
    found = features_of(mariadb, version)
    assert (found.window_functions, found.skip_locked) == (windows, skip_locked)
    assert found.product == ("MariaDB" if mariadb else "MySQL")
    said = found.describe()
    assert ("portable path" in said) == (not windows or not skip_locked), said


def test_portable_switches_every_optional_feature_off():
    found = features_of(True, (10, 11, 6), portable=True)
    assert not found.window_functions and not found.skip_locked
