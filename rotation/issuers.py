"""Issuers: create, test and delete one kind of VGS credential for the rotation core.

The core decides *when*; an issuer knows *how* for its kind (service accounts through the
Accounts API, access credentials through the vault-management API). Every credential an
issuer creates is annotated with the secret it belongs to and the rotation version that
made it, so a retried or crashed rotation can find, and clean up, what it made.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx

from rotation.document import ManagerCredentials, RotationMetadata, SecretDocument
from rotation.vgs import (
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    CMPProbe,
    TokenCache,
    TokenClient,
    VaultApiProbe,
    VaultCredentialsClient,
    VGSHttp,
    errors,
)
from rotation.vgs.vault_credentials import MAX_CREDENTIALS_PER_VAULT

log = logging.getLogger("rotation.issuers")

SECRET_ANNOTATION = "vgs-rotation/secret"
VERSION_ANNOTATION = "vgs-rotation/version"


class CapacityError(Exception):
    """No room for one more credential: nothing was created. The message says what to delete."""


def secret_tag(secret_arn: str) -> str:
    """A short, stable tag for a secret, stored as an annotation on what its rotations create."""
    return hashlib.sha256(secret_arn.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Owned:
    """A credential this system created for a secret: its VGS id and the rotation that made it."""

    ref: str
    version_id: str


class Issuer(Protocol):
    def owned(self) -> list[Owned]: ...
    def present(self) -> set[str]: ...
    def inventory(self) -> tuple[list[Owned], set[str]]:
        """What this system made for the secret, and every credential present: one listing."""
        ...

    def ensure_capacity(self, keep: set[str], present: set[str]) -> None:
        """Raise :class:`CapacityError` unless one more credential fits (``present``: the
        listing just taken, minus what was deleted since)."""
        ...

    def create(self, base: SecretDocument, rotation: RotationMetadata) -> SecretDocument: ...
    def test(self, doc: SecretDocument) -> None: ...
    def delete(self, ref: str) -> bool: ...
    def close(self) -> None: ...


# (document, manager credentials or None when only ``test`` will be called, secret ARN)
IssuerFactory = Callable[[SecretDocument, ManagerCredentials | None, str], Issuer]


class _NoManager(httpx.Auth):
    """An issuer built to test a credential only: managing anything is a programming error."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("this issuer was built without the manager's credentials: it can only test")
        yield request  # pragma: no cover


def manager_auth(
    tokens: TokenClient, manager: ManagerCredentials | None, cache: TokenCache | None, min_life: float = 0.0
) -> httpx.Auth:
    """The manager's bearer token: from ``cache`` when the credentials' version is known
    (a warm Lambda reuses it across steps and invocations), else minted for this issuer."""
    if manager is None:
        return _NoManager()
    credentials = ClientCredentials(manager.client_id, manager.client_secret)
    if cache is None or manager.version is None:
        return CachedTokenAuth(tokens, credentials)
    return cache.auth(tokens, credentials, version=manager.version, min_life=min_life)


_F = TypeVar("_F", bound=Callable[..., Any])


def _with_manager(method: _F) -> _F:
    """Calls made with the manager's token: a refusal names the manager's secret."""

    @functools.wraps(method)
    def wrapper(self: _Base, *args: Any, **kwargs: Any) -> Any:
        with errors.concerning(f"the manager credential in {self.doc.manager_secret_arn}"):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class _Base:
    """What both kinds share; a subclass makes its management client in :meth:`_connect`."""

    def __init__(
        self,
        doc: SecretDocument,
        manager: ManagerCredentials | None,
        secret_arn: str,
        http: VGSHttp,
        tokens: TokenCache | None = None,
        token_min_life: float = 0.0,
    ) -> None:
        self.doc = doc
        self.http = http
        self.tag = secret_tag(secret_arn)
        self.tokens = TokenClient(doc.hosts.token_url, http=http, allow_insecure_http=doc.hosts.allow_insecure_http)
        self.manager_auth = manager_auth(self.tokens, manager, tokens, token_min_life)
        self.manager_id = manager.client_id if manager else None
        self._connect()

    def _connect(self) -> None:
        raise NotImplementedError

    def annotations(self, rotation: RotationMetadata) -> dict[str, str]:
        return {SECRET_ANNOTATION: self.tag, VERSION_ANNOTATION: rotation.version_id}

    def close(self) -> None:
        self.http.close()


class ServiceAccountIssuer(_Base):
    def _connect(self) -> None:
        doc = self.doc
        assert doc.organization_id is not None
        self.accounts = AccountsClient(
            doc.hosts.accounts_url, doc.organization_id, auth=self.manager_auth, http=self.http,
            allow_insecure_http=doc.hosts.allow_insecure_http,
        )  # fmt: skip

    @_with_manager
    def inventory(self) -> tuple[list[Owned], set[str]]:
        listed = self.accounts.list()
        owned = [
            Owned(a.client_id, a.annotations.get(VERSION_ANNOTATION, ""))
            for a in listed
            if a.annotations.get(SECRET_ANNOTATION) == self.tag and a.client_id != self.manager_id
        ]
        return owned, {a.client_id for a in listed}

    def owned(self) -> list[Owned]:
        return self.inventory()[0]

    def present(self) -> set[str]:
        return self.inventory()[1]

    @_with_manager
    def ensure_capacity(self, keep: set[str], present: set[str]) -> None:
        # The 50-per-organization limit is shared with accounts this secret does not own,
        # so there is nothing safe to free here: VGS's refusal surfaces from create().
        return None

    @_with_manager
    def create(self, base: SecretDocument, rotation: RotationMetadata) -> SecretDocument:
        name = f"{base.name}-{hashlib.sha256(rotation.version_id.encode()).hexdigest()[:8]}"
        try:
            created = self.accounts.create(
                name=name,
                scopes=base.scopes,
                vaults=base.vault_ids,
                annotations=self.annotations(rotation),
                access_token_lifespan=base.token_lifespan,
            )
        except errors.LimitExceeded as exc:
            raise CapacityError(
                f"{exc}. Delete service accounts that are no longer used (`vgs-rotate status` shows the ones "
                "behind this secret's versions), then retry the rotation"
            ) from None
        log.info("service account created", extra={"client_id": created.client_id, "account_name": name})
        return base.with_service_account(created.client_id, created.client_secret, rotation)

    def test(self, doc: SecretDocument) -> None:
        assert doc.client_id is not None and doc.client_secret is not None
        token = self.tokens.mint(ClientCredentials(doc.client_id, doc.client_secret))
        token.check(client_id=doc.client_id, scopes=doc.scopes)
        if doc.test.cmp_probe and doc.hosts.cmp_url:
            try:
                CMPProbe(doc.hosts.cmp_url, http=self.http, allow_insecure_http=doc.hosts.allow_insecure_http).check(
                    token
                )
            except errors.Forbidden:
                # 403 proves the token authenticates; it is only wrong if the account
                # was meant to read cards.
                if "cards:read" in doc.scopes:
                    raise

    @_with_manager
    def delete(self, ref: str) -> bool:
        if ref == self.manager_id:
            raise ValueError("refusing to delete the manager service account")
        deleted = self.accounts.delete(ref)
        log.info("service account deleted", extra={"client_id": ref, "was_present": deleted})
        return deleted


class AccessCredentialIssuer(_Base):
    def _connect(self) -> None:
        doc = self.doc
        self.vault = VaultCredentialsClient(
            doc.hosts.vault_management_url, doc.vault_id, auth=self.manager_auth, http=self.http,
            allow_insecure_http=doc.hosts.allow_insecure_http,
        )  # fmt: skip

    @_with_manager
    def inventory(self) -> tuple[list[Owned], set[str]]:
        listed = self.vault.list()
        owned = [
            Owned(c.id, c.annotations.get(VERSION_ANNOTATION, ""))
            for c in listed
            if c.annotations.get(SECRET_ANNOTATION) == self.tag
        ]
        return owned, {c.id for c in listed}

    def owned(self) -> list[Owned]:
        return self.inventory()[0]

    def present(self) -> set[str]:
        return self.inventory()[1]

    @_with_manager
    def ensure_capacity(self, keep: set[str], present: set[str]) -> None:
        if len(present) >= MAX_CREDENTIALS_PER_VAULT:
            candidates = sorted(present - keep)
            raise CapacityError(
                f"vault {self.doc.vault_id} already has {len(present)} of {MAX_CREDENTIALS_PER_VAULT} access "
                f"credentials, so no new one can be created. Delete one this secret does not use "
                f"(not AWSCURRENT or AWSPREVIOUS), e.g. one of: {', '.join(candidates[:5]) or '(none)'}"
            )

    @_with_manager
    def create(self, base: SecretDocument, rotation: RotationMetadata) -> SecretDocument:
        try:
            created = self.vault.create(annotations=self.annotations(rotation))
        except errors.LimitExceeded as exc:
            raise CapacityError(f"{exc}. Delete an access credential this secret does not use") from None
        log.info("access credential created", extra={"credential_id": created.id})
        return base.with_access_credential(created.id, created.username, created.password, rotation)

    def test(self, doc: SecretDocument) -> None:
        assert doc.username is not None and doc.password is not None
        if not doc.vault_api_url:
            raise ValueError("secret document: field 'hosts.vault_api_url' is needed to test access credentials")
        VaultApiProbe(doc.vault_api_url, http=self.http, allow_insecure_http=doc.hosts.allow_insecure_http).check(
            doc.username, doc.password
        )

    @_with_manager
    def delete(self, ref: str) -> bool:
        deleted = self.vault.delete(ref)
        log.info("access credential deleted", extra={"credential_id": ref, "was_present": deleted})
        return deleted


def default_issuer_factory(
    *,
    http_timeout: float = 10.0,
    http_factory: Callable[[], VGSHttp] | None = None,
    tokens: TokenCache | None = None,
    token_min_life: float = 0.0,
) -> IssuerFactory:
    """Issuers over real HTTP. ``http_factory`` lets tests inject virtual-time retries.

    ``tokens`` keeps the manager's token between issuers (steps); the Lambda passes one that
    lives as long as its container, and ``token_min_life`` = the time its invocation has
    left, so that a reused token outlives the step. Default: one cache for this factory."""
    cache = tokens if tokens is not None else TokenCache()

    def make(doc: SecretDocument, manager: ManagerCredentials | None, secret_arn: str) -> Issuer:
        http = http_factory() if http_factory else VGSHttp(timeout=http_timeout)
        if doc.kind == "service-account":
            return ServiceAccountIssuer(doc, manager, secret_arn, http, cache, token_min_life)
        return AccessCredentialIssuer(doc, manager, secret_arn, http, cache, token_min_life)

    return make
