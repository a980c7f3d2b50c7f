"""Benchmark: the Overview's first paint against a bare Streamlit page, in Chromium, with 200,000
records on MariaDB (issue 14 point 5: within 1.2x of the bare page).

    python benchmarks/bench_dashboard.py [--url MYSQL_SERVER_URL] [--runs 7]
        [--database NAME] [--keep]

Creates a throwaway MariaDB database with 100,000 applicants and 100,000 students (the demo
generator, with the earlier integration's history, so that part of them are synced and the
"changed since pushed" scan has records to read), unless ``--database`` names one made before.
Starts `streamlit run app.py` on it (QuickBooks: the embedded simulator) and, next to it, a bare
Streamlit page (a title and one metric, nothing else), then opens each in Chromium.

First paint, for both pages: the time from navigation start until the page's title (h1) and
its key metric are painted with their values: for the Overview its title and its six counts
(Total records, Synced, Not synced, Failed, In progress, Progress), for the bare page its title
and its one metric. Sampled in the page on every animation frame (``requestAnimationFrame``), so
it is the frame in which they first show. Also reported, without a target: the Overview's
charts drawn (three Plotly charts with their axes) and "Changed since pushed" shown (the scan of
every synced record, computed after the first paint).

Each measure is a new Streamlit session:
  cold   a new browser profile each time (no HTTP or code cache: a first visit)
  warm   a new tab of a profile that opened the same page before (a returning operator)
The bare page and the Overview alternate within one run (bare, Overview, bare, Overview, ...),
so both see the same machine; each line gives the medians, the ratio, the target, the verdict
and the machine's load average (1 min) when the line was measured. The very first load of each
server process (imports, context, caches empty) is reported apart, without a target. The
changes summary (``changes_summary``) is also timed in this process on the same database.
Prints figures; asserts nothing. A database this script made is dropped afterwards unless
``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from sync_core.database import create_db_engine  # noqa: E402
from sync_core.demo.data import create_demo_database  # noqa: E402
from sync_core.mis.setup import ensure_tracking_columns  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET_RATIO = 1.2
TIMEOUT_MS = 60_000

BARE_APP = """
import streamlit as st

st.title("Bare")
st.metric("Total records", "200,000")
"""

# performance.now() of the first animation frame in which the page's title and its metrics
# (as many as expected, each with a value) are in the document and visible
PAINTED_JS = """
([title, metrics]) => {
  const h1 = document.querySelector('h1');
  if (!h1 || !h1.textContent.includes(title) || !h1.offsetParent) return false;
  const values = [...document.querySelectorAll('[data-testid="stMetricValue"]')]
    .filter(v => v.offsetParent && v.textContent.trim() && !v.closest('[data-stale="true"]'));
  return values.length >= metrics ? performance.now() : false;
}
"""
CHARTS_JS = """
(n) => document.querySelectorAll('.js-plotly-plot .ytick text').length > 0
  && document.querySelectorAll('[data-testid="stPlotlyChart"] .main-svg').length >= n
  ? performance.now() : false
"""
CHANGED_JS = """
() => [...document.querySelectorAll('[data-testid="stMetricLabel"]')]
  .some(l => l.textContent.includes('Changed since pushed')) ? performance.now() : false
"""


def load() -> float:
    return os.getloadavg()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(server_url: str, applicants: int, students: int) -> tuple[str, str]:
    name = f"qbsync_bench_dash_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(server_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    admin.dispose()
    url = database_url(server_url, name)
    engine = create_db_engine(url)
    started = time.perf_counter()
    create_demo_database(engine, applicants=applicants, students=students, with_history=True)
    ensure_tracking_columns(engine)
    engine.dispose()
    took = time.perf_counter() - started
    print(f"database {name}: {applicants + students:,} records in {took:.0f} s")
    return name, url


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    admin = create_db_engine(server_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()


@contextlib.contextmanager
def data_folder(database: str | None) -> Iterator[str]:
    """The dashboard's data folder (token key, simulator company): for a database made before,
    the same folder each time (the tokens stored in it were encrypted with its key), else a
    throwaway one."""
    if database:
        folder = Path(tempfile.gettempdir()) / f"{database}-data"
        folder.mkdir(exist_ok=True)
        yield str(folder)
        return
    with tempfile.TemporaryDirectory() as folder_name:
        yield folder_name


def start_streamlit(
    script: Path, env_extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIS_", "QBO_"))}
    env.update(env_extra or {})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=script.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/_stcore/health", timeout=2).text.strip() == "ok":
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("streamlit did not start")


class Target:
    """One page to open: where, its title, how many metrics its first paint shows."""

    def __init__(self, base: str, title: str, metrics: int, overview: bool) -> None:
        self.base, self.title, self.metrics, self.overview = base, title, metrics, overview
        self.shows_changed = overview  # until a load finds no "Changed since pushed"


def open_once(browser, target: Target, context=None) -> dict[str, float]:
    """A new session opens the page: seconds from navigation start until its first paint (and,
    for the Overview, until its charts are drawn and the changed count is shown). Without
    ``context`` in a new browser profile (cold), else in a new tab of it (warm)."""
    own = context is None
    if own:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(target.base + "/", wait_until="commit")
    figures = {
        "paint": page.wait_for_function(
            PAINTED_JS, arg=[target.title, target.metrics], polling="raf", timeout=TIMEOUT_MS
        ).json_value()
        / 1000
    }
    if target.overview:
        total = page.get_by_test_id("stMetricValue").first.inner_text()
        if total != "200,000":
            print(f"  (the Overview showed {total} records)")
        for name, script, arg in (("charts", CHARTS_JS, 3), ("changed", CHANGED_JS, None)):
            if name == "changed" and not target.shows_changed:
                figures[name] = math.nan
                continue
            try:
                handle = page.wait_for_function(script, arg=arg, polling="raf", timeout=TIMEOUT_MS)
            except PlaywrightTimeout:
                if name != "changed":
                    raise
                target.shows_changed = False  # an Overview without it (an older version)
                figures[name] = math.nan
                continue
            figures[name] = handle.json_value() / 1000
    page.close()
    if own:
        context.close()
    return figures


class Series:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.loads: list[float] = []

    def add(self, figures: dict[str, float]) -> None:
        for name, value in figures.items():
            self.values.setdefault(name, []).append(value)
        self.loads.append(load())

    def median(self, name: str) -> float:
        return statistics.median(self.values[name])


def measure(browser, bare: Target, overview: Target, runs: int) -> dict[str, Series]:
    """Cold then warm, the two pages alternating in each."""
    series = {f"{w} {t}": Series() for w in ("cold", "warm") for t in ("bare", "overview")}
    for _ in range(runs):
        for name, target in (("bare", bare), ("overview", overview)):
            series[f"cold {name}"].add(open_once(browser, target))
    profiles = {}
    for name, target in (("bare", bare), ("overview", overview)):
        profiles[name] = browser.new_context(viewport={"width": 1400, "height": 1000})
        open_once(browser, target, profiles[name])  # fills the profile's caches
    for _ in range(runs):
        for name, target in (("bare", bare), ("overview", overview)):
            series[f"warm {name}"].add(open_once(browser, target, profiles[name]))
    for profile in profiles.values():
        profile.close()
    return series


def time_changes_summary(db_url: str, data_dir: str) -> tuple[float, object]:
    """``changes_summary`` on the benchmark's database, in this process (best of two)."""
    os.environ.update({"MIS_DATABASE_URL": db_url, "SYNC_DATA_DIR": data_dir})
    from sync_core.service import open_service
    from sync_core.service.changes import changes_summary

    service = open_service()
    took = []
    for _ in range(2):
        started = time.perf_counter()
        summary = changes_summary(service)
        took.append(time.perf_counter() - started)
    service.close()
    return min(took), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/")
    parser.add_argument("--applicants", type=int, default=100_000)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7, help="page loads of each kind to time")
    parser.add_argument(
        "--database", help="use this database (made before, e.g. by an earlier --keep) as it is"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    if args.database:
        name, db_url = args.database, database_url(args.url, args.database)
    else:
        name, db_url = create_database(args.url, args.applicants, args.students)
    records = f"{(args.applicants + args.students) // 1000}k"
    processes: list[subprocess.Popen] = []
    try:
        with data_folder(name if args.database else None) as data_dir:
            process, base = start_streamlit(
                ROOT / "app.py",
                {
                    "MIS_DATABASE_URL": db_url,
                    "SYNC_DATA_DIR": data_dir,
                    "SYNC_SECRETS_FILE": os.path.join(data_dir, "no-secrets.toml"),
                },
            )
            processes.append(process)
            bare_script = Path(data_dir) / "bare_app.py"
            bare_script.write_text(BARE_APP)
            process, bare_base = start_streamlit(bare_script)
            processes.append(process)
            bare = Target(bare_base, "Bare", 1, overview=False)
            overview = Target(base, "Overview", 6, overview=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                first_bare = open_once(browser, bare)
                first = open_once(browser, overview)
                print(
                    f"first load of each server process (cold browser): Overview first paint "
                    f"{first['paint']:.2f} s, charts {first['charts']:.2f} s, changed "
                    f"{first['changed']:.2f} s; bare {first_bare['paint']:.2f} s  "
                    f"load={load():.1f}"
                )
                series = measure(browser, bare, overview, args.runs)
                browser.close()
            summary_s, summary = time_changes_summary(db_url, data_dir)
    finally:
        for process in processes:
            process.terminate()
            process.wait(15)
        if not args.keep and not args.database:
            drop_database(args.url, name)

    where = f"@{records} mariadb"
    for state in ("cold", "warm"):
        o, b = series[f"{state} overview"], series[f"{state} bare"]
        ratio = o.median("paint") / b.median("paint")
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        loads = statistics.median(o.loads + b.loads)
        print(
            f"overview first paint {state} {where}: {o.median('paint'):.2f} s vs bare "
            f"{b.median('paint'):.2f} s ({ratio:.2f}x) target <= {TARGET_RATIO}x  {verdict}  "
            f"load={loads:.1f}  (n={len(o.loads)} each, medians)"
        )
        for what, label in (("charts", "charts drawn"), ("changed", "changed count shown")):
            print(
                f"overview {label} {state} {where}: {o.median(what):.2f} s "
                f"(best {min(o.values[what]):.2f}, worst {max(o.values[what]):.2f})  "
                f"no target  load={statistics.median(o.loads):.1f}"
            )
    overall = summary.overall  # type: ignore[attr-defined]
    print(
        f"changes_summary {where}: {summary_s:.2f} s for {overall.synced:,} synced records "
        f"(changed {overall.changed:,}, not compared {overall.not_compared:,}, marked "
        f"{overall.marked:,}); runs after first paint, cached  load={load():.1f}"
    )


if __name__ == "__main__":
    main()
