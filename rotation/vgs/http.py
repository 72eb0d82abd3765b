"""The one HTTP transport to VGS: timeouts, error mapping and bounded retries.

Retries use tenacity's exponential backoff with jitter and honour ``Retry-After``. They are
bounded both in attempts and in total time, and apply only to errors worth retrying (429 and
"unavailable"). Writes that are not idempotent (creating an account) are retried only when
the request surely did not reach VGS: a refused connection, a 429 or a 503. A dropped
connection or a gateway timeout after sending could mean the account exists, so those
surface to the caller, which knows how to reconcile (see ``rotation.core``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import functools
import http.cookiejar
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import httpx
import tenacity

from rotation import __version__
from rotation.vgs.errors import (
    BadResponse,
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    RateLimited,
    ServerError,
    Unavailable,
    VGSError,
)

log = logging.getLogger("rotation.vgs")

_JWT_LIKE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_LIMIT_WORDS = re.compile(r"maximum number|limit (is )?reached|limit exceeded", re.IGNORECASE)


class _RandomExponential(tenacity.wait_random_exponential):
    """tenacity's randomly widening exponential wait, drawing from the policy's generator
    (seeded in tests, so a fault schedule replays exactly) instead of the global one."""

    def __init__(self, rng: random.Random, *, multiplier: float, cap: float) -> None:
        super().__init__(multiplier=multiplier, max=cap)
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        return self.rng.uniform(self.min, tenacity.wait_exponential.__call__(self, retry_state))


class _RetryAfter(tenacity.wait.wait_base):
    """The server's ``Retry-After`` on a 429 that has one; otherwise ``fallback``."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return max(0.0, error.retry_after)
        return float(self.fallback(retry_state))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``sleep``, ``clock`` (elapsed time, for ``max_total``), ``now``
    (wall time, for an HTTP-date ``Retry-After``) and ``rng`` (jitter) are injectable so
    tests run on virtual time and replay exactly."""

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_total: float = 30.0
    max_retry_after: float = 30.0
    jitter: bool = True
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    now: Callable[[], float] = time.time

    def wait_strategy(self) -> tenacity.wait.wait_base:
        """tenacity's exponential backoff (``base_delay * 2**(n-1)``, at most ``max_delay``),
        with equal jitter (a wait in ``[d/2, d]``: half fixed, half tenacity's random
        exponential), behind the server's ``Retry-After``."""
        if not self.jitter:
            backoff: tenacity.wait.wait_base = tenacity.wait_exponential(multiplier=self.base_delay, max=self.max_delay)
        else:
            half, cap = self.base_delay / 2, self.max_delay / 2
            backoff = tenacity.wait_exponential(multiplier=half, max=cap) + _RandomExponential(
                self.rng, multiplier=half, cap=cap
            )
        return _RetryAfter(backoff)

    def retries(self, error: BaseException, *, idempotent: bool = True) -> bool:
        """Whether ``error`` is worth another attempt: a retryable :class:`VGSError` (429,
        unavailable), and for a write that is not idempotent only if it surely did not land."""
        if not isinstance(error, VGSError) or not error.retryable:
            return False
        not_sent = isinstance(error, Unavailable) and not error.request_sent
        return idempotent or not_sent or error.status in (429, 503)

    def gives_up(self, *, attempts: int, elapsed: float, upcoming: float, error: BaseException | None) -> bool:
        """After ``attempts`` attempts and ``elapsed`` seconds: stop rather than wait ``upcoming`` more.
        A ``Retry-After`` beyond ``max_retry_after`` is not waited out at all."""
        if attempts >= self.max_attempts:
            return True
        if isinstance(error, RateLimited) and (error.retry_after or 0.0) > self.max_retry_after:
            return True
        return elapsed + upcoming > self.max_total

    def next_wait(
        self, error: BaseException, *, attempts: int, elapsed: float, idempotent: bool = True
    ) -> float | None:
        """Seconds to wait before attempt ``attempts + 1`` after ``error`` (``Retry-After``,
        else the backoff), or None when the policy gives up. For callers that schedule the
        retry themselves (the publisher's queue) instead of sleeping in :meth:`VGSHttp.request`."""
        if not self.retries(error, idempotent=idempotent):
            return None
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = attempts
        state.set_exception((type(error), error, None))
        wait = float(self.wait_strategy()(state))
        if self.gives_up(attempts=attempts, elapsed=elapsed, upcoming=wait, error=error):
            return None
        return wait

    @classmethod
    def none(cls) -> RetryPolicy:
        return cls(max_attempts=1)


def safe_url(url: str) -> str:
    """The URL without query, fragment or userinfo: what may appear in logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _scrub(text: str, limit: int = 200, secrets: Iterable[str] = ()) -> str:
    text = text.replace("\n", " ").strip()
    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "<redacted>")
    text = _JWT_LIKE.sub("<redacted>", text)
    return text if len(text) <= limit else text[:limit] + "..."


# Form fields that name, not prove: everything else a request's form carries is treated as secret.
_PUBLIC_FORM_FIELDS = frozenset({"grant_type", "scope", "client_id", "audience"})


def request_secrets(request: httpx.Request | None) -> set[str]:
    """What a request carried that proves identity (form secrets, Basic password, bearer
    token), so that a server echoing it in an error detail cannot get it into a message."""
    found: set[str] = set()
    if request is None:
        return found
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            body = request.content.decode()
        except (httpx.RequestNotRead, UnicodeDecodeError):
            body = ""
        found |= {v for k, v in parse_qsl(body) if k not in _PUBLIC_FORM_FIELDS and len(v) >= 4}
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        found.add(credentials)
    elif scheme.lower() == "basic" and credentials:
        found.add(credentials)
        try:
            _user, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            password = ""
        if len(password) >= 4:
            found.add(password)
    return found


def _parse_retry_after(value: str | None, now: Callable[[], float]) -> float | None:
    """Seconds from ``Retry-After``: a number of seconds, or an HTTP date (``now``: wall time)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:  # RFC 9110 dates are GMT
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - now())


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """(error code, human detail) from a Keycloak or JSON:API error body, never raising."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    if "error" in body and isinstance(body["error"], str):
        return body["error"], str(body.get("error_description") or "")
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        detail = first.get("detail") or first.get("title") or ""
        return (str(code) if code is not None else None), str(detail)
    return None, str(body.get("message") or body.get("detail") or "")


def error_for_response(response: httpx.Response, operation: str, *, now: Callable[[], float] = time.time) -> VGSError:
    """Map a non-success response to the taxonomy. The message holds no body verbatim, and
    no secret the request carried even when the server echoes it (raw, URL-encoded or as
    the Basic credentials). ``now`` (wall time) turns an HTTP-date ``Retry-After`` into seconds."""
    status = response.status_code
    code, detail = _error_fields(response)
    try:
        sent = response.request
    except RuntimeError:  # a response built without a request (tests)
        sent = None
    secrets = request_secrets(sent)
    detail = _scrub(detail, secrets=secrets)
    code = _scrub(code, limit=64, secrets=secrets) if code else code
    described = f"HTTP {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else "")
    kw: dict[str, Any] = {"operation": operation, "status": status, "error_code": code}
    if status == 429:
        retry_after = _parse_retry_after(response.headers.get("Retry-After"), now)
        return RateLimited(f"rate limited ({described})", retry_after=retry_after, **kw)
    if status in (502, 503, 504):
        return Unavailable(f"VGS unavailable ({described})", **kw)
    if _LIMIT_WORDS.search(detail):
        return LimitExceeded(f"limit reached ({described})", **kw)
    if status == 401 or code in {"invalid_client", "unauthorized_client"}:
        return InvalidCredentials(f"credentials refused ({described})", **kw)
    if status == 403:
        return Forbidden(f"forbidden ({described})", **kw)
    if status == 404:
        return NotFound(f"not found ({described})", **kw)
    if status in (400, 409, 422):
        return InvalidRequest(f"request refused ({described})", **kw)
    if status >= 500:
        return ServerError(f"VGS server error ({described})", **kw)
    return BadResponse(f"unexpected response ({described})", **kw)


def json_object(response: httpx.Response, operation: str) -> dict[str, Any]:
    """The response body as a JSON object, or :class:`BadResponse` saying what it was."""
    ctype = response.headers.get("content-type", "")
    try:
        body = response.json()
    except ValueError:
        kind = "an HTML page" if "html" in ctype or response.text.lstrip().startswith("<") else "not JSON"
        raise BadResponse(
            f"HTTP {response.status_code} body is {kind}",
            operation=operation,
            status=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise BadResponse(
            f"HTTP {response.status_code} body is JSON but not an object",
            operation=operation,
            status=response.status_code,
        )
    return body


@functools.lru_cache(maxsize=4)
def ssl_context(verify: bool | str = True) -> ssl.SSLContext | bool:
    """One verifying SSL context per process: building one loads the CA bundle, which costs
    more than a whole token round trip. ``verify`` may name a CA bundle file."""
    if verify is False:
        return False
    import certifi

    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else certifi.where())


class _NoCookies(http.cookiejar.CookieJar):
    """VGS's APIs use no cookies, and one client serves many credentials: keep none (no
    state carried from one credential's calls to another's, no cookie parsing per response)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


class VGSHttp:
    """Shared HTTP client for every VGS call: one connection pool, one retry policy; and,
    for a pool of worker threads, one set of connections per worker (:meth:`lane`)."""

    def __init__(
        self,
        *,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        client: httpx.Client | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._verify = verify
        self._injected = client is not None
        # as many kept alive as may be in use: the publisher runs up to 64 requests at once,
        # and a connection closed after each request costs a handshake and CPU on the next
        self._client = client or self._new_client(connections=64)
        self._lanes: dict[int, httpx.Client] = {}
        self._lanes_lock = threading.Lock()
        self.request_count = 0

    def _new_client(self, *, connections: int) -> httpx.Client:
        return httpx.Client(
            timeout=self.timeout,
            verify=ssl_context(self._verify),
            headers={"User-Agent": f"vgs-rotation/{__version__}"},
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            cookies=_NoCookies(),
        )

    def lane(self, index: int, *, retry: RetryPolicy | None = None) -> VGSHttp:
        """The transport of worker ``index`` in a pool of threads: connections of its own
        (kept alive, reused across credentials with the same host; the same ones at every
        call with this index), closed when this transport is. ``retry`` replaces the policy.

        Why not the shared pool: httpcore's pool runs every request and every response of
        every thread through one lock and scans all its connections there; at 32 workers
        that was about a quarter of the publisher's CPU in a profile (py-spy ``--gil`` on
        ``bench/publisher_bench.py``). A transport built on an injected ``client`` (tests'
        transports) shares that client instead."""
        client = self._client
        if not self._injected:
            with self._lanes_lock:
                if index not in self._lanes:
                    # a worker sends one request at a time; a few hosts' connections kept
                    self._lanes[index] = self._new_client(connections=4)
                client = self._lanes[index]
        return VGSHttp(timeout=self.timeout, retry=retry or self.retry, client=client)

    def close(self) -> None:
        with self._lanes_lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for client in lanes:
            client.close()
        self._client.close()

    def __enter__(self) -> VGSHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        expected: Iterable[int] = (200,),
        idempotent: bool = True,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one logical request, retried per the policy; raise a :class:`VGSError`."""
        ok = frozenset(expected)
        policy = self.retry
        started = policy.clock()

        def attempt() -> httpx.Response:
            return self._send_once(
                operation,
                method,
                url,
                ok,
                idempotent,
                headers=headers,
                data=data,
                json=json,
                content=content,
                auth=auth,
                params=params,
            )

        def should_retry(error: BaseException) -> bool:
            return policy.retries(error, idempotent=idempotent)

        def stop(state: tenacity.RetryCallState) -> bool:
            return policy.gives_up(
                attempts=state.attempt_number,
                elapsed=policy.clock() - started,
                upcoming=state.upcoming_sleep,
                error=state.outcome.exception() if state.outcome else None,
            )

        def before_sleep(state: tenacity.RetryCallState) -> None:
            # One WARNING per retry, on ``rotation.vgs``: what failed, how long we wait, and
            # which attempt of how many (the CLI shows it as a progress line). Operation
            # names, error classes and statuses only: never a URL query, body or header.
            exc = state.outcome.exception() if state.outcome else None
            status = getattr(exc, "status", None)
            what = type(exc).__name__ + (f", HTTP {status}" if status else "")
            log.warning(
                "%s failed (%s); retrying in %.1f s (attempt %d of %d)",
                operation,
                what,
                state.upcoming_sleep,
                state.attempt_number + 1,
                policy.max_attempts,
                extra={
                    "operation": operation,
                    "attempt": state.attempt_number,
                    "next_attempt": state.attempt_number + 1,
                    "max_attempts": policy.max_attempts,
                    "error": type(exc).__name__,
                    "status": status,
                    "wait_seconds": round(state.upcoming_sleep, 3),
                    "detail": str(exc),  # VGSError texts hold no secret (see errors.py)
                },
            )

        if policy.max_attempts <= 1:
            return attempt()  # nothing to retry: no retry loop (its cost shows at fleet scale)
        retrying = tenacity.Retrying(
            stop=stop,
            wait=policy.wait_strategy(),
            retry=tenacity.retry_if_exception(should_retry),
            sleep=policy.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)

    def delete(
        self, operation: str, url: str, *, headers: Mapping[str, str] | None = None, auth: httpx.Auth | None = None
    ) -> bool:
        """DELETE that treats "already gone" (404) as done. Returns False in that case."""
        try:
            self.request(operation, "DELETE", url, expected=(200, 202, 204), headers=headers, auth=auth)
        except NotFound:
            return False
        return True

    def _send_once(
        self,
        operation: str,
        method: str,
        url: str,
        ok: frozenset[int],
        idempotent: bool,
        **kwargs: Any,
    ) -> httpx.Response:
        self.request_count += 1
        target = safe_url(url)
        began = time.perf_counter()
        try:
            response = self._client.request(method, url, **{k: v for k, v in kwargs.items() if v is not None})
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unavailable(
                f"cannot connect to {target} ({type(exc).__name__})", operation=operation, request_sent=False
            ) from None
        except httpx.TimeoutException as exc:
            raise Unavailable(f"timed out talking to {target} ({type(exc).__name__})", operation=operation) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise Unavailable(f"connection to {target} dropped ({type(exc).__name__})", operation=operation) from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"HTTP failure talking to {target} ({type(exc).__name__})", operation=operation) from None
        elapsed_ms = round((time.perf_counter() - began) * 1000, 1)
        log.debug(
            "vgs call",
            extra={
                "operation": operation,
                "method": method,
                "url": target,
                "status": response.status_code,
                "elapsed_ms": elapsed_ms,
            },
        )
        if response.status_code in ok:
            return response
        raise error_for_response(response, operation, now=self.retry.now)
