"""Fault injection: make chosen routes fail, stall or hang up, so retries and reconciliation get tested.

Scripted faults (``inject``) apply to the next ``count`` matching requests, oldest rule
first. Random faults (``set_random``) fail each request with a seeded probability, for soak
tests. Admin routes never reach this module. Every fault handed out is applied to its
request, and counted by kind (``fired``: "429", "500", ..., "drop", "delay"), so a test can
tell the faults that happened from the ones it merely planned.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

ROUTES = (
    "token",
    "jwks",
    "accounts.create",
    "accounts.list",
    "accounts.update",
    "accounts.delete",
    "credentials.list",
    "credentials.create",
    "credentials.delete",
    "cmp.card",
    "vault_api",
)
ANY_ROUTE = "*"


@dataclass(frozen=True)
class Fault:
    """What to do to one request: wait ``delay`` seconds, then hang up (``drop``) or answer ``status``."""

    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    drop: bool = False


def fault_kind(fault: Fault) -> str:
    """The kind a fault counts as: "drop", its status ("429", "503", ...), else "delay"."""
    if fault.drop:
        return "drop"
    if fault.status is not None:
        return str(fault.status)
    return "delay"


@dataclass
class _Rule:
    route: str
    fault: Fault
    remaining: int

    def public(self) -> dict[str, Any]:
        return {"route": self.route, "count": self.remaining, **asdict(self.fault)}


@dataclass(frozen=True)
class _Random:
    rate: float
    statuses: tuple[int, ...]
    routes: frozenset[str] | None
    rng: random.Random


def _check_route(route: str) -> None:
    if route != ANY_ROUTE and route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; one of {', '.join((*ROUTES, ANY_ROUTE))}")


def _check_status(status: int) -> None:
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")


class Faults:
    """Thread-safe fault plan shared by the server's request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._random: _Random | None = None
        self._fired: Counter[str] = Counter()

    def inject(
        self,
        route: str,
        status: int | None = None,
        count: int = 1,
        retry_after: float | None = None,
        delay: float | None = None,
        drop: bool = False,
    ) -> None:
        """Make the next ``count`` requests to ``route`` (or ``"*"``) fail as described."""
        _check_route(route)
        if status is not None:
            _check_status(status)
        if status is None and not drop and delay is None:
            raise ValueError("a fault needs a status, a delay or drop=True")
        if status is not None and drop:
            raise ValueError("a fault either answers a status or drops the connection, not both")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        for name, value in (("retry_after", retry_after), ("delay", delay)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{name} must be a non-negative number of seconds")
        fault = Fault(status=status, retry_after=retry_after, delay=delay, drop=bool(drop))
        with self._lock:
            self._rules.append(_Rule(route, fault, count))

    def set_random(
        self,
        rate: float = 0.01,
        statuses: Iterable[int] = (503,),
        seed: int | None = None,
        routes: Iterable[str] | None = None,
    ) -> None:
        """Fail each request (of ``routes``, default all) with probability ``rate``; ``rate=0`` turns it off."""
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        chosen = tuple(statuses)
        if not chosen:
            raise ValueError("statuses must not be empty")
        for status in chosen:
            _check_status(status)
        route_set = None if routes is None else frozenset(routes)
        for route in route_set or ():
            _check_route(route)
        with self._lock:
            self._random = _Random(rate, chosen, route_set, random.Random(seed)) if rate > 0 else None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._random = None

    def fired(self) -> Counter[str]:
        """Faults applied since start or the last ``reset_fired``, by kind (a snapshot)."""
        with self._lock:
            return Counter(self._fired)

    def reset_fired(self) -> None:
        with self._lock:
            self._fired.clear()

    def take(self, route: str) -> Fault | None:
        """The fault for this request to ``route``, consuming one use of it (and counting it as
        fired: the caller applies it); None to serve normally."""
        with self._lock:
            fault = self._next(route)
            if fault is not None:
                self._fired[fault_kind(fault)] += 1
            return fault

    def _next(self, route: str) -> Fault | None:
        for rule in self._rules:
            if rule.route in (route, ANY_ROUTE):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._rules.remove(rule)
                return rule.fault
        plan = self._random
        applies = plan is not None and (plan.routes is None or route in plan.routes or ANY_ROUTE in plan.routes)
        if plan is not None and applies and plan.rng.random() < plan.rate:
            status = plan.rng.choice(plan.statuses)
            return Fault(status=status, retry_after=1 if status == 429 else None)
        return None

    def describe(self) -> dict[str, Any]:
        """The pending plan, for ``GET /__admin/state``."""
        with self._lock:
            plan = self._random
            return {
                "fired": dict(sorted(self._fired.items())),
                "scripted": [r.public() for r in self._rules],
                "random": None
                if plan is None
                else {
                    "rate": plan.rate,
                    "statuses": list(plan.statuses),
                    "routes": None if plan.routes is None else sorted(plan.routes),
                },
            }
