"""The consumer side: read a published access token, cache it, never hand out an expired one.

Sources say where a token comes from: the token secret the publisher writes
(:class:`SecretsManagerTokenSource`), its KV v2 path (:class:`VaultTokenSource`), or the
credentials themselves (:class:`CredentialsTokenSource`, minting through the VGS client
layer). :class:`CachingTokenProvider` keeps one token in memory and goes back to its source
only when the token comes within ``skew`` seconds of expiry (or is older than ``max_age``):
single-flight, so a thousand threads cause one fetch. When the published token is stale
(the publisher is behind) it mints with the credentials if it was given a fallback source,
and otherwise raises :class:`StaleTokenError`: a caller never receives a token that has
``skew`` seconds or less to live. :class:`VGSBearerAuth` plugs it into ``httpx``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from rotation.document import SecretDocument, parse_document
from rotation.published import PublishedToken, PublishedTokenError
from rotation.stores import CURRENT, KVStore, SecretStore, StoreError
from rotation.vgs import ClientCredentials, TokenClient, TokenClients, VGSHttp, errors

log = logging.getLogger("rotation.consumer")

DEFAULT_SKEW = 60.0


class TokenUnavailableError(Exception):
    """No usable token could be obtained. The message says why and holds no secret."""


class StaleTokenError(TokenUnavailableError):
    """The published token is expired or within the skew margin, and no credentials were
    given to mint a fresh one: the publisher is behind (check its schedule and its failures)."""


class TokenSource(Protocol):
    """Where tokens come from. ``fetch`` may return a stale token; the provider judges it."""

    description: str

    def fetch(self) -> PublishedToken: ...


# --------------------------------------------------------------------------- sources


class SecretsManagerTokenSource:
    """The publisher's token secret, read at AWSCURRENT by explicit stage."""

    def __init__(self, secret_id: str, *, store: SecretStore | None = None) -> None:
        self.secret_id = secret_id
        self.description = f"secret {secret_id}"
        self._store = store

    def _get_store(self) -> SecretStore:
        if self._store is None:
            from rotation.aws_store import AwsSecretStore

            self._store = AwsSecretStore()
        return self._store

    def fetch(self) -> PublishedToken:
        raw = self._get_store().get_value(self.secret_id, stage=CURRENT)
        if raw is None:
            raise TokenUnavailableError(f"{self.description} holds no published token")
        return PublishedToken.parse(raw)


class VaultTokenSource:
    """The publisher's KV v2 path (``MOUNT/PATH``)."""

    def __init__(self, path: str, *, kv: KVStore | None = None) -> None:
        self.path = path
        self.description = f"Vault path {path}"
        self._kv = kv

    def _get_kv(self) -> KVStore:
        if self._kv is None:
            from rotation.vault_store import VaultKV

            self._kv = VaultKV()
        return self._kv

    def fetch(self) -> PublishedToken:
        entry = self._get_kv().read(self.path)
        if entry is None or not entry.data:
            raise TokenUnavailableError(f"{self.description} holds no published token")
        return PublishedToken.parse(dict(entry.data))


@dataclass(frozen=True)
class _Minter:
    credentials: ClientCredentials
    token_url: str
    allow_insecure_http: bool = False


class CredentialsTokenSource:
    """Mints with client credentials, through :class:`rotation.vgs.TokenClient`.

    ``load`` is called at every fetch, so a source built with :meth:`from_secret` follows
    rotations (it always mints with AWSCURRENT's credential). If the credential is refused
    and a fresh load yields another one (a rotation finished in between), it retries once.
    """

    def __init__(
        self,
        load: Callable[[], SecretDocument] | SecretDocument,
        *,
        http: VGSHttp | None = None,
        scope: str | Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
        description: str = "credentials",
    ) -> None:
        doc_loader: Callable[[], SecretDocument] = load if callable(load) else (lambda: load)
        self._minter: Callable[[], _Minter] = lambda: _minter_from(doc_loader(), description)
        self.http = http or VGSHttp(timeout=10.0)
        self.scope = scope
        self.clock = clock
        self.description = description
        self._clients = TokenClients(self.http, clock=clock)

    @classmethod
    def from_credentials(
        cls,
        credentials: ClientCredentials,
        token_url: str,
        *,
        allow_insecure_http: bool = False,
        **kw: Any,
    ) -> CredentialsTokenSource:
        minter = _Minter(credentials, token_url, allow_insecure_http)
        source = cls(_never_loaded, description=f"credentials {credentials.client_id}", **kw)
        source._minter = lambda: minter
        return source

    @classmethod
    def from_secret(cls, secret_id: str, *, store: SecretStore | None = None, **kw: Any) -> CredentialsTokenSource:
        """Mint with the rotated secret's AWSCURRENT credential (read at each mint)."""
        holder: list[SecretStore] = [store] if store is not None else []

        def load() -> SecretDocument:
            if not holder:
                from rotation.aws_store import AwsSecretStore

                holder.append(AwsSecretStore())
            raw = holder[0].get_value(secret_id, stage=CURRENT)
            if raw is None:
                raise TokenUnavailableError(f"credential secret {secret_id} has no AWSCURRENT value")
            return parse_document(raw)

        return cls(load, description=f"credential secret {secret_id}", **kw)

    @classmethod
    def from_vault(cls, path: str, *, kv: KVStore | None = None, **kw: Any) -> CredentialsTokenSource:
        """Mint with the credential document kept at a KV v2 path."""
        holder: list[KVStore] = [kv] if kv is not None else []

        def load() -> SecretDocument:
            from rotation.publisher import document_from_kv

            if not holder:
                from rotation.vault_store import VaultKV

                holder.append(VaultKV())
            entry = holder[0].read(path)
            if entry is None or not entry.data:
                raise TokenUnavailableError(f"credential path {path} holds no secret")
            return document_from_kv(entry)

        return cls(load, description=f"credential path {path}", **kw)

    def _client(self, minter: _Minter) -> TokenClient:
        return self._clients.for_url(minter.token_url, allow_insecure_http=minter.allow_insecure_http)

    def fetch(self) -> PublishedToken:
        minter = self._minter()
        try:
            token = self._client(minter).mint(minter.credentials, scope=self.scope)
        except errors.InvalidCredentials:
            again = self._minter()
            if again.credentials.client_id == minter.credentials.client_id:
                raise
            minter = again
            token = self._client(minter).mint(minter.credentials, scope=self.scope)
        return PublishedToken.from_access_token(token, minter.credentials.client_id)


def _never_loaded() -> SecretDocument:
    raise AssertionError("a source built from credentials loads no document")


def _minter_from(doc: SecretDocument, description: str) -> _Minter:
    if doc.kind != "service-account" or not doc.client_id or doc.client_secret is None:
        raise TokenUnavailableError(f"{description}: only service-account credentials mint tokens")
    creds = ClientCredentials(doc.client_id, doc.client_secret)
    return _Minter(creds, doc.hosts.token_url, doc.hosts.allow_insecure_http)


# --------------------------------------------------------------------------- the cache


@dataclass
class ProviderStats:
    """Counters for dashboards and benches. ``cache_hits`` is approximate under threads."""

    reads: int = 0
    cache_hits: int = 0
    fetches: int = 0
    fallback_mints: int = 0
    stale_seen: int = 0
    source_failures: int = 0

    @property
    def cache_fraction(self) -> float:
        return self.cache_hits / self.reads if self.reads else 0.0


def _safe(exc: BaseException) -> str:
    if isinstance(exc, errors.VGSError | StoreError | PublishedTokenError | TokenUnavailableError):
        return str(exc)
    return f"unexpected {type(exc).__name__}"


class CachingTokenProvider:
    """One token in memory, refreshed when it comes within ``skew`` seconds of expiry.

    - thread-safe and single-flight: the read of a fresh cached token takes no lock; a
      refresh takes one, and callers that queued behind it find the new token;
    - never returns a token with ``skew`` seconds or less of life (checked on the clock
      at return time): stale published tokens go to ``fallback`` (credentials) when given,
      otherwise raise :class:`StaleTokenError`;
    - ``max_age`` bounds how long a token is reused even if fresh (a consumer that must
      notice a rotation sooner than the token's life);
    - ``clock`` is injectable (tests run on virtual time).
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        fallback: TokenSource | None = None,
        skew: float = DEFAULT_SKEW,
        max_age: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if skew < 0:
            raise ValueError("skew must be >= 0")
        self.source = source
        self.fallback = fallback
        self.skew = skew
        self.max_age = max_age
        self.clock = clock
        self.stats = ProviderStats()
        self._lock = threading.Lock()
        self._cached: tuple[PublishedToken, float] | None = None  # (token, fetched at): one atomic read

    def __repr__(self) -> str:
        return f"CachingTokenProvider(source={self.source.description!r})"

    def _usable(self, cached: tuple[PublishedToken, float] | None, now: float) -> bool:
        if cached is None:
            return False
        token, fetched_at = cached
        if not token.is_fresh(now, self.skew):
            return False
        return self.max_age is None or now - fetched_at < self.max_age

    def token(self, *, force: bool = False, rejected: PublishedToken | None = None) -> PublishedToken:
        """A token with more than ``skew`` seconds of life.

        ``force`` skips the cache; with ``rejected`` (the token a server refused) callers
        that raced on the same refusal share one refresh, and the refused token is not
        served again.
        """
        self.stats.reads += 1
        cached = self._cached
        if not force and self._usable(cached, self.clock()):
            assert cached is not None
            self.stats.cache_hits += 1
            return cached[0]
        with self._lock:
            cached = self._cached
            # Someone refreshed while we waited (or, forced, the refused token is already replaced).
            replaced = rejected is not None and cached is not None and cached[0].access_token != rejected.access_token
            if self._usable(cached, self.clock()) and (not force or replaced):
                assert cached is not None
                self.stats.cache_hits += 1
                return cached[0]
            token = self._refresh(rejected if force else None)
            self._cached = (token, self.clock())
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _refresh(self, rejected: PublishedToken | None) -> PublishedToken:
        problem: str
        try:
            token = self.source.fetch()
            self.stats.fetches += 1
        except Exception as exc:
            self.stats.source_failures += 1
            problem = f"reading {self.source.description} failed: {_safe(exc)}"
            log.warning("token source failed", extra={"source": self.source.description, "error": _safe(exc)})
        else:
            now = self.clock()
            if rejected is not None and token.access_token == rejected.access_token:
                problem = f"the token in {self.source.description} was refused by the server"
            elif token.is_fresh(now, self.skew):
                return token
            else:
                self.stats.stale_seen += 1
                problem = (
                    f"the token in {self.source.description} is stale: "
                    f"{_describe_remaining(token.remaining(now))} (skew {self.skew:g} s); the publisher is behind"
                )
        if self.fallback is None:
            raise StaleTokenError(problem + "; no credentials to mint a fresh token")
        log.info("minting with credentials", extra={"source": self.source.description, "why": problem})
        try:
            minted = self.fallback.fetch()
        except Exception as exc:
            raise TokenUnavailableError(
                f"{problem}; minting with {self.fallback.description} failed: {_safe(exc)}"
            ) from None
        self.stats.fallback_mints += 1
        if not minted.is_fresh(self.clock(), self.skew):
            raise StaleTokenError(f"{problem}; a token minted with {self.fallback.description} is already stale")
        return minted


def _describe_remaining(seconds: float) -> str:
    if seconds <= 0:
        return f"expired {-seconds:.0f} s ago"
    return f"expires in {seconds:.0f} s"


# --------------------------------------------------------------------------- httpx


def authorization_value(token: PublishedToken) -> str:
    kind = token.token_type if token.token_type.lower() != "bearer" else "Bearer"
    return f"{kind} {token.access_token.reveal()}"


class VGSBearerAuth(httpx.Auth):
    """``httpx.Client(auth=VGSBearerAuth(provider))``: sends the bearer header; on a 401 it
    retries once with a force-refreshed token (the old one may belong to a revoked credential).
    If the refresh yields the same refused token, or none, the 401 is returned as is."""

    requires_response_body = False

    def __init__(self, provider: CachingTokenProvider) -> None:
        self.provider = provider

    def __repr__(self) -> str:
        return f"VGSBearerAuth({self.provider!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.provider.token()
        request.headers["Authorization"] = authorization_value(token)
        response = yield request
        if response.status_code != 401:
            return
        try:
            fresh = self.provider.token(force=True, rejected=token)
        except TokenUnavailableError as exc:
            log.warning("no fresh token after a 401", extra={"error": str(exc)})
            return
        if fresh.access_token == token.access_token:
            return
        request.headers["Authorization"] = authorization_value(fresh)
        yield request


__all__ = [
    "CachingTokenProvider",
    "CredentialsTokenSource",
    "ProviderStats",
    "SecretsManagerTokenSource",
    "StaleTokenError",
    "TokenSource",
    "TokenUnavailableError",
    "VGSBearerAuth",
    "VaultTokenSource",
]
