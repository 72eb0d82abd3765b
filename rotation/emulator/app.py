"""Routing: which route a request is, counting it, applying faults, and the ``/__admin`` API.

The route names here are the ones tests and fault plans use; the paths match
``VGSEndpoints.emulator`` and the ``vault_api_url`` of the bootstrap file.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from rotation.emulator.api import VGSApi, phrase
from rotation.emulator.faults import Fault, Faults
from rotation.emulator.messages import (
    Request,
    Response,
    html_error,
    json_response,
    jsonapi_error,
    no_content,
    oauth_error,
)
from rotation.emulator.state import ApiError
from rotation.vgs.endpoints import JWKS_PATH, TOKEN_PATH

Handler = Callable[[Request, Mapping[str, str]], Response]
_SEGMENT = "[^/]+"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    admin: bool = False


def _pattern(template: str) -> re.Pattern[str]:
    """``/a/{x}/b`` -> a regex with a named group per ``{...}`` (one path segment each)."""
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{_SEGMENT})" for i, p in enumerate(parts))
    return re.compile(f"^{regex}/?$")


class App:
    """Turns a request into a response, or None meaning: hang up without answering (a drop fault)."""

    def __init__(
        self,
        api: VGSApi,
        faults: Faults,
        *,
        describe_state: Callable[[], dict[str, Any]],
        reset: Callable[[], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.faults = faults
        self.describe_state = describe_state
        self.reset = reset
        self.sleep = sleep
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._busy = threading.Condition()
        self._seq = 0  # non-admin requests received so far
        self._active: set[int] = set()  # the sequence numbers of those being handled (delayed ones included)
        self._local = threading.local()
        sa = "/accounts/organizations/{org}/service-accounts"
        table: list[tuple[str, str, str, Handler, bool]] = [
            ("token", "POST", TOKEN_PATH, api.token, False),
            ("jwks", "GET", JWKS_PATH, api.jwks, False),
            ("accounts.create", "POST", sa, api.accounts_create, False),
            ("accounts.list", "GET", sa, api.accounts_list, False),
            ("accounts.update", "PATCH", sa + "/{client_id}", api.accounts_update, False),
            ("accounts.delete", "DELETE", sa + "/{client_id}", api.accounts_delete, False),
            ("credentials.list", "GET", "/vault-management/credentials", api.credentials_list, False),
            ("credentials.create", "POST", "/vault-management/credentials", api.credentials_create, False),
            ("credentials.delete", "DELETE", "/vault-management/credentials/{id}", api.credentials_delete, False),
            ("cmp.card", "GET", "/cmp/cards/{id}", api.cmp_card, False),
            ("vault_api", "GET", "/vault-api/aliases/{alias}", api.vault_api, False),
            ("admin.faults.add", "POST", "/__admin/faults", self._admin_add_fault, True),
            ("admin.faults.random", "POST", "/__admin/faults/random", self._admin_random_faults, True),
            ("admin.faults.clear", "DELETE", "/__admin/faults", self._admin_clear_faults, True),
            ("admin.state", "GET", "/__admin/state", self._admin_state, True),
            ("admin.reset", "POST", "/__admin/reset", self._admin_reset, True),
        ]
        self.routes = [Route(n, m, _pattern(p), h, a) for n, m, p, h, a in table]

    # -- counts ----------------------------------------------------------------------------

    @property
    def request_counts(self) -> Counter[str]:
        """A snapshot of requests per route name (admin calls are not counted)."""
        with self._counts_lock:
            return Counter(self._counts)

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    # -- requests in flight ------------------------------------------------------------------

    def mark(self) -> int:
        """How many requests were received so far: for ``wait_idle(since=...)``."""
        with self._busy:
            return self._seq

    def wait_idle(self, timeout: float, since: int = 0) -> bool:
        """Wait (real time) until no request received after ``mark()`` returned ``since`` is
        being handled: a delayed request whose client gave up has then done its work (older
        ones, e.g. another test's long delay, are not waited for). False after ``timeout`` s."""
        with self._busy:
            return self._busy.wait_for(lambda: not any(n > since for n in self._active), timeout)

    def applied_delay(self) -> float:
        """The delay fault this thread's last request waited (0.0 if none): lets an in-process
        transport time the client out as a socket would."""
        return float(getattr(self._local, "delay", 0.0))

    # -- dispatch --------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | Response:
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
            allowed.append(route.method)
        if allowed:
            return jsonapi_error(405, "Method Not Allowed", f"{method} not allowed", {"Allow": ", ".join(allowed)})
        return jsonapi_error(404, "Not Found", "No such endpoint")

    def handle(self, request: Request) -> Response | None:
        matched = self.match(request.method, request.path)
        if isinstance(matched, Response):
            return matched
        route, params = matched
        if route.admin:
            return self._serve(route, request, params)
        self._local.delay = 0.0
        with self._busy:
            self._seq += 1
            number = self._seq
            self._active.add(number)
        try:
            with self._counts_lock:
                self._counts[route.name] += 1
            fault = self.faults.take(route.name)
            if fault is not None:
                if fault.delay:
                    self._local.delay = fault.delay
                    self.sleep(fault.delay)
                if fault.drop:
                    return None
                if fault.status is not None:
                    return fault_response(route.name, fault)
            return self._serve(route, request, params)
        finally:
            with self._busy:
                self._active.discard(number)
                self._busy.notify_all()

    def _serve(self, route: Route, request: Request, params: dict[str, str]) -> Response:
        try:
            return route.handler(request, params)
        except ApiError as exc:
            headers = {"WWW-Authenticate": 'Bearer realm="vgs"'} if exc.status == 401 else None
            return jsonapi_error(exc.status, exc.title, exc.detail, headers)

    # -- admin -----------------------------------------------------------------------------

    def _admin_add_fault(self, req: Request, params: Mapping[str, str]) -> Response:
        allowed = {"route", "status", "count", "retry_after", "delay", "drop"}
        return self._admin_call(req, allowed, lambda body: self.faults.inject(**{"route": "*", **body}))

    def _admin_random_faults(self, req: Request, params: Mapping[str, str]) -> Response:
        allowed = {"rate", "statuses", "seed", "routes"}
        return self._admin_call(req, allowed, lambda body: self.faults.set_random(**body))

    def _admin_call(self, req: Request, allowed: set[str], call: Callable[[dict[str, Any]], None]) -> Response:
        try:
            body = json.loads(req.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return json_response(400, {"error": "body is not valid JSON"})
        if not isinstance(body, dict):
            return json_response(400, {"error": "body must be a JSON object"})
        unknown = sorted(set(body) - allowed)
        if unknown:
            return json_response(400, {"error": f"unknown field(s): {', '.join(unknown)}"})
        try:
            call({k: v for k, v in body.items() if v is not None})  # null means "the default"
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        return no_content()

    def _admin_clear_faults(self, req: Request, params: Mapping[str, str]) -> Response:
        self.faults.clear()
        return no_content()

    def _admin_state(self, req: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, self.describe_state())

    def _admin_reset(self, req: Request, params: Mapping[str, str]) -> Response:
        self.reset()
        return no_content()


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def fault_response(route: str, fault: Fault) -> Response:
    """An injected failure shaped like the real one: gateway HTML for 502-504, JSON otherwise."""
    status = fault.status
    assert status is not None
    headers = {"Retry-After": _seconds(fault.retry_after)} if status == 429 and fault.retry_after is not None else {}
    if status in (502, 503, 504):
        response = html_error(status, phrase(status))
    elif route in ("token", "jwks"):
        code = {429: "too_many_requests", 500: "server_error"}.get(status, "temporarily_unavailable")
        if status < 500 and status != 429:
            code = "invalid_request"
        response = oauth_error(status, code, phrase(status))
    else:
        response = jsonapi_error(status, phrase(status), "Injected fault")
    response.headers.update(headers)
    return response
