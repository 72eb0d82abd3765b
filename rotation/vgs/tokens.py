"""OAuth2 client_credentials against VGS's token server (Keycloak), and the token it returns."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from rotation.vgs.endpoints import check_url
from rotation.vgs.errors import BadResponse, TokenValidationError
from rotation.vgs.http import VGSHttp, json_object
from rotation.vgs.secret import Secret

# Claims worth keeping from a token: none of them is secret, and they say who and what.
_KEPT_CLAIMS = ("azp", "clientId", "iss", "sub", "aud", "iat", "exp", "jti", "typ", "scope")


@dataclass(frozen=True)
class ClientCredentials:
    """A service account's client id and secret. The secret never shows in ``repr``."""

    client_id: str
    client_secret: Secret

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise ValueError("client_id must be a non-empty string")
        if not isinstance(self.client_secret, Secret):
            object.__setattr__(self, "client_secret", Secret(self.client_secret))
        if not self.client_secret:
            raise ValueError("client_secret must be a non-empty string")


@dataclass(frozen=True)
class AccessToken:
    """A minted access token with what callers decide on: expiry, scopes, and whose it is."""

    access_token: Secret
    token_type: str
    expires_in: int
    issued_at: float
    scope: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def expires_at(self) -> float:
        return self.issued_at + self.expires_in

    @property
    def client_id(self) -> str | None:
        """``azp``: the client the token was issued to (Keycloak also sets ``clientId``)."""
        value = self.claims.get("azp") or self.claims.get("clientId")
        return str(value) if value else None

    @property
    def granted_scopes(self) -> frozenset[str]:
        """Scopes from the response's ``scope``, the JWT's ``scope`` and ``resource_access.*.roles``."""
        granted = set(self.scope)
        claim_scope = self.claims.get("scope")
        if isinstance(claim_scope, str):
            granted.update(claim_scope.split())
        resource_access = self.claims.get("resource_access")
        if isinstance(resource_access, Mapping):
            for entry in resource_access.values():
                roles = entry.get("roles") if isinstance(entry, Mapping) else None
                if isinstance(roles, list):
                    granted.update(str(r) for r in roles)
        return frozenset(granted)

    def remaining(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)

    def is_fresh(self, now: float | None = None, skew: float = 60.0) -> bool:
        """True while more than ``skew`` seconds of life remain."""
        return self.remaining(now) > skew

    def check(self, *, client_id: str | None = None, scopes: Iterable[str] = ()) -> None:
        """Raise :class:`TokenValidationError` unless issued to ``client_id`` with ``scopes``."""
        if client_id is not None and self.client_id != client_id:
            raise TokenValidationError(
                f"token was issued to {self.client_id!r}, expected {client_id!r}",
                operation="validate token",
            )
        missing = sorted(set(scopes) - self.granted_scopes)
        if missing:
            raise TokenValidationError(f"token lacks required scopes: {', '.join(missing)}", operation="validate token")

    def public_dict(self, *, show_token: bool = False) -> dict[str, Any]:
        """A JSON-ready view; the token itself is masked unless ``show_token``."""
        return {
            "access_token": self.access_token.reveal() if show_token else "***",
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "issued_at": int(self.issued_at),
            "expires_at": int(self.expires_at),
            "scope": " ".join(self.scope),
            "client_id": self.client_id,
        }


_SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


def _decode_claims(raw: str, *, key: Any = None, audience: Any = None) -> dict[str, Any]:
    """The JWT's claims, read by pyjwt: verified against ``key`` when one is given (signature,
    and ``aud`` when ``audience`` is set), otherwise unverified (see :class:`TokenClient`).
    An unverified token that pyjwt cannot read yields no claims (the caller's checks then
    fail on what is missing); a verified one raises ``jwt.PyJWTError``.

    pyjwt is imported here, at the first mint: it loads ``cryptography``, which a Lambda
    cold start should pay only when a token is minted."""
    import jwt

    if key is None:
        try:
            claims: Any = jwt.decode(raw, options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}
    else:
        claims = jwt.decode(
            raw,
            key=key,
            algorithms=_SIGNING_ALGORITHMS,
            options={"verify_aud": audience is not None, "verify_exp": False},
            audience=audience,
        )
    if not isinstance(claims, dict):
        return {}
    return {k: v for k, v in claims.items() if k in _KEPT_CLAIMS or k == "resource_access"}


class TokenClient:
    """Mints access tokens with the client_credentials grant.

    ``auth_method="post"`` sends the credentials in the form body (what VGS documents);
    ``"basic"`` uses HTTP Basic client authentication.

    What is verified when (claims are always read with pyjwt):

    - with ``verify_signature`` (needs ``jwks_url``): the JWT's signature against the token
      server's JWKS (keys cached by pyjwt), and ``aud`` when ``audience`` is given; a token
      that fails is refused (:class:`TokenValidationError`). ``exp`` is not checked here:
      expiry is decided from the response's ``expires_in`` on this host's clock;
    - without it: nothing cryptographic. The claims (``azp``, ``scope``,
      ``resource_access``) are read unverified, which is sound only because the token just
      came over verified TLS from the configured token server. :meth:`AccessToken.check`'s
      ``azp`` and scope checks then guard against a misconfigured server or client id, not
      against a forged token.
    """

    def __init__(
        self,
        token_url: str,
        *,
        http: VGSHttp | None = None,
        auth_method: Literal["post", "basic"] = "post",
        jwks_url: str | None = None,
        verify_signature: bool = False,
        audience: str | None = None,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url = check_url(token_url, allow_insecure_http=allow_insecure_http, what="token_url")
        if verify_signature and not jwks_url:
            raise ValueError("verify_signature needs a jwks_url")
        if jwks_url:
            check_url(jwks_url, allow_insecure_http=allow_insecure_http, what="jwks_url")
        if auth_method not in ("post", "basic"):
            raise ValueError("auth_method must be 'post' or 'basic'")
        self.http = http or VGSHttp()
        self.auth_method = auth_method
        self.jwks_url = jwks_url
        self.verify_signature = verify_signature
        self.audience = audience
        self.clock = clock
        self._jwks: Any = None

    def mint(self, credentials: ClientCredentials, *, scope: str | Sequence[str] | None = None) -> AccessToken:
        """Mint a new token. Raises :class:`rotation.vgs.errors.VGSError` subclasses."""
        form = {"grant_type": "client_credentials"}
        auth: tuple[str, str] | None = None
        if self.auth_method == "basic":
            auth = (credentials.client_id, credentials.client_secret.reveal())
        else:
            form["client_id"] = credentials.client_id
            form["client_secret"] = credentials.client_secret.reveal()
        if scope:
            form["scope"] = scope if isinstance(scope, str) else " ".join(scope)
        issued_at = self.clock()
        response = self.http.request(
            "mint token",
            "POST",
            self.token_url,
            data=form,
            auth=auth,
            headers={"Accept": "application/json"},
        )
        return self._parse(response, issued_at)

    def _parse(self, response: httpx.Response, issued_at: float) -> AccessToken:
        op = "mint token"
        body = json_object(response, op)
        raw = body.get("access_token")
        if not isinstance(raw, str) or not raw:
            raise BadResponse("token response has no access_token", operation=op)
        expires_in = body.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
            raise BadResponse("token response has no positive expires_in", operation=op)
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token_type, str):
            raise BadResponse("token response has a non-string token_type", operation=op)
        scope_value = body.get("scope", "")
        scope = tuple(scope_value.split()) if isinstance(scope_value, str) else ()
        claims: dict[str, Any] = {}
        if raw.count(".") == 2 and not self.verify_signature:
            claims = _decode_claims(raw)
        elif raw.count(".") == 2:
            import jwt

            try:
                claims = _decode_claims(raw, key=self._signing_key(raw), audience=self.audience)
            except jwt.PyJWTError as exc:
                raise TokenValidationError(
                    f"token signature check failed ({type(exc).__name__})", operation=op
                ) from None
        elif self.verify_signature:
            raise TokenValidationError("token is not a JWT; cannot verify its signature", operation=op)
        return AccessToken(
            access_token=Secret(raw),
            token_type=token_type,
            expires_in=int(expires_in),
            issued_at=issued_at,
            scope=scope,
            claims=claims,
        )

    def _signing_key(self, raw: str) -> Any:
        if self._jwks is None:
            import jwt

            assert self.jwks_url is not None
            self._jwks = jwt.PyJWKClient(self.jwks_url, cache_keys=True, timeout=10)
        return self._jwks.get_signing_key_from_jwt(raw).key


class TokenClients:
    """One :class:`TokenClient` per token URL over a shared transport, made on first use.

    For callers that mint for many documents (publisher, consumer): the documents name
    their token server, and each server's client (and its JWKS cache) is kept. Thread-safe.
    """

    def __init__(self, http: VGSHttp, *, clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.clock = clock
        self._clients: dict[tuple[str, bool], TokenClient] = {}
        self._lock = threading.Lock()

    def for_url(self, token_url: str, *, allow_insecure_http: bool = False) -> TokenClient:
        key = (token_url, allow_insecure_http)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = TokenClient(
                    token_url, http=self.http, allow_insecure_http=allow_insecure_http, clock=self.clock
                )
                self._clients[key] = client
            return client


class CachedTokenAuth(httpx.Auth):
    """A bearer token for one client, minted on first use and again ``skew`` before expiry.

    Thread-safe and single-flight: concurrent callers wait for one mint. On a 401 the
    request is retried once with a freshly minted token (the old one may have been revoked).
    """

    requires_response_body = False

    def __init__(
        self,
        tokens: TokenClient,
        credentials: ClientCredentials,
        *,
        scope: str | Sequence[str] | None = None,
        skew: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tokens = tokens
        self.credentials = credentials
        self.scope = scope
        self.skew = skew
        self.clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None

    def __repr__(self) -> str:
        return f"CachedTokenAuth(client_id={self.credentials.client_id!r})"

    def token(self, *, force: bool = False) -> AccessToken:
        with self._lock:
            current = self._token
            if force or current is None or not current.is_fresh(self.clock(), self.skew):
                current = self.tokens.mint(self.credentials, scope=self.scope)
                self._token = current
            return current

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token().access_token.reveal()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.token(force=True).access_token.reveal()}"
            yield request


def bearer_header(token: AccessToken) -> dict[str, str]:
    return {"Authorization": f"{token.token_type.capitalize() or 'Bearer'} {token.access_token.reveal()}"}
