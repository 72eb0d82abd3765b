"""The rotated secret's JSON document: parsed and validated before any VGS call.

A bad document fails with :class:`DocumentError` naming the field, never its value.
See the README's "The secret document" for the format and an example.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rotation.vgs.endpoints import VGSEndpoints
from rotation.vgs.errors import InsecureURL
from rotation.vgs.secret import Secret

Kind = Literal["service-account", "access-credentials"]
RevokePolicy = Literal["next-rotation", "immediate", "never"]
KINDS: tuple[str, ...] = ("service-account", "access-credentials")
REVOKE_POLICIES: tuple[str, ...] = ("next-rotation", "immediate", "never")
MAX_BASE_NAME = 11  # base + "-" + 8 hex = 20, VGS's limit for a service account name
_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_HOST_KEYS = ("token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url", "jwks_url")


class DocumentError(ValueError):
    """The secret document is malformed. ``field`` names the offending field."""

    def __init__(self, field_name: str, problem: str, *, document: str = "secret document") -> None:
        self.field = field_name
        super().__init__(f"{document}: field '{field_name}' {problem}")


def _str(data: Mapping[str, Any], key: str, *, required: bool = True, doc: str = "secret document") -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise DocumentError(key, "is missing", document=doc)
        return None
    if not isinstance(value, str):
        raise DocumentError(key, f"must be a non-empty string, not {type(value).__name__}", document=doc)
    if not value.strip():
        raise DocumentError(key, "is empty", document=doc)
    if len(value) > 4096:
        raise DocumentError(key, "is too long", document=doc)
    return value


def _str_list(data: Mapping[str, Any], key: str, *, min_items: int = 0) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DocumentError(key, "must be a list of non-empty strings")
    if len(value) < min_items:
        raise DocumentError(key, f"must hold at least {min_items} item(s)")
    if len(value) > 100:
        raise DocumentError(key, "holds too many items")
    return tuple(value)


@dataclass(frozen=True)
class TestOptions:
    cmp_probe: bool = True
    attempts: int = 5


@dataclass(frozen=True)
class RotationMetadata:
    """Written by the rotation into the new version: which rotation made it and what it retires."""

    version_id: str
    created_at: int
    retire: tuple[str, ...] = ()
    # The credential that was AWSCURRENT when this version was made. It leaves the overlap
    # window once neither AWSCURRENT nor AWSPREVIOUS holds it, even when ``retire`` is stale
    # because another rotation completed in between (see ``Rotation._retire``).
    replaces: str | None = None
    # The version that held it. A version's value never changes, so while that version is
    # AWSPREVIOUS its credential is ``replaces`` without reading it again.
    replaces_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version_id": self.version_id,
            "created_at": self.created_at,
            "retire": list(self.retire),
        }
        if self.replaces is not None:
            out["replaces"] = self.replaces
        if self.replaces_version is not None:
            out["replaces_version"] = self.replaces_version
        return out

    def due(self) -> set[str]:
        """What this rotation was due to retire: ``retire`` and what it replaced."""
        return set(self.retire) | ({self.replaces} if self.replaces else set())


@dataclass(frozen=True)
class SecretDocument:
    kind: Kind
    manager_secret_arn: str
    hosts: VGSEndpoints
    vault_api_url: str | None
    organization_id: str | None = None
    vault_ids: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    token_lifespan: int | None = None
    name: str = "rotated"
    revoke: RevokePolicy = "next-rotation"
    test: TestOptions = field(default_factory=TestOptions)
    # the credential: a service account (client_id/client_secret) or an access credential
    client_id: str | None = None
    client_secret: Secret | None = None
    credential_id: str | None = None
    username: str | None = None
    password: Secret | None = None
    rotation: RotationMetadata | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def credential_ref(self) -> str:
        """The VGS id of the credential this version holds (client id or credential id)."""
        ref = self.client_id if self.kind == "service-account" else self.credential_id
        assert ref is not None
        return ref

    @property
    def vault_id(self) -> str:
        return self.vault_ids[0]

    def secret_values(self) -> list[str]:
        """The sensitive values, for leak checks."""
        return [s.reveal() for s in (self.client_secret, self.password) if s is not None]

    def with_service_account(self, client_id: str, client_secret: Secret, rotation: RotationMetadata) -> SecretDocument:
        return replace(self, client_id=client_id, client_secret=client_secret, rotation=rotation)

    def with_access_credential(
        self, credential_id: str, username: str, password: Secret, rotation: RotationMetadata
    ) -> SecretDocument:
        return replace(self, credential_id=credential_id, username=username, password=password, rotation=rotation)

    def to_json(self) -> str:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            {
                "kind": self.kind,
                "manager_secret_arn": self.manager_secret_arn,
                "hosts": {
                    **{k: v for k, v in self.hosts.as_dict().items() if v is not None and k != "allow_insecure_http"},
                    **({"vault_api_url": self.vault_api_url} if self.vault_api_url else {}),
                    **({"allow_insecure_http": True} if self.hosts.allow_insecure_http else {}),
                },
                "vault_ids": list(self.vault_ids),
                "revoke": self.revoke,
                "test": {"cmp_probe": self.test.cmp_probe, "attempts": self.test.attempts},
            }
        )
        if self.kind == "service-account":
            assert self.client_secret is not None
            out.update(
                {
                    "organization_id": self.organization_id,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret.reveal(),
                    "scopes": list(self.scopes),
                    "token_lifespan": self.token_lifespan,
                    "name": self.name,
                }
            )
        else:
            assert self.password is not None
            out.update(
                {"credential_id": self.credential_id, "username": self.username, "password": self.password.reveal()}
            )
            if self.organization_id:
                out["organization_id"] = self.organization_id
        if self.rotation is not None:
            out["rotation"] = self.rotation.as_dict()
        return json.dumps(out, sort_keys=True)


def _hosts(data: Mapping[str, Any]) -> tuple[VGSEndpoints, str | None]:
    raw = data.get("hosts")
    if raw is None:
        return VGSEndpoints.live(), None
    if not isinstance(raw, Mapping):
        raise DocumentError("hosts", "must be an object")
    live = VGSEndpoints.live().as_dict()
    allow = raw.get("allow_insecure_http", False)
    if not isinstance(allow, bool):
        raise DocumentError("hosts.allow_insecure_http", "must be true or false")
    for key in raw:
        if key not in (*_HOST_KEYS, "allow_insecure_http"):
            raise DocumentError(f"hosts.{key}", "is not a known host")
    values: dict[str, Any] = {}
    for key in _HOST_KEYS:
        value = raw.get(key, live.get(key))
        if value is not None and (not isinstance(value, str) or not value):
            raise DocumentError(f"hosts.{key}", "must be a URL string")
        values[key] = value
    vault_api_url = values.pop("vault_api_url")
    try:
        endpoints = VGSEndpoints(**values, allow_insecure_http=allow)
        if vault_api_url:
            from rotation.vgs.endpoints import check_url

            check_url(vault_api_url, allow_insecure_http=allow, what="vault_api_url")
    except InsecureURL as exc:
        name = str(exc).split(" ", 1)[0]
        raise DocumentError(f"hosts.{name}", f"is refused: {str(exc).split(' ', 1)[1]}") from None
    return endpoints, vault_api_url


def parse_document(raw: str | bytes | Mapping[str, Any]) -> SecretDocument:
    """Parse and validate a secret document. Raises :class:`DocumentError` naming the field."""
    if isinstance(raw, str | bytes):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise DocumentError("(document)", "is not valid JSON") from None
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise DocumentError("(document)", "must be a JSON object")
    kind = _str(data, "kind")
    if kind not in KINDS:
        raise DocumentError("kind", f"must be one of {', '.join(KINDS)}")
    manager = _str(data, "manager_secret_arn")
    assert manager is not None
    if not _ARN.match(manager):
        raise DocumentError("manager_secret_arn", "must be a Secrets Manager secret ARN")
    hosts, vault_api_url = _hosts(data)
    revoke = data.get("revoke", "next-rotation")
    if revoke not in REVOKE_POLICIES:
        raise DocumentError("revoke", f"must be one of {', '.join(REVOKE_POLICIES)}")
    test_raw = data.get("test", {})
    if not isinstance(test_raw, Mapping):
        raise DocumentError("test", "must be an object")
    cmp_probe = test_raw.get("cmp_probe", True)
    attempts = test_raw.get("attempts", 5)
    if not isinstance(cmp_probe, bool):
        raise DocumentError("test.cmp_probe", "must be true or false")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 20:
        raise DocumentError("test.attempts", "must be an integer from 1 to 20")
    vault_ids = _str_list(data, "vault_ids")
    rotation = _rotation(data.get("rotation"))
    known = {
        "kind", "manager_secret_arn", "hosts", "revoke", "test", "vault_ids", "rotation", "organization_id",
        "client_id", "client_secret", "scopes", "token_lifespan", "name", "credential_id", "username", "password",
    }  # fmt: skip
    extra = {k: v for k, v in data.items() if k not in known}
    common: dict[str, Any] = {
        "kind": kind, "manager_secret_arn": manager, "hosts": hosts, "vault_api_url": vault_api_url,
        "revoke": revoke, "test": TestOptions(cmp_probe, attempts), "vault_ids": vault_ids,
        "rotation": rotation, "extra": extra,
    }  # fmt: skip
    if kind == "service-account":
        lifespan = data.get("token_lifespan")
        if lifespan is not None and (isinstance(lifespan, bool) or not isinstance(lifespan, int) or lifespan < 60):
            raise DocumentError("token_lifespan", "must be null or an integer of at least 60 seconds")
        name = data.get("name", "rotated")
        if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_BASE_NAME:
            raise DocumentError("name", f"must be 1-{MAX_BASE_NAME} letters, digits or dashes")
        return SecretDocument(
            **common,
            organization_id=_str(data, "organization_id"),
            client_id=_str(data, "client_id"),
            client_secret=Secret(_str(data, "client_secret") or ""),
            scopes=_str_list(data, "scopes", min_items=1),
            token_lifespan=lifespan,
            name=name,
        )
    if len(vault_ids) != 1:
        raise DocumentError("vault_ids", "must hold exactly one vault id for access credentials")
    return SecretDocument(
        **common,
        organization_id=_str(data, "organization_id", required=False),
        credential_id=_str(data, "credential_id"),
        username=_str(data, "username"),
        password=Secret(_str(data, "password") or ""),
    )


def _rotation(raw: Any) -> RotationMetadata | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise DocumentError("rotation", "must be an object")
    version_id = raw.get("version_id")
    created_at = raw.get("created_at", 0)
    retire = raw.get("retire", [])
    if not isinstance(version_id, str) or not isinstance(created_at, int):
        raise DocumentError("rotation", "must hold version_id and created_at")
    if not isinstance(retire, list) or not all(isinstance(r, str) for r in retire):
        raise DocumentError("rotation.retire", "must be a list of strings")
    replaces = raw.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise DocumentError("rotation.replaces", "must be a string")
    replaces_version = raw.get("replaces_version")
    if replaces_version is not None and not isinstance(replaces_version, str):
        raise DocumentError("rotation.replaces_version", "must be a string")
    return RotationMetadata(version_id, created_at, tuple(retire), replaces, replaces_version)


@dataclass(frozen=True)
class ManagerCredentials:
    """The manager service account (allowed to manage service accounts and credentials)."""

    client_id: str
    client_secret: Secret
    organization_id: str | None = None
    # Where the credentials were read: the manager secret and its version id. Keys the
    # manager token's reuse (rotation.vgs.TokenCache); None: read without a version, not shared.
    version: str | None = None


def parse_manager(raw: str | bytes | Mapping[str, Any], *, version: str | None = None) -> ManagerCredentials:
    doc = "manager secret"
    if isinstance(raw, str | bytes):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise DocumentError("(document)", "is not valid JSON", document=doc) from None
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise DocumentError("(document)", "must be a JSON object", document=doc)
    client_id = _str(data, "client_id", doc=doc)
    secret = _str(data, "client_secret", doc=doc)
    assert client_id is not None and secret is not None
    return ManagerCredentials(
        client_id, Secret(secret), _str(data, "organization_id", required=False, doc=doc), version=version
    )


def example_document(
    *, manager_secret_arn: str, hosts: Mapping[str, Any] | None, client_id: str, client_secret: str,
    organization_id: str, vault_ids: Sequence[str], scopes: Sequence[str], token_lifespan: int | None = 1200,
    name: str = "cmp-app", revoke: str = "next-rotation",
) -> dict[str, Any]:  # fmt: skip
    """A service-account document, as the demo and the docs build it."""
    return {
        "kind": "service-account",
        "client_id": client_id,
        "client_secret": client_secret,
        "organization_id": organization_id,
        "vault_ids": list(vault_ids),
        "scopes": list(scopes),
        "token_lifespan": token_lifespan,
        "name": name,
        "revoke": revoke,
        "manager_secret_arn": manager_secret_arn,
        **({"hosts": dict(hosts)} if hosts else {}),
    }
