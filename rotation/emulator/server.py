"""HTTP plumbing on the standard library: keep-alive HTTP/1.1, one thread per connection.

No web framework, so that the emulator starts in milliseconds. This module knows sockets
and bytes; what to answer is :class:`rotation.emulator.app.App`'s business.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from rotation.emulator.app import App
from rotation.emulator.messages import Request, Response, jsonapi_error

log = logging.getLogger("rotation.emulator")

MAX_BODY = 1024 * 1024
_QUERY = re.compile(r"\?[^\s'\"]*")


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that ``stop`` also ends idle keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 refuses connections under a soak test's bursts

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class EmulatorHTTPServer6(EmulatorHTTPServer):
    address_family = socket.AF_INET6


class _BodyError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vgs-emulator"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this long
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # peer's delayed ACK add ~40 ms to every response.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._send(exc.response)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, urlsplit(self.path).path, headers, body)
        try:
            response = self.server.app.handle(request)
        except Exception:
            log.exception("emulator handler failed for %s %s", self.command, request.path)
            response = jsonapi_error(500, "Internal Server Error", "emulator bug")
        if response is None:
            self._drop()
            return
        self._send(response)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BodyError(jsonapi_error(400, "Bad Request", "Invalid Content-Length")) from None
        if length < 0 or length > MAX_BODY:
            raise _BodyError(jsonapi_error(413, "Payload Too Large", f"Body over {MAX_BODY} bytes"))
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(jsonapi_error(400, "Bad Request", "Invalid chunked body")) from None
            total += size
            if total > MAX_BODY:
                raise _BodyError(jsonapi_error(413, "Payload Too Large", f"Body over {MAX_BODY} bytes"))
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, response: Response) -> None:
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up first (its read timeout outlasted by a delay fault): normal
            self.close_connection = True
            log.debug("%s %s: the client hung up before the answer", self.command, urlsplit(self.path).path)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)

    def _drop(self) -> None:
        """Hang up without a byte of response: what a crashed backend or a reset looks like."""
        self.close_connection = True
        log.debug("%s %s dropped (fault)", self.command, urlsplit(self.path).path)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # The default logs the request line (with any query string) to stderr: never that.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:
        # Errors about malformed requests quote the request line: drop its query string.
        log.debug("emulator: %s", _QUERY.sub("?<redacted>", format % args))
