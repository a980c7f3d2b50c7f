"""End to end in Debian's Chromium: the dashboard as an operator uses it.

A real `streamlit run app.py` on a free port, with its own demo MIS and simulator company and
QuickBooks limits shrunk so that a sync of all 2,050 demo records takes about half a minute: long
enough to watch it, leave the page and come back. Screenshots of every page land in
``artifacts/screenshots/`` (git-ignored), in the light and in the dark theme.

Skipped with the reason where Chromium or Playwright is missing, except under CI (``CI`` set),
where that fails the run. Never runs ``playwright install``: it drives /usr/bin/chromium.
"""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sync_core.demo.data import PLANTED_FAILURES
from sync_core.settings import load_settings

PLANTED = len(PLANTED_FAILURES)  # the demo's records a registrar must fix (blank RegNo)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
IN_CI = bool(os.environ.get("CI"))
OPERATOR = "Ada Lovelace"
# Shrunk QuickBooks limits: 8 batch requests per 3 s window -> a full demo sync in ~30 s.
LIMITS = {
    "QBO_LIMIT_WINDOW_S": "3",
    "QBO_LIMIT_WINDOW_MARGIN_S": "0.5",
    "QBO_BATCH_REQUESTS_PER_MINUTE": "8",
}
PRODUCT_ENV = ("MIS_DATABASE_URL", "QBO_")
SHORT = 15_000  # ms: anything an operator waits for, except the sync itself
SYNC_END = 120_000


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, blank_reg_no):
    reason = _unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI requires the browser tests", pytrace=False)
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("dashboard")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(PRODUCT_ENV)}
    env.update(
        LIMITS,
        SYNC_DATA_DIR=str(folder / "data"),
        SYNC_SECRETS_FILE=str(folder / "no-secrets.toml"),
        QBO_REDIRECT_URI=f"http://localhost:{port}/QuickBooks",
        PYTHONUNBUFFERED="1",
    )
    blank = blank_reg_no(load_settings(environ=env))
    log_path = folder / "streamlit.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/_stcore/health", timeout=2).text.strip() == "ok":
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"streamlit did not start:\n{log_path.read_text()}", pytrace=False)
        time.sleep(0.3)
    yield {"base": base, "blank": blank, "log": log_path}
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    server_log = log_path.read_text()
    assert "Traceback" not in server_log, f"the server logged an error:\n{server_log}"


@pytest.fixture(scope="module")
def chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, request):
    """A fresh browser context per theme; on failure, a screenshot of where it stopped."""
    contexts = []
    failures_before = request.session.testsfailed

    def make(scheme: str):
        context = chromium.new_context(
            viewport={"width": 1400, "height": 1600}, color_scheme=scheme, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(SHORT)
        return page

    yield make
    failed = request.session.testsfailed > failures_before
    for n, context in enumerate(contexts):
        if failed and context.pages:
            shot(context.pages[0], f"failure_{request.node.name}_{n}")
        context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # let charts and tables finish drawing
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def settle(page) -> None:
    """Wait until the app's script run is over, so that a click is not lost in a rerun.

    A click's rerun takes a moment to start: wait a little first, then for the idle state.
    """
    page.wait_for_timeout(300)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def press(page, name) -> None:
    settle(page)
    page.get_by_role("button", name=name).click()
    settle(page)


def heading(page, text: str, timeout: float | None = None):
    """A heading that ends with ``text`` (a leading icon's name may come first)."""
    name = re.compile(rf"(^|\s){re.escape(text)}$")
    page.get_by_role("heading", name=name).first.wait_for(timeout=timeout)


def nav(page, label: str) -> None:
    """Navigate like an operator: the sidebar's link (the session, and its operator, stay)."""
    settle(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label).click()
    heading(page, label)


def set_operator(page) -> None:
    settle(page)
    box = page.get_by_role("textbox", name="Operator")
    box.fill(OPERATOR)
    box.press("Enter")
    page.wait_for_timeout(300)
    settle(page)


def table_cells(page, index: int = 0) -> list[str]:
    """Texts of a dataframe's cells (the grid keeps an accessible table of the visible rows)."""
    grid = page.locator('[data-testid="stDataFrame"]').nth(index)
    grid.scroll_into_view_if_needed()
    grid.locator("td").first.wait_for(state="attached")
    return grid.locator("td").all_text_contents()


def click_row(page, row: int, index: int = 0) -> None:
    """Tick a row's selection box in a dataframe (the grid draws on a canvas)."""
    grid = page.locator('[data-testid="stDataFrame"]').nth(index)
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = grid.bounding_box()
    x, y = box["x"] + 18, box["y"] + 35 + 35 * row + 17
    page.mouse.move(x, y)
    page.mouse.click(x, y)


def progress_done(page) -> int:
    text = page.get_by_text(re.compile(r"of 2,050 records")).first.inner_text()
    return int(re.search(r"([\d,]+) of 2,050 records", text).group(1).replace(",", ""))


def luminance(css_color: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


# ---------------------------------------------------------------- the operator's week


def test_operator_previews_syncs_repairs_and_reconnects(server, open_page):
    page = open_page("light")
    base, blank = server["base"], server["blank"]

    # Overview: counts, charts, the demo banner
    page.goto(base + "/")
    heading(page, "Overview")
    page.locator(".js-plotly-plot .main-svg").first.wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
    page.get_by_text("Demo data and simulated QuickBooks").wait_for()
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "2,050"
    shot(page, "01_overview_light")

    # Preview: select a row, see the JSON it would send
    nav(page, "Preview")
    page.get_by_text("no classic custom fields on a Customer").wait_for()
    assert "Applicant 2" in table_cells(page)
    click_row(page, 1)
    page.get_by_text("Payload (JSON sent to QuickBooks)").wait_for()
    payload = page.get_by_test_id("stJson").first.inner_text()
    assert '"DisplayName"' in payload and "Applicant 2" in payload
    assert "CustomerType: Applicant" in payload
    page.get_by_text("Where each custom field goes").wait_for()
    shot(page, "02_preview_light")

    # Sync: refused without a name, then started by the operator
    nav(page, "Sync")
    page.get_by_text("This sync will send").wait_for()
    press(page, "Start sync")
    page.get_by_text("Enter your name under").wait_for()
    set_operator(page)
    press(page, "Start sync")
    heading(page, "Run 1: running")
    page.get_by_role("progressbar").first.wait_for()
    page.wait_for_timeout(2500)
    first = progress_done(page)
    assert 0 <= first < 2050
    page.get_by_role("button", name="Cancel this sync").wait_for()
    shot(page, "03_sync_running_light")

    # Leave mid-run: the Overview shows the same run; back on Sync it is still there
    nav(page, "Overview")
    page.get_by_text("A sync is running").wait_for()
    page.get_by_text("run 1 (all) started by Ada Lovelace").wait_for()
    shot(page, "04_overview_running_light")
    nav(page, "Sync")
    heading(page, "Run 1: running")
    page.wait_for_timeout(1500)
    assert progress_done(page) > first, "the live progress moves on"

    # ...and a reload (a new session) finds it too
    page.reload()
    heading(page, "Run 1: running")

    # The end: completed with errors, the hostile record explained in the error table
    heading(page, "Run 1: completed with errors", timeout=SYNC_END)
    page.get_by_text(
        f"Finished with errors: {2050 - PLANTED:,} synced, {PLANTED} failed."
    ).wait_for()
    cells = table_cells(page)
    assert f"Student (row {blank}, no RegNo)" in cells
    assert any("RegNo is empty in the MIS" in c for c in cells), cells
    assert "Correct the record in the MIS, then retry it." in cells
    page.get_by_text(re.compile(r"records renamed")).first.wait_for()
    page.get_by_text("Nothing to sync").wait_for()
    shot(page, "05_sync_done_light")

    # Records: open the failed record from the error table, in this session, and retry it
    set_operator(page)  # the reload above began a new session
    click_row(page, 0)
    settle(page)
    page.get_by_role("link", name="Open this record").click()
    heading(page, "Records")
    record = re.compile(rf"^Student \(row {blank}, no RegNo\) — ")
    page.get_by_role("heading", name=record).wait_for()
    assert f"kind=student&id={blank}" in page.url
    press(page, "Push this record now")
    page.get_by_text("Not synced: RegNo is empty in the MIS").wait_for()
    page.get_by_text("What to do: Correct the record in the MIS").first.wait_for()
    shot(page, "06_records_retry_light")
    page.get_by_role("textbox", name="Search").fill("Habimana")
    page.get_by_role("textbox", name="Search").press("Enter")
    page.get_by_text(re.compile(r"matches")).first.wait_for()
    assert any("Habimana" in c for c in table_cells(page))

    # Runs: the run's errors as CSV
    nav(page, "Runs")
    heading(page, "Run 2: completed with errors")  # the retry was a run of one record
    page.get_by_role("combobox").first.click()
    page.get_by_role("option", name=re.compile(r"^Run 1 ")).click()
    heading(page, "Run 1: completed with errors")
    with page.expect_download() as download:
        press(page, re.compile(r"Download this run's errors"))
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert len(failed) == PLANTED and "RegNo is empty" in failed[0]["message"]
    assert failed[0]["hint"] == "Correct the record in the MIS, then retry it."
    assert any(r["outcome"] == "renamed" for r in rows)
    shot(page, "07_runs_light")

    # QuickBooks: disconnect (confirmed), then connect again through the consent redirect
    nav(page, "QuickBooks")
    heading(page, "Simulated QuickBooks")
    assert "University Sandbox Company" in table_cells(page, 1)
    shot(page, "08_quickbooks_light")
    press(page, "Disconnect…")
    press(page, "Yes, disconnect")
    page.get_by_text("Disconnected: the app's access was revoked.").wait_for()
    page.get_by_text("QuickBooks not connected: connect first.").wait_for()
    shot(page, "09_quickbooks_disconnected_light")
    page.get_by_role("link", name="Connect to QuickBooks").click()
    page.get_by_text("Connected to QuickBooks company").wait_for()
    assert page.url.rstrip("/").endswith("/QuickBooks"), "the code left the address bar"
    assert "Access token valid until" in table_cells(page, 0)
    shot(page, "10_quickbooks_reconnected_light")


def test_pages_in_the_dark_theme(server, open_page):
    page = open_page("dark")
    base = server["base"]
    for number, (path, title) in enumerate(
        (
            ("/", "Overview"),
            ("/Preview?kind=Students", "Preview"),
            ("/Sync", "Sync"),
            ("/Records?q=Habimana", "Records"),
            ("/Runs", "Runs"),
            ("/QuickBooks", "QuickBooks"),
        ),
        start=11,
    ):
        page.goto(base + path)
        heading(page, title)
        if title == "Preview":  # the failed students, in the grid
            settle(page)
            page.get_by_test_id("stHorizontalBlock").get_by_text("Include failed").click()
            page.get_by_text(f"Students 1–{PLANTED} of {PLANTED}").wait_for()
        if title == "Overview":
            page.locator(".js-plotly-plot .ytick text").first.wait_for()
            tick = page.evaluate(
                "getComputedStyle(document.querySelector('.js-plotly-plot .ytick text')).fill"
            )
            assert luminance(tick) > 0.5, f"chart labels must be light on dark: {tick}"
        background = page.evaluate(
            "getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor"
        )
        assert luminance(background) < 0.3, f"{title} is not dark: {background}"
        text = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
        assert luminance(text) > 0.6, f"{title}'s text must be light: {text}"
        shot(page, f"{number}_{title.lower()}_dark")
