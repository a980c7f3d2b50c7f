"""End to end in Debian's Chromium: the dashboard as an operator uses it.

A real `streamlit run app.py` on a free port, with its own demo MIS and simulator company and
QuickBooks limits shrunk so that a sync of all 2,050 demo records takes about half a minute: long
enough to watch it, wait for QuickBooks' limit, leave the page and come back. Screenshots of
every page land in ``artifacts/screenshots/`` (git-ignored), in the light and in the dark theme.

Every request each page makes is recorded: none may go to another host than the dashboard's
(127.0.0.1). Two MIS records carry hostile names (Markdown, HTML, directives, autolinks), and an
operator types a hostile name: they must show as the text they are, creating no link or image.

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
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from sync_core.database import create_db_engine
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
PAGES = [
    "Overview",
    "Preview",
    "Sync",
    "Records",
    "Runs",
    "QuickBooks",
    "Reconcile",
    "Check",
    "Schedules",
]
# hostile text in MIS names and an operator's name (see test_dashboard_access.py)
H_FIRST = "**Bold** [link](http://evil.example/a) ![img](http://evil.example/i.png)"
H_LAST = ":red[Red] :material/home: :smile: <img src=http://evil.example/h.png> $x$ a -> b"
H_OPERATOR = "Op **bold** [x](http://evil.example/o) :blue[b] :tada: <b>h</b> www.evil.example"
HOSTILE_APPLICANT = 9
HOSTILE_STUDENT = [f.row_id for f in PLANTED_FAILURES if f.column == "reg_no"][1]


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
        PYTHONUNBUFFERED="1",
    )  # no QBO_REDIRECT_URI: the simulator's consent must come back to this port
    settings = load_settings(environ=env)
    blank = blank_reg_no(settings)
    hostile_mis(settings.database_url)
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
    base = f"http://127.0.0.1:{port}"  # .streamlit/config.toml: server.address 127.0.0.1
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


def hostile_mis(database_url: str) -> None:
    """A registrar's worst day: Markdown, HTML and directives in two records' names."""
    engine = create_db_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE tbl_online_application SET first_name = :f, family_name = :l "
                "WHERE appl_Id = :id"
            ),
            {"f": H_FIRST, "l": H_LAST, "id": HOSTILE_APPLICANT},
        )
        conn.execute(
            sa.text("UPDATE tbl_personal_ug SET fname = :f, lname = :l WHERE per_id_ug = :id"),
            {"f": H_FIRST, "l": H_LAST, "id": HOSTILE_STUDENT},
        )
    engine.dispose()


@pytest.fixture
def open_page(chromium, request):
    """A fresh browser context per theme, every request it makes recorded (none may leave the
    dashboard's host); on failure, a screenshot of where it stopped."""
    contexts = []
    requested: list[str] = []
    failures_before = request.session.testsfailed

    def make(scheme: str):
        context = chromium.new_context(
            viewport={"width": 1400, "height": 1600}, color_scheme=scheme, accept_downloads=True
        )
        context.on("request", lambda r: requested.append(r.url))
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
    assert requested, "requests are recorded"
    elsewhere = sorted({u for u in requested if urlsplit(u).hostname != "127.0.0.1"})
    assert not elsewhere, f"requests to other hosts: {elsewhere}"


def no_link_or_image_from_data(page) -> None:
    """Nothing the hostile text holds became a link, an image or math."""
    made = page.locator('a[href*="evil"], img[src*="evil"], .katex').evaluate_all(
        "els => els.map(e => e.parentElement.outerHTML.slice(0, 300))"
    )
    assert not made, made


def page_text(page) -> str:
    """The page's text as a person reads it (the invisible word joiners left out)."""
    return page.locator("body").inner_text().replace("\u2060", "")


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


def choose(page, option: str) -> None:
    """An option of a segmented control."""
    settle(page)
    page.get_by_test_id("stButtonGroup").get_by_text(option, exact=True).click()
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


def set_operator(page, name: str = OPERATOR) -> None:
    settle(page)
    box = page.get_by_role("textbox", name="Operator")
    box.fill(name)
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


def progress_done(page, planned: str = "2,040") -> int:
    text = page.get_by_text(re.compile(rf"of {planned} records done")).first.inner_text()
    return int(re.search(rf"([\d,]+) of {planned} records", text).group(1).replace(",", ""))


def luminance(css_color: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


# ---------------------------------------------------------------- the first visit after a start


def test_the_first_visit_after_a_start_opens_its_deep_link(server, open_page):
    """The very first page the server serves is a deep link: it opens, with no "Page not
    found" and no list of the pages' files in the sidebar; the favicon is the dashboard's."""
    page = open_page("light")
    page.goto(server["base"] + "/Preview?kind=Students")
    heading(page, "Preview")
    page.get_by_text("Students 1–25 of 1,200").wait_for()
    settle(page)
    assert page.get_by_text("Page not found").count() == 0
    links = [
        link.strip().splitlines()[-1]
        for link in page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    ]
    assert links[: len(PAGES)] == PAGES, links
    assert "app" not in links and all(link[0].isupper() for link in links), "no file names"
    icons = page.locator('link[rel~="icon"]').evaluate_all("els => els.map(e => e.href)")
    assert icons and all(urlsplit(i).hostname == "127.0.0.1" for i in icons), icons
    shot(page, "00_first_visit_deep_link")


# ---------------------------------------------------------------- the operator's week


def test_operator_previews_syncs_repairs_and_reconnects(server, open_page):
    page = open_page("light")
    base, blank = server["base"], server["blank"]

    # Overview: counts, charts (failures on their own scale), the demo banner
    page.goto(base + "/")
    heading(page, "Overview")
    page.locator(".js-plotly-plot .main-svg").first.wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 3
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

    # Sync: refused without a name; then the next 10 records only
    nav(page, "Sync")
    page.get_by_text("This sync will send").wait_for()
    press(page, "Start sync")
    page.get_by_text("Enter your name under").wait_for()
    set_operator(page)
    choose(page, "Next 10")
    page.get_by_text(re.compile(r"This sync will send 10 records of the 2,050 waiting")).wait_for()
    press(page, "Start sync")
    heading(page, "Run 1: completed", timeout=SYNC_END)
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "10"
    page.get_by_text("Finished: 10 synced, no errors.").wait_for()
    shot(page, "03_sync_next_10_light")

    # ...then all pending: it waits for QuickBooks' limit, and says so
    choose(page, "All pending")
    press(page, "Start sync")
    heading(page, "Run 2: running")
    page.get_by_role("progressbar").first.wait_for()
    assert page.get_by_role("button", name="Start sync").is_disabled(), "one run at a time"
    waiting = page.get_by_text(re.compile(r"Waiting for QuickBooks' limit, about \d+ s"))
    waiting.first.wait_for(timeout=SYNC_END)
    first = progress_done(page)
    assert 0 <= first < 2040
    page.get_by_role("button", name="Cancel this sync").wait_for()
    shot(page, "04_sync_waiting_light")

    # Leave mid-run: the Overview shows the same run, live; back on Sync it is still there
    nav(page, "Overview")
    page.get_by_text("A sync is running").wait_for()
    page.get_by_text("run 2 (all) started by Ada Lovelace").wait_for()
    before = progress_done(page)
    page.wait_for_function(
        "n => { const m = document.body.innerText.match(/([\\d,]+) of 2,040 records done/);"
        " return m && parseInt(m[1].replace(/,/g, '')) > n; }",
        arg=before,
        timeout=SHORT,
    )
    assert "running" in page.locator('[data-testid="stTable"]').first.inner_text()
    shot(page, "05_overview_running_light")
    nav(page, "Sync")
    heading(page, "Run 2: running")

    # ...and a reload (a new session) finds it too
    page.reload()
    heading(page, "Run 2: running")

    # The end: completed with errors, the hostile record explained in the error table
    heading(page, "Run 2: completed with errors", timeout=SYNC_END)
    page.get_by_text(
        f"Finished with errors: {2040 - PLANTED:,} synced, {PLANTED} failed."
    ).wait_for()
    cells = table_cells(page)
    assert f"Student (row {blank}, no RegNo)" in cells
    assert any("RegNo is empty in the MIS" in c for c in cells), cells
    page.get_by_text(re.compile(r"records renamed")).first.wait_for()
    page.get_by_text("Nothing to sync").wait_for()
    shot(page, "06_sync_done_light")

    # Records: open the failed record from the error table, in this session, and retry it
    set_operator(page)  # the reload above began a new session
    click_row(page, 1)  # oldest first: the applicant whose name QuickBooks refuses, then this
    settle(page)
    page.get_by_text("What to do: Correct the record in the MIS, then retry it.").wait_for()
    page.get_by_role("link", name="Open this record").click()
    heading(page, "Records")
    record = re.compile(rf"^Student \(row {blank}, no RegNo\) — ")
    page.get_by_role("heading", name=record).wait_for()
    assert f"kind=student&id={blank}" in page.url
    press(page, "Push this record now")
    page.get_by_text("Not synced: RegNo is empty in the MIS").wait_for()
    page.get_by_text("What to do: Correct the record in the MIS").first.wait_for()
    shot(page, "07_records_retry_light")

    # The worklist, from the Overview's failures: export them, retry one of them
    nav(page, "Overview")
    settle(page)
    page.get_by_role("link", name=f"Open the {PLANTED} failures").click()
    heading(page, "Worklist")
    assert "status=failed" in page.url
    page.get_by_text(f"{PLANTED} records match the filters").wait_for()
    cells = table_cells(page)
    assert any("RegNo is empty in the MIS" in c for c in cells), cells
    with page.expect_download() as download:
        press(page, re.compile(r"Download the current failures"))
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert len(rows) == PLANTED and all(r["reason"] and r["what_to_do"] for r in rows)
    assert str(blank) in {r["row_id"] for r in rows}
    click_row(page, 0)
    press(page, "Retry the 1 selected record")
    page.get_by_text("Run 4 started by Ada Lovelace: 1 chosen record.").wait_for()
    page.get_by_role("link", name="Watch it on the Sync page").first.wait_for()
    shot(page, "08_worklist_light")

    # Runs: the newest first, the run's errors as CSV, and a deep link in a new tab
    nav(page, "Runs")
    heading(page, "Run 4: completed with errors", timeout=SYNC_END)
    page.get_by_role("combobox", name="Run").click()
    page.get_by_role("option", name=re.compile(r"^Run 2 ")).click()
    heading(page, "Run 2: completed with errors")
    assert "run=2" in page.url, "the address names the run shown"
    with page.expect_download() as download:
        press(page, re.compile(r"Download this run's errors"))
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert len(failed) == PLANTED
    assert any("RegNo is empty" in r["message"] for r in failed)
    assert any("only characters QuickBooks refuses" in r["message"] for r in failed)
    assert {r["hint"] for r in failed} == {"Correct the record in the MIS, then retry it."}
    assert any(r["outcome"] == "renamed" for r in rows)
    shot(page, "09_runs_light")
    tab = page.context.new_page()
    tab.goto(base + "/Runs?run=1")
    heading(tab, "Run 1: completed")
    tab.get_by_text("the next 10").first.wait_for()
    tab.close()

    # QuickBooks: disconnect (confirmed), then connect again through the consent redirect,
    # which comes back to this dashboard's own port (no QBO_REDIRECT_URI configured)
    nav(page, "QuickBooks")
    heading(page, "Simulated QuickBooks")
    assert "University Sandbox Company" in table_cells(page, 1)
    press(page, "Disconnect…")
    press(page, "Yes, disconnect")
    page.get_by_text("Disconnected: the app's access was revoked.").wait_for()
    page.get_by_text("QuickBooks not connected: connect first.").wait_for()
    assert page.locator('[data-testid="stSidebar"]').get_by_text("not connected").count() == 0
    shot(page, "10_quickbooks_disconnected_light")
    page.get_by_role("link", name="Connect to QuickBooks").click()
    page.get_by_text("Connected to QuickBooks company").wait_for()
    assert page.url.startswith(base + "/QuickBooks"), page.url
    assert page.url.rstrip("/").endswith("/QuickBooks"), "the code left the address bar"
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("QuickBooks connected").wait_for()  # not stale after connecting
    assert "Access token valid until" in table_cells(page, 0)
    shot(page, "11_quickbooks_reconnected_light")


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
        start=12,
    ):
        page.goto(base + path)
        heading(page, title)
        if title == "Preview":  # the failed students, in the grid
            settle(page)
            page.get_by_test_id("stHorizontalBlock").get_by_text("Include failed").click()
            page.get_by_text(re.compile(r"Students 1–\d+ of \d+")).wait_for()
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


# ---------------------------------------------------------------- text is text


def test_hostile_text_is_text_on_every_page(server, open_page):
    """MIS names and an operator's name full of Markdown, HTML, directives and links show as
    the text they are: verbatim in the page, no link, image or math made of them."""
    page = open_page("light")
    base = server["base"]
    name_parts = ("**Bold** [link](http", "![img](http", "red[Red]", "<img src=", "$x$ a -> b")

    page.goto(f"{base}/Records?kind=student&id={HOSTILE_STUDENT}")
    heading(page, "Records")
    set_operator(page, H_OPERATOR)
    title = page.get_by_role("heading", name=re.compile(r"^Student \(row \d+, no RegNo\) — "))
    shown = title.inner_text().replace("\u2060", "")
    assert all(part in shown for part in name_parts), shown
    press(page, "Push this record now")
    page.get_by_text("Not synced: RegNo is empty in the MIS").wait_for()
    no_link_or_image_from_data(page)
    shot(page, "20_hostile_record")

    page.goto(f"{base}/Records?q=Bold")  # the search: the MIS values, in a table
    heading(page, "Records")
    assert any(H_FIRST in c and H_LAST in c for c in table_cells(page)), table_cells(page)

    set_operator(page, H_OPERATOR)
    nav(page, "Sync")  # the last run: this push, by the hostile operator, and its error
    heading(page, "completed with errors")
    page.get_by_text(re.compile(r"started by Op \*\*bold\*\* \[x\]")).first.wait_for()
    assert f"started by {H_OPERATOR}" in page_text(page)
    click_row(page, 0)
    settle(page)
    detail = page.get_by_text(re.compile(r"^Student \(row \d+, no RegNo\) — ")).first
    assert all(part in detail.inner_text().replace("\u2060", "") for part in name_parts)
    no_link_or_image_from_data(page)
    shot(page, "21_hostile_sync")

    for label in ("Runs", "Overview", "Preview", "QuickBooks", "Reconcile", "Check", "Schedules"):
        nav(page, label)
        settle(page)
        if label in ("Runs", "Overview"):
            hostile = page.get_by_text(re.compile(re.escape("[x](http")))
            hostile.filter(visible=True).first.wait_for()  # not a stale copy of the last page
            assert H_OPERATOR in page_text(page), label
        no_link_or_image_from_data(page)
        shot(page, f"22_hostile_{label.lower()}")
