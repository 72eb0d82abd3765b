"""VGS over httpx without sockets: the emulator's ``App`` served in-process.

``InProcTransport`` turns an ``httpx.Request`` into the emulator's plain ``Request``,
calls ``App.handle`` and returns its ``Response``; a drop fault (no response) becomes
``httpx.RemoteProtocolError``, as a hung-up connection does over a socket, and a delay fault
longer than the request's read timeout becomes ``httpx.ReadTimeout`` after the request was
served (the client gave up; the emulator did the work anyway, as over a socket). The whole
client stack (``VGSHttp`` retries, error mapping, ``CachedTokenAuth``) runs unchanged,
roughly 50 times faster than loopback HTTP.

``LateTimeouts`` wraps any transport: the next ``count`` requests to a route are sent
and served, then the client sees ``httpx.ReadTimeout`` (VGS did the work; the answer
was lost). The emulator's own faults cannot produce this: its drop happens before the
handler runs. It also counts the client timeouts its inner transport raised (a delay fault
past the client's timeout) and, over a socket, waits for the emulator to finish the request
the client gave up on before it returns: the retry then sees its effect, every time.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx

from rotation.emulator import Emulator
from rotation.emulator.messages import Request


class InProcTransport(httpx.BaseTransport):
    def __init__(self, emulator: Emulator) -> None:
        self.app = emulator._app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.raw}
        response = self.app.handle(Request(request.method, request.url.path, headers, body))
        read_timeout = request.extensions.get("timeout", {}).get("read")
        delay = self.app.applied_delay()
        if delay and read_timeout is not None and delay > read_timeout:
            raise httpx.ReadTimeout("timed out (the emulator's delay fault outlasted the read timeout)",
                                    request=request)  # fmt: skip
        if response is None:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return httpx.Response(response.status, headers=response.headers, content=response.body, request=request)


class LateTimeouts(httpx.BaseTransport):
    """Client-side fault: serve the request, then lose the answer (``httpx.ReadTimeout``)."""

    def __init__(self, inner: httpx.BaseTransport, emulator: Emulator) -> None:
        self.inner = inner
        self.app = emulator._app
        self._lock = threading.Lock()
        self._plan: Counter[str] = Counter()
        self.fired = 0  # late answers injected here
        self.client_timeouts = 0  # read timeouts the inner transport raised (a delay fault outlasting the client)

    def inject(self, route: str, count: int = 1) -> None:
        with self._lock:
            self._plan[route] += count

    def clear(self) -> None:
        with self._lock:
            self._plan.clear()

    def _route(self, request: httpx.Request) -> str | None:
        matched = self.app.match(request.method, request.url.path)
        return None if not isinstance(matched, tuple) else matched[0].name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        route = self._route(request)
        mark = self.app.mark()
        try:
            response = self.inner.handle_request(request)
        except httpx.ReadTimeout:
            with self._lock:
                self.client_timeouts += 1
            if not isinstance(self.inner, InProcTransport) and not self.app.wait_idle(30.0, since=mark):
                raise AssertionError("the emulator still serves a request 30 s after its client timed out") from None
            raise
        late = False
        if route is not None:
            with self._lock:
                late = self._plan[route] > 0
                if late:
                    self._plan[route] -= 1
                    self.fired += 1
        if late:
            response.read()
            response.close()
            raise httpx.ReadTimeout("timed out (injected: the server answered too late)", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def virtual_delays(emulator: Emulator, sleep: Any) -> None:
    """Make the emulator's delay faults advance a virtual clock instead of waiting."""
    emulator._app.sleep = sleep
