"""Hold one VGS request at the emulator, so a test can act at that exact point.

The plugin runs in its own process under OpenBao, so its crash points cannot be armed from
the test the way the in-process schedules do. What the test controls is VGS: ``Gate`` wraps
the emulator's request handler and holds the n-th request to a route, before it is served
(nothing done at VGS yet) or after (done at VGS, the answer not yet sent), until the test
releases it. Killing the plugin while it waits on a held request is a ``kill -9`` at a known
step, every time. A held request that is released after its caller died is dropped (the
connection closed, no answer written). ``lose`` serves a request and drops the answer (the
work is done, the client sees a broken connection): a lost answer over real HTTP, counted in
``fired["lost_answer"]`` (the emulator counts its own faults: ``Faults.fired``). The gate also
collects every access token and client secret VGS issued, for the leak scan.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rotation.emulator import Emulator
from rotation.emulator.messages import Request, Response

HOLD_TIMEOUT = 60.0  # a held request is let go after this long whatever happens


@dataclass
class Hold:
    route: str
    nth: int
    when: str  # "before" or "after" serving
    seen: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    drop: bool = False  # set by the test: the caller is dead, write nothing


class Gate:
    def __init__(self, emulator: Emulator) -> None:
        self.app = emulator._app
        self._serve: Callable[[Request], Response | None] = type(self.app).handle.__get__(self.app)
        self._lock = threading.Lock()
        self._holds: list[Hold] = []
        self._lose: dict[str, int] = {}
        self.fired: Counter[str] = Counter()  # answers lost here ("lost_answer")
        self.issued: set[str] = set()  # every access token and client secret VGS issued (for the leak scan)
        self.app.handle = self._handle  # type: ignore[method-assign]

    def close(self) -> None:
        self.clear()
        vars(self.app).pop("handle", None)

    def clear(self) -> None:
        with self._lock:
            holds, self._holds = self._holds, []
            self._lose.clear()
        for hold in holds:
            hold.drop = True
            hold.release.set()

    def cancel(self, hold: Hold) -> None:
        with self._lock:
            if hold in self._holds:
                self._holds.remove(hold)

    def hold(self, route: str, nth: int = 1, when: str = "after") -> Hold:
        hold = Hold(route, nth, when)
        with self._lock:
            self._holds.append(hold)
        return hold

    def lose(self, route: str, count: int = 1) -> None:
        with self._lock:
            self._lose[route] = self._lose.get(route, 0) + count

    def _route(self, request: Request) -> str | None:
        matched = self.app.match(request.method, request.path)
        return matched[0].name if isinstance(matched, tuple) else None

    def _handle(self, request: Request) -> Response | None:
        route = self._route(request)
        fire: Hold | None = None
        lose = False
        with self._lock:
            for hold in self._holds:
                if hold.route == route:
                    hold.seen += 1
                    if hold.seen == hold.nth:
                        fire = hold
                        self._holds.remove(hold)
                        break
            if fire is None and route is not None and self._lose.get(route, 0) > 0:
                self._lose[route] -= 1
                lose = True
        if fire is not None and fire.when == "before":
            self._wait(fire)
            if fire.drop:
                return None
        response = self._serve(request)
        if response is not None and response.status in (200, 201) and route in ("token", "accounts.create"):
            self._harvest(route, response.body)
        if fire is not None and fire.when == "after":
            self._wait(fire)
            if fire.drop:
                return None
        if lose:
            with self._lock:
                self.fired["lost_answer"] += 1
            return None
        return response

    def _harvest(self, route: str, body: bytes) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            doc = json.loads(body)
            value = doc["access_token"] if route == "token" else doc["data"]["attributes"]["client_secret"]
            with self._lock:
                self.issued.add(str(value))

    @staticmethod
    def _wait(hold: Hold) -> None:
        hold.reached.set()
        hold.release.wait(HOLD_TIMEOUT)


def run_held(gate: Gate, hold: Hold, request: Callable[[], Any], act: Callable[[], Any],
             timeout: float = 60.0) -> tuple[bool, Any]:  # fmt: skip
    """Run ``request`` in a thread; if it reaches ``hold``, ``act`` (e.g. kill the plugin) and
    let the held request go without an answer. Returns (whether it fired, request's outcome:
    its return value or the exception it raised)."""
    outcome: list[Any] = []

    def worker() -> None:
        try:
            outcome.append(request())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not hold.reached.wait(0.05) and thread.is_alive() and time.monotonic() < deadline:
        pass  # bounded: until the request is held or has finished
    gate.cancel(hold)  # if the request never made that call
    fired = hold.reached.is_set()
    if fired:
        act()
        hold.drop = True
    hold.release.set()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"request still running {timeout:.0f} s after the hold at {hold.route}")
    return fired, outcome[0] if outcome else None
