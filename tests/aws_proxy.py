"""A loopback stand-in for a throttling Secrets Manager, optionally in front of moto's server.

moto never throttles, and botocore retries throttled calls silently unless
:mod:`rotation.aws_retries` reports them: to see those retries (and a call that fails after
earlier ones succeeded) the chosen operations are answered as AWS answers a throttled call
(JSON 1.1, HTTP 400 ``ThrottlingException``); every other call is forwarded to moto as sent.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

ALWAYS = 1_000_000


class FlakyAws:
    """``url`` is the endpoint to give AWS_ENDPOINT_URL. ``upstream`` None: every call is
    throttled. ``throttle(op, times)``: the next ``times`` calls of ``op`` (e.g.
    ``"CreateSecret"``) are throttled. ``seen`` lists the operations asked, throttled or not."""

    def __init__(self, upstream: str | None) -> None:
        self.upstream = urlsplit(upstream) if upstream else None
        self.failures: dict[str, int] = {}
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def throttle(self, operation: str, times: int = ALWAYS) -> None:
        with self._lock:
            self.failures[operation] = times

    def _throttled(self, operation: str) -> bool:
        with self._lock:
            self.seen.append(operation)
            if self.upstream is None:
                return True
            left = self.failures.get(operation, 0)
            if left > 0:
                self.failures[operation] = left - 1
            return left > 0

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list[Any], bytes]:
        assert self.upstream is not None
        conn = http.client.HTTPConnection(self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                operation = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
                if proxy._throttled(operation):
                    self._send(400, [("Content-Type", "application/x-amz-json-1.1")], _THROTTLED)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                status, out_headers, out = proxy._forward("POST", self.path, headers, body)
                keep = [(k, v) for k, v in out_headers if k.lower() not in _HOP_HEADERS]
                self._send(status, keep, out)

            def _send(self, status: int, headers: list[Any], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[FlakyAws]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(10)


_HOP_HEADERS = ("content-length", "transfer-encoding", "connection", "date", "server", "x-amzn-requestid")
_THROTTLED = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
