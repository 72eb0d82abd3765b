"""One read per question for a read-only survey of many secrets (``status --all``).

A hundred secrets of one organization each list the same service accounts with the same
manager's token: within one survey, identical reads (a GET with the same URL, headers and
credential, or a token minted for the same client) go to VGS once and every asker gets
that answer. Successes only: a failed read is retried by the next asker. Never used for
writes, never kept beyond the survey, keyed by digests (no secret is kept in a key).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

import httpx

from rotation.vgs.http import RetryPolicy, VGSHttp


class SharedReads:
    """The memo and the connection pool shared by every transport of one survey."""

    def __init__(self, *, timeout: float = 10.0, retry: RetryPolicy | None = None) -> None:
        self.timeout = timeout
        self.retry = retry
        self._owner = VGSHttp(timeout=timeout, retry=retry)  # holds the one httpx pool
        self._lock = threading.Lock()
        self._answers: dict[str, Future[httpx.Response]] = {}
        self.sent = 0  # reads that went to VGS
        self.shared = 0  # reads answered from the memo

    def http(self) -> VGSHttp:
        """A transport for one issuer; closing it leaves the shared pool open."""
        return _SurveyHttp(self)

    def close(self) -> None:
        self._owner.close()

    def read(self, key: str, fetch: Callable[[], httpx.Response]) -> httpx.Response:
        with self._lock:
            pending = self._answers.get(key)
            mine = pending is None
            if pending is None:
                pending = self._answers[key] = Future()
        if not mine:
            try:
                answer = pending.result()
            except BaseException:  # the first asker failed: ask again for ourselves
                return fetch()
            with self._lock:
                self.shared += 1
            return answer
        try:
            answer = fetch()
        except BaseException as exc:
            with self._lock:
                del self._answers[key]
                self.sent += 1
            pending.set_exception(exc)
            raise
        with self._lock:
            self.sent += 1
        pending.set_result(answer)
        return answer


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def _items(mapping: Mapping[str, Any] | None) -> Iterable[tuple[str, Any]]:
    return sorted((mapping or {}).items())


class _SurveyHttp(VGSHttp):
    def __init__(self, reads: SharedReads) -> None:
        super().__init__(timeout=reads.timeout, retry=reads.retry, client=reads._owner._client)
        self.reads = reads

    def close(self) -> None:  # the pool belongs to the survey
        return None

    def request(self, operation: str, method: str, url: str, **kw: Any) -> httpx.Response:
        if method != "GET" and operation != "mint token":
            return super().request(operation, method, url, **kw)
        auth = kw.get("auth")
        credentials = getattr(auth, "credentials", None)  # CachedTokenAuth; else basic auth or none
        who = (credentials.client_id, credentials.client_secret.reveal()) if credentials is not None else auth
        key = _digest(operation, method, url, list(_items(kw.get("headers"))), list(_items(kw.get("data"))),
                      list(_items(kw.get("params"))), who)  # fmt: skip
        return self.reads.read(key, lambda: super(_SurveyHttp, self).request(operation, method, url, **kw))
