"""Access tokens kept for reuse: one mint serves many calls while the token has life left.

A rotation needs the manager's token in createSecret and finishSecret, a warm Lambda
serves many rotations, the publisher may publish one credential to several targets, and
the Vault engine rebuilds its clients whenever its configuration is re-read. Each of them
asks this cache instead of minting.

What makes reuse safe:

- **keyed by where the credentials came from**: the token URL, the client id, the scope,
  and the *version* of the secret that held the credentials (a Secrets Manager version id,
  a KV version, a fingerprint of the Vault engine's configuration). A new version of the
  manager secret never reuses a token minted with an older one, even for the same client id;
- **never past the margin**: a token is handed out only while more than ``margin`` seconds
  (plus the caller's ``min_life``) remain, on the cache's clock;
- **dropped on a 401**: :class:`CachedAuth` drops a refused token, mints again and retries
  the request once (the account may have been rotated or the token revoked).

Thread-safe and single-flight per key: concurrent callers of one key wait for one mint;
different keys mint concurrently. Bounded: past ``max_entries`` the oldest minted goes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import httpx

from rotation.vgs.tokens import AccessToken, ClientCredentials, TokenClient

DEFAULT_MARGIN = 60.0


@dataclass(frozen=True)
class TokenKey:
    """What a cached token is for. Holds no secret."""

    token_url: str
    client_id: str
    version: str
    scope: str = ""


def _scope(scope: str | Sequence[str] | None) -> str:
    if not scope:
        return ""
    return scope if isinstance(scope, str) else " ".join(scope)


class TokenCache:
    """Tokens by :class:`TokenKey`, reused while more than ``margin`` seconds of life remain."""

    def __init__(
        self, *, margin: float = DEFAULT_MARGIN, clock: Callable[[], float] = time.time, max_entries: int = 128
    ) -> None:
        if margin < 0 or max_entries < 1:
            raise ValueError("margin must be >= 0 and max_entries >= 1")
        self.margin = margin
        self.clock = clock
        self.max_entries = max_entries
        self.mints = 0
        self._tokens: dict[TokenKey, AccessToken] = {}
        self._key_locks: dict[TokenKey, threading.Lock] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(entries={len(self._tokens)}, margin={self.margin:g})"

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)

    @staticmethod
    def key(
        tokens: TokenClient, credentials: ClientCredentials, *, version: str, scope: str | Sequence[str] | None = None
    ) -> TokenKey:
        if not version:
            raise ValueError("a cached token needs the version of the secret its credentials came from")
        return TokenKey(tokens.token_url, credentials.client_id, version, _scope(scope))

    def token(
        self,
        tokens: TokenClient,
        credentials: ClientCredentials,
        *,
        version: str,
        scope: str | Sequence[str] | None = None,
        min_life: float = 0.0,
    ) -> AccessToken:
        """A token for ``credentials`` with more than ``margin + min_life`` seconds left:
        the cached one, or a new one minted with ``tokens`` (and kept)."""
        key = self.key(tokens, credentials, version=version, scope=scope)
        with self._key_lock(key):
            cached = self._fresh(key, min_life)
            if cached is not None:
                return cached
            minted = tokens.mint(credentials, scope=scope)
            with self._lock:
                self.mints += 1
                self._tokens.pop(key, None)  # re-inserted last: the newest
                self._tokens[key] = minted
                self._prune()
            return minted

    def drop(self, key: TokenKey, token: AccessToken | None = None) -> None:
        """Forget the token of ``key`` (only if it is still ``token``, when given: a newer
        one minted by another thread in the meantime stays)."""
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and (token is None or current is token):
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def auth(
        self,
        tokens: TokenClient,
        credentials: ClientCredentials,
        *,
        version: str,
        scope: str | Sequence[str] | None = None,
        min_life: float = 0.0,
    ) -> CachedAuth:
        """An ``httpx.Auth`` sending the cached bearer token of these credentials (with more
        than ``margin + min_life`` seconds left: a Lambda passes the time its invocation has)."""
        return CachedAuth(self, tokens, credentials, version=version, scope=scope, min_life=min_life)

    # -- internals -----------------------------------------------------------------------

    def _key_lock(self, key: TokenKey) -> threading.Lock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                lock = self._key_locks[key] = threading.Lock()
            return lock

    def _fresh(self, key: TokenKey, min_life: float) -> AccessToken | None:
        with self._lock:
            cached = self._tokens.get(key)
            if cached is None:
                return None
            if cached.remaining(self.clock()) > self.margin + max(0.0, min_life):
                return cached
            del self._tokens[key]
            return None

    def _prune(self) -> None:
        """Called with ``_lock`` held: past the bound, drop the oldest minted (a dict keeps
        insertion order; a re-mint re-inserts). Expired tokens go when next asked for."""
        while len(self._tokens) > self.max_entries:
            del self._tokens[next(iter(self._tokens))]
        if len(self._key_locks) > 2 * self.max_entries:
            for key in [k for k, lock in self._key_locks.items() if k not in self._tokens and not lock.locked()]:
                del self._key_locks[key]


class CachedAuth(httpx.Auth):
    """Bearer authentication from a :class:`TokenCache`; on a 401 the token is dropped, a
    new one minted, and the request sent once more."""

    requires_response_body = False

    def __init__(
        self,
        cache: TokenCache,
        tokens: TokenClient,
        credentials: ClientCredentials,
        *,
        version: str,
        scope: str | Sequence[str] | None = None,
        min_life: float = 0.0,
    ) -> None:
        self.cache = cache
        self.tokens = tokens
        self.credentials = credentials
        self.version = version
        self.scope = scope
        self.min_life = min_life
        self.key = cache.key(tokens, credentials, version=version, scope=scope)

    def __repr__(self) -> str:
        return f"CachedAuth(client_id={self.credentials.client_id!r})"

    def token(self) -> AccessToken:
        return self.cache.token(
            self.tokens, self.credentials, version=self.version, scope=self.scope, min_life=self.min_life
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        used = self.token()
        request.headers["Authorization"] = f"Bearer {used.access_token.reveal()}"
        response = yield request
        if response.status_code == 401:
            self.cache.drop(self.key, used)
            request.headers["Authorization"] = f"Bearer {self.token().access_token.reveal()}"
            yield request


__all__ = ["DEFAULT_MARGIN", "CachedAuth", "TokenCache", "TokenKey"]
