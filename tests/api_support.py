"""Fixtures and helpers of the API, schedule and notification tests (issue 13).

``small``: the product's service on a small demo MIS (30 applicants, 40 students: a full sync
takes about a second) on SQLite and on MariaDB, connected to the QuickBooks simulator over HTTP.
Its demo data keeps the MIS's own data-entry error (student row 7 has a blank RegNo), so a sync
of students ends with one readable failure; the demo's applicant whose name QuickBooks refuses
is corrected, so a sync of applicants is clean.

Local listeners stand in for the notification targets: an HTTP server that records what it is
sent (``json://``), and an SMTP server (aiosmtpd) that records e-mails (``mailto://``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa

from sync_core.database import create_db_engine
from sync_core.domain.access import Actor, Role

ADMIN = Actor("Test Admin", Role.ADMIN, "cli")
SMALL_APPLICANTS = 30
SMALL_STUDENTS = 40
BLANK_REGNO_STUDENT = 7  # the demo's planted data-entry error
RUN_TIMEOUT_S = 60


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, every=0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port nobody listens on (bound, then released)."""
    return free_port()


def make_small_mis(url: str) -> None:
    from sync_core.demo.data import PLANTED_FAILURES, create_demo_database

    engine = create_db_engine(url)
    try:
        create_demo_database(engine, applicants=SMALL_APPLICANTS, students=SMALL_STUDENTS)
        # the applicant whose name QuickBooks refuses is corrected: applicants sync cleanly
        refused = next(f for f in PLANTED_FAILURES if f.column == "first_name")
        table = sa.table(refused.table, sa.column("appl_Id"), sa.column("first_name"))
        with engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.appl_Id == refused.row_id)
                .values(first_name="Clarisse")
            )
    finally:
        engine.dispose()


def stop_runs(service) -> None:
    """Leave no background run behind (it would write into a dropped database)."""
    from sync_core.service.background import wait_for

    active = service.active_run()
    if active is not None:
        service.cancel_sync(active.id, ADMIN)
        wait_for(active.id, timeout=RUN_TIMEOUT_S)


@pytest.fixture
def small_url(backend, make_database) -> str:
    url = make_database(backend)
    make_small_mis(url)
    return url


@pytest.fixture
def make_small_service(small_url, simulator, make_settings):
    """``make(**settings overrides) -> service`` on the small MIS; all closed at the end."""
    from sync_core.service import open_service

    made = []

    def make(**overrides):
        service = open_service(make_settings(simulator, small_url, **overrides))
        made.append(service)
        return service

    yield make
    for service in made:
        stop_runs(service)
    for service in made:
        service.close()


@pytest.fixture
def small(make_small_service):
    return make_small_service()


def wait_for_run_end(service, run_id: int, timeout: float = RUN_TIMEOUT_S):
    from sync_core.service.background import wait_for

    wait_for(run_id, timeout=timeout)
    return wait_until(
        lambda: (run := service.run(run_id)) is not None and not run.is_running and run,
        timeout=timeout,
        what=f"run {run_id} to end",
    )


# ---------------------------------------------------------------- a webhook listener


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HookListener:
    """An HTTP server on 127.0.0.1 recording every POST (apprise's json:// target)."""

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "hook/SECRET-PATH-TOKEN") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        return [r.body.get("title", "") for r in self.received]


@pytest.fixture
def hook() -> Iterator[HookListener]:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"raw": raw.decode("utf-8", "replace")}
            received.append(Received(self.path, dict(self.headers), body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HookListener(server, received)
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- an SMTP server


@dataclass
class Mailbox:
    port: int
    messages: list[Any] = field(default_factory=list)  # email.message.Message

    def url(self, to: str = "registrar@example.org") -> str:
        return (
            f"mailto://sync:SMTP-PASSWORD@127.0.0.1:{self.port}"
            f"?from=sync@example.org&to={to}&mode=insecure"
        )

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from email import message_from_bytes

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            box.messages.append(message_from_bytes(envelope.original_content or envelope.content))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=True)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield box
    controller.stop()
