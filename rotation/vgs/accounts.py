"""VGS Accounts API: create, list and delete service accounts (JSON:API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from rotation.vgs.endpoints import check_url
from rotation.vgs.errors import BadResponse, InvalidRequest
from rotation.vgs.http import VGSHttp, json_object
from rotation.vgs.secret import Secret
from rotation.vgs.tokens import ClientCredentials

JSONAPI = "application/vnd.api+json"
MAX_NAME_LENGTH = 20
MAX_ACCOUNTS_PER_ORGANIZATION = 50
MIN_TOKEN_LIFESPAN = 60


@dataclass(frozen=True)
class ServiceAccount:
    """A service account as listed: everything but the secret, which VGS shows only once."""

    client_id: str
    name: str
    scopes: tuple[str, ...] = ()
    vaults: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    access_token_lifespan: int | None = None
    created_at: str | None = None
    # Scopes a token carries only when asked for (``optional: true``); also in ``scopes``.
    optional_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreatedServiceAccount(ServiceAccount):
    """A service account just created, with its one-time client secret."""

    client_secret: Secret = field(default_factory=lambda: Secret("x"), repr=False)

    @property
    def credentials(self) -> ClientCredentials:
        return ClientCredentials(self.client_id, self.client_secret)


def _scope_names(raw: Any) -> tuple[str, ...]:
    names: list[str] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
                names.append(item["name"])
    return tuple(names)


def _optional_scope_names(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        item["name"]
        for item in raw
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and item.get("optional") is True
    )


def _account(attrs: Mapping[str, Any], operation: str) -> dict[str, Any]:
    client_id = attrs.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise BadResponse("service account without client_id", operation=operation)
    annotations = attrs.get("annotations") or {}
    lifespan = attrs.get("access_token_lifespan")
    return {
        "client_id": client_id,
        "name": str(attrs.get("name") or ""),
        "scopes": _scope_names(attrs.get("scopes")),
        "vaults": tuple(str(v) for v in attrs.get("vaults") or ()),
        "annotations": {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {},
        "access_token_lifespan": int(lifespan) if isinstance(lifespan, int | float) else None,
        "created_at": str(attrs["created_at"]) if attrs.get("created_at") else None,
        "optional_scopes": _optional_scope_names(attrs.get("scopes")),
    }


def validate_account_request(name: str, scopes: Sequence[str], access_token_lifespan: int | None) -> None:
    """Refuse locally what VGS would refuse, so nothing is sent that is bound to fail."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidRequest(
            f"service account name must be 1 to {MAX_NAME_LENGTH} characters (got {len(name)})",
            operation="create service account",
        )
    if not scopes:
        raise InvalidRequest("a service account needs at least one scope", operation="create service account")
    if access_token_lifespan is not None and access_token_lifespan < MIN_TOKEN_LIFESPAN:
        raise InvalidRequest(
            f"access_token_lifespan must be at least {MIN_TOKEN_LIFESPAN} seconds",
            operation="create service account",
        )


class AccountsClient:
    """Service accounts of one organization, managed with a manager account's token."""

    def __init__(
        self,
        accounts_url: str,
        organization_id: str,
        *,
        auth: httpx.Auth,
        http: VGSHttp | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self.base = check_url(accounts_url, allow_insecure_http=allow_insecure_http, what="accounts_url").rstrip("/")
        if not organization_id:
            raise ValueError("organization_id is required")
        self.organization_id = organization_id
        self.auth = auth
        self.http = http or VGSHttp()

    @property
    def _collection(self) -> str:
        return f"{self.base}/organizations/{quote(self.organization_id, safe='')}/service-accounts"

    _headers = {"Accept": JSONAPI, "Content-Type": JSONAPI}

    def create(
        self,
        *,
        name: str,
        scopes: Sequence[str],
        vaults: Sequence[str] = (),
        annotations: Mapping[str, str] | None = None,
        access_token_lifespan: int | None = None,
        optional_scopes: Sequence[str] = (),
    ) -> CreatedServiceAccount:
        """Create a service account. Not retried after an ambiguous failure: see ``http``."""
        op = "create service account"
        validate_account_request(name, scopes, access_token_lifespan)
        body = {
            "data": {
                "attributes": {
                    "name": name,
                    "annotations": dict(annotations or {}),
                    "vaults": list(vaults),
                    "scopes": [{"name": s, "optional": False} for s in scopes]
                    + [{"name": s, "optional": True} for s in optional_scopes],
                    "access_token_lifespan": access_token_lifespan,
                }
            }
        }
        response = self.http.request(
            op,
            "POST",
            self._collection,
            expected=(200, 201),
            idempotent=False,
            headers=self._headers,
            json=body,
            auth=self.auth,
        )
        data = json_object(response, op).get("data")
        attrs = data.get("attributes") if isinstance(data, Mapping) else None
        if not isinstance(attrs, Mapping):
            raise BadResponse("response has no data.attributes", operation=op)
        secret = attrs.get("client_secret")
        if not isinstance(secret, str) or not secret:
            raise BadResponse("response has no client_secret", operation=op)
        return CreatedServiceAccount(**_account(attrs, op), client_secret=Secret(secret))

    def list(self) -> list[ServiceAccount]:
        op = "list service accounts"
        response = self.http.request(op, "GET", self._collection, headers=self._headers, auth=self.auth)
        data = json_object(response, op).get("data")
        items: Any = None
        if isinstance(data, Mapping):
            attrs = data.get("attributes")
            items = attrs.get("service_accounts") if isinstance(attrs, Mapping) else None
        elif isinstance(data, list):  # plain JSON:API collection, tolerated
            items = [d.get("attributes", d) for d in data if isinstance(d, Mapping)]
        if not isinstance(items, list):
            raise BadResponse("response has no service_accounts list", operation=op)
        return [ServiceAccount(**_account(a, op)) for a in items if isinstance(a, Mapping)]

    def get(self, client_id: str) -> ServiceAccount | None:
        """One account by client id, from the listing; None when the listing does not hold it."""
        return next((a for a in self.list() if a.client_id == client_id), None)

    def delete(self, client_id: str) -> bool:
        """Delete an account. Returns False when it was already gone (that counts as deleted)."""
        if not client_id:
            raise ValueError("client_id is required")
        url = f"{self._collection}/{quote(client_id, safe='')}"
        return self.http.delete("delete service account", url, headers=self._headers, auth=self.auth)
