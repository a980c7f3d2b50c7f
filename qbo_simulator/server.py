"""HTTP/1.1 transport: keep-alive, Content-Length on every answer, the dropped-answer fault."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .messages import Request, Response, json_response

log = logging.getLogger("qbo_simulator")

Dispatch = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "QBOSimulator/1.0"
    # Header and body go out as separate writes; with Nagle on, the client's delayed ACK would
    # add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True
    timeout = 300  # close keep-alive connections idle this long, as a real front end would
    server: SimulatorHTTPServer

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self._send(json_response(400, {"error": "unreadable request body"}))
            self.close_connection = True
            return
        request = Request(
            method=self.command,
            path=parts.path,
            params=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.dispatch(request)
        if response.drop:
            # The work is committed; the answer is lost: close without a status line.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        if response.body:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("intuit_tid", secrets.token_hex(16))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # http.server would log the full request line (query strings carry auth codes);
        # the simulator logs method, path and status itself.
        return


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        # A client that gave up waiting (its read timeout) closes the socket before we answer:
        # that is the client's timeout working, not a simulator fault worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
