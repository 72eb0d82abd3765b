"""VGS vault-management API: a vault's access credentials (proxy username/password)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from rotation.vgs.endpoints import check_url
from rotation.vgs.errors import BadResponse
from rotation.vgs.http import VGSHttp, json_object
from rotation.vgs.secret import Secret

JSONAPI = "application/vnd.api+json"
MAX_CREDENTIALS_PER_VAULT = 10


@dataclass(frozen=True)
class AccessCredential:
    id: str
    username: str
    created_at: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreatedAccessCredential(AccessCredential):
    """A credential just created, with its password (readable only at creation)."""

    password: Secret = field(default_factory=lambda: Secret("x"), repr=False)


def _first_str(attrs: Mapping[str, Any], *names: str) -> str | None:
    # Field names are not confirmed by VGS sources: the CLI prints key/secret, a Go client
    # suggests key/value. Accept each.
    for name in names:
        value = attrs.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _credential(item: Mapping[str, Any], operation: str) -> dict[str, Any]:
    attrs = item.get("attributes", item)
    if not isinstance(attrs, Mapping):
        raise BadResponse("credential without attributes", operation=operation)
    cred_id = item.get("id") or attrs.get("id")
    username = _first_str(attrs, "key", "username")
    if not isinstance(cred_id, str) or not cred_id or username is None:
        raise BadResponse("credential without id or key", operation=operation)
    annotations = attrs.get("annotations") or {}
    return {
        "id": cred_id,
        "username": username,
        "created_at": str(attrs["created_at"]) if attrs.get("created_at") else None,
        "annotations": {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {},
    }


class VaultCredentialsClient:
    """Access credentials of one vault, addressed with the ``VGS-Tenant`` header."""

    def __init__(
        self,
        vault_management_url: str,
        vault_id: str,
        *,
        auth: httpx.Auth,
        http: VGSHttp | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self.base = check_url(
            vault_management_url,
            allow_insecure_http=allow_insecure_http,
            what="vault_management_url",
        ).rstrip("/")
        if not vault_id:
            raise ValueError("vault_id is required")
        self.vault_id = vault_id
        self.auth = auth
        self.http = http or VGSHttp()

    @property
    def _headers(self) -> dict[str, str]:
        return {"Accept": JSONAPI, "Content-Type": JSONAPI, "VGS-Tenant": self.vault_id}

    def list(self) -> list[AccessCredential]:
        op = "list access credentials"
        response = self.http.request(op, "GET", f"{self.base}/credentials", headers=self._headers, auth=self.auth)
        data = json_object(response, op).get("data")
        if not isinstance(data, list):
            raise BadResponse("response has no data list", operation=op)
        return [AccessCredential(**_credential(d, op)) for d in data if isinstance(d, Mapping)]

    def create(self, *, annotations: Mapping[str, str] | None = None) -> CreatedAccessCredential:
        """Create a pair. At the 10-per-vault limit VGS answers 403: :class:`LimitExceeded`."""
        op = "create access credential"
        body = {"data": {"attributes": {"annotations": dict(annotations or {})}}}
        response = self.http.request(
            op,
            "POST",
            f"{self.base}/credentials",
            expected=(200, 201),
            idempotent=False,
            headers=self._headers,
            json=body,
            auth=self.auth,
        )
        data = json_object(response, op).get("data")
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, Mapping):
            raise BadResponse("response has no data", operation=op)
        attrs = data.get("attributes", data)
        password = _first_str(attrs, "secret", "value", "password") if isinstance(attrs, Mapping) else None
        if password is None:
            raise BadResponse("response has no secret", operation=op)
        return CreatedAccessCredential(**_credential(data, op), password=Secret(password))

    def delete(self, credential_id: str) -> bool:
        """Delete a pair. Returns False when it was already gone (that counts as deleted)."""
        if not credential_id:
            raise ValueError("credential_id is required")
        url = f"{self.base}/credentials/{quote(credential_id, safe='')}"
        return self.http.delete("delete access credential", url, headers=self._headers, auth=self.auth)
