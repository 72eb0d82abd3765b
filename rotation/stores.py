"""The small interfaces the rotation core needs from a secret store.

The core speaks only these; ``rotation.aws_store`` implements them with boto3. Keeping
them narrow keeps the four steps readable and lets other stores (or fakes) plug in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
PREVIOUS = "AWSPREVIOUS"


class StoreError(Exception):
    """A store call failed. The message names the call and the AWS error code, no values.

    The optional fields let the CLI name what to fix: ``service`` (``"secretsmanager"`` or
    ``"vault"``), ``operation`` (the call), ``resource`` (the secret id or KV path) and
    ``endpoint`` (the address spoken to). ``code`` is the service's error code, or the
    client library's exception name when nothing was answered (``NoRegionError``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool = False,
        service: str = "",
        operation: str = "",
        resource: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.service = service
        self.operation = operation
        self.resource = resource
        self.endpoint = endpoint


@dataclass(frozen=True)
class SecretDescription:
    arn: str
    name: str
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # version id -> stages
    rotation_function: str | None = None  # RotationLambdaARN, when the store knows it

    def version_with(self, stage: str) -> str | None:
        return next((v for v, stages in self.versions.items() if stage in stages), None)

    def stages_of(self, version_id: str) -> tuple[str, ...]:
        return self.versions.get(version_id, ())


@dataclass(frozen=True)
class SecretVersion:
    """One version's string value and its id (what caches key on: a version's value never changes)."""

    version_id: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class SecretSettings(SecretDescription):
    """A secret's description plus what an operator configures on it: key, tags, rotation."""

    kms_key_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    rotation_lambda_arn: str | None = None
    schedule_expression: str | None = None
    scheduled_for_deletion: bool = False


class SecretAdmin(Protocol):
    """Creating and configuring secrets, for onboarding (``vgs-rotate adopt``). The rotation
    itself never needs this: it only reads, stores versions and moves stages."""

    def settings(self, secret_id: str) -> SecretSettings | None:
        """The secret's versions, key, tags and rotation; None when no such secret exists."""
        ...

    def create_secret(
        self, name: str, value: str | None, *, kms_key_id: str | None, tags: Mapping[str, str], description: str
    ) -> str:
        """Create the secret (with ``value`` as AWSCURRENT, or no version when None); return its ARN."""
        ...

    def tag_secret(self, secret_id: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite these tags."""
        ...

    def configure_rotation(
        self, secret_id: str, *, function_arn: str, schedule_expression: str, rotate_immediately: bool
    ) -> str | None:
        """Set the rotation function and schedule (RotateSecret); return the version id it started."""
        ...


class SecretStore(Protocol):
    def describe(self, secret_id: str) -> SecretDescription:
        """The secret's ARN, whether rotation is enabled, and its versions with their stages."""
        ...

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        """The string value of one version (by id and/or stage); None when it has none.

        Stores that subclass this protocol inherit this reading through :meth:`get_version`."""
        found = self.get_version(secret_id, version_id=version_id, stage=stage)
        return None if found is None else found.value

    def get_version(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> SecretVersion | None:
        """Like :meth:`get_value`, with the version's id (one read all the same)."""
        ...

    def put_pending(self, secret_id: str, version_id: str, value: str, *, rotation_token: str | None = None) -> None:
        """Store ``value`` as ``version_id`` labelled AWSPENDING (idempotent for the same value)."""
        ...

    def move_stage(self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        """Move ``stage`` onto ``to_version`` (None: remove it) from ``from_version``, explicitly."""
        ...

    def put_value(self, secret_id: str, value: str) -> None:
        """Write a new AWSCURRENT value (used for token secrets, never for rotated secrets)."""
        ...


@dataclass(frozen=True)
class KVEntry:
    """One KV v2 secret as read: its data, its version (for check-and-set) and its custom metadata."""

    data: Mapping[str, object]
    version: int
    custom_metadata: Mapping[str, str] = field(default_factory=dict)


class CasConflict(StoreError):
    """A check-and-set write lost a race: someone else wrote the path since it was read."""


class KVStore(Protocol):
    """A Vault/OpenBao KV v2 engine. Paths are ``MOUNT/PATH`` (``secret/vgs/app``), as ``bao kv`` takes them."""

    def read(self, path: str) -> KVEntry | None:
        """The latest version of ``path``; None when never written; empty ``data`` when the
        latest version is deleted (its ``version`` still counts for check-and-set)."""
        ...

    def write(
        self, path: str, data: Mapping[str, object], *, custom_metadata: Mapping[str, str] | None, cas: int | None
    ) -> int:
        """Write a new version (``cas``: the version read, 0 for "must not exist"); return its number.
        Raises :class:`CasConflict` when ``cas`` no longer matches."""
        ...


def split_kv_path(path: str) -> tuple[str, str]:
    """``"secret/vgs/app"`` -> ``("secret", "vgs/app")``: the first segment is the mount."""
    mount, _, rest = path.strip("/").partition("/")
    if not mount or not rest:
        raise ValueError(f"KV path {path!r} must be MOUNT/PATH, e.g. secret/vgs/tokens/app")
    if rest.startswith("data/") or rest.startswith("metadata/"):
        raise ValueError(f"KV path {path!r}: give the logical path (MOUNT/PATH), without data/ or metadata/")
    return mount, rest
