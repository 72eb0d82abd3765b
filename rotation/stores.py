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
    """A store call failed. The message names the call and the AWS error code, no values."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class SecretDescription:
    arn: str
    name: str
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # version id -> stages

    def version_with(self, stage: str) -> str | None:
        return next((v for v, stages in self.versions.items() if stage in stages), None)

    def stages_of(self, version_id: str) -> tuple[str, ...]:
        return self.versions.get(version_id, ())


@dataclass(frozen=True)
class SecretVersion:
    """One version's string value and its id (what caches key on: a version's value never changes)."""

    version_id: str
    value: str = field(repr=False)


class SecretStore(Protocol):
    def describe(self, secret_id: str) -> SecretDescription:
        """The secret's ARN, whether rotation is enabled, and its versions with their stages."""
        ...

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        """The string value of one version (by id and/or stage); None when it has none."""
        ...

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
