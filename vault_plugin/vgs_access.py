"""What the engine needs from VGS, shared by the backend and its paths: the stored engine
configuration, the rotation.vgs clients built from it, account naming and annotations, and
the mapping of VGS failures to caller-facing errors. No path and no backend state here."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, Secret, TokenClient, VGSHttp, errors
from vault_plugin.framework import ErrorKind, LogicalError

ANNOTATION_PREFIX = "vgs-rotation/"
A_MANAGED = ANNOTATION_PREFIX + "managed-by"
A_MOUNT = ANNOTATION_PREFIX + "mount"
A_ROLE = ANNOTATION_PREFIX + "role"
A_KIND = ANNOTATION_PREFIX + "kind"
A_WAL = ANNOTATION_PREFIX + "wal"
MANAGED_BY = "vault-plugin"


def vgs_error(exc: Exception, action: str) -> LogicalError:
    """A caller-facing error for a VGS failure. rotation.vgs messages never carry secrets."""
    if isinstance(exc, errors.InsecureURL | ValueError) and not isinstance(exc, errors.VGSError):
        return LogicalError(f"{action}: {exc}", ErrorKind.BAD_REQUEST)
    if isinstance(exc, errors.InvalidRequest | errors.LimitExceeded):
        return LogicalError(f"{action}: VGS refused the request: {exc}", ErrorKind.BAD_REQUEST)
    if isinstance(exc, errors.RateLimited | errors.Unavailable):
        return LogicalError(f"{action}: VGS is unavailable: {exc}", ErrorKind.UNAVAILABLE)
    return LogicalError(f"{action}: {exc}", ErrorKind.UPSTREAM)


@dataclass(frozen=True)
class EngineConfig:
    client_id: str
    client_secret: Secret
    organization_id: str
    token_url: str
    accounts_url: str
    vault_management_url: str
    allow_insecure_http: bool = False

    @classmethod
    def from_storage(cls, raw: Mapping[str, Any]) -> EngineConfig:
        return cls(
            client_id=raw["client_id"],
            client_secret=Secret(raw["client_secret"]),
            organization_id=raw["organization_id"],
            token_url=raw["token_url"],
            accounts_url=raw["accounts_url"],
            vault_management_url=raw["vault_management_url"],
            allow_insecure_http=bool(raw.get("allow_insecure_http", False)),
        )

    def to_storage(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret.reveal(),
            "organization_id": self.organization_id,
            "token_url": self.token_url,
            "accounts_url": self.accounts_url,
            "vault_management_url": self.vault_management_url,
            "allow_insecure_http": self.allow_insecure_http,
        }

    def public(self) -> dict[str, Any]:
        out = self.to_storage()
        del out["client_secret"]
        return out

    @property
    def credentials(self) -> ClientCredentials:
        return ClientCredentials(self.client_id, self.client_secret)


class VGSClients:
    """The rotation.vgs clients for one engine configuration (blocking; call from threads).
    Tokens are dated by the engine's clock, the one that decides when a cached token is stale."""

    def __init__(self, config: EngineConfig, http: VGSHttp, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        insecure = config.allow_insecure_http
        self.tokens = TokenClient(config.token_url, http=http, allow_insecure_http=insecure, clock=clock)
        self.manager = CachedTokenAuth(self.tokens, config.credentials, clock=clock)
        self.accounts = AccountsClient(
            config.accounts_url, config.organization_id, auth=self.manager, http=http, allow_insecure_http=insecure
        )


def account_name(kind: str, role: str) -> str:
    """A VGS account name (at most 20 characters): ``v<kind>-<role>-<4 hex>``."""
    clean = re.sub(r"[^A-Za-z0-9-]", "-", role)[:12].strip("-") or "x"
    return f"v{kind[0]}-{clean}-{secrets.token_hex(2)}"
