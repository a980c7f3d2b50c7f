"""The dashboard is layout and widgets: its pages call the service (the facade and the service
modules) and hold no SQL and no HTTP. Checked on the source of ``app.py`` and ``views/``."""

from __future__ import annotations

from pathlib import Path

from test_architecture import ROOT, imports_in, top_level

DASHBOARD = [ROOT / "app.py", *sorted((ROOT / "views").rglob("*.py"))]
# what a page may use of the library: the facade and service modules, the domain's words
# (roles, statuses, errors), the settings, the defaults, and the request a sync is asked with
ALLOWED = ("sync_core.service", "sync_core.domain", "sync_core.settings", "sync_core.defaults")
ALLOWED_EXACT = ("sync_core.sync.request",)
NO_SQL_NO_HTTP = {"sqlalchemy", "pymysql", "requests", "httpx", "urllib3", "socket", "http"}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_pages_hold_no_sql_and_no_http_and_reach_the_library_through_the_service():
    assert len(DASHBOARD) > 5
    found = []
    for path in DASHBOARD:
        for imp in imports_in(path, _module(path)):
            target = imp.target
            if (
                top_level(target) in NO_SQL_NO_HTTP
                or target.startswith("urllib.request")
                or top_level(target) == "sync_core"
                and not (
                    target.startswith(ALLOWED)
                    or any(target == e or target.startswith(e + ".") for e in ALLOWED_EXACT)
                )
            ):
                found.append(str(imp))
    assert found == [], "pages call the service: " + "; ".join(found)
