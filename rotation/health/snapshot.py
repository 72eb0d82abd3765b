"""A read-only, read-once view of Secrets Manager for one survey of many secrets.

The fleet view reads each secret's versions, the same manager secret for every secret it
guards, and the stages ListSecrets already returned. Within one survey each value is read
once and each description comes from the listing: a third of the calls, and one
consistent picture. Never used across surveys, never for a write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from rotation.health.catalog import SecretInfo
from rotation.stores import SecretDescription, SecretStore, SecretVersion


class SnapshotStore(SecretStore):
    """Wraps a :class:`SecretStore` for reading: descriptions from ``infos`` (by ARN or
    name), values memoised by (secret, version, stage). Thread-safe."""

    def __init__(self, store: SecretStore, infos: Iterable[SecretInfo]) -> None:
        self.store = store
        self._described: dict[str, SecretDescription] = {}
        for info in infos:
            desc = SecretDescription(
                info.arn, info.name, info.rotation_enabled, dict(info.versions), info.rotation_function
            )
            self._described[info.arn] = self._described[info.name] = desc
        self._values: dict[tuple[str, str | None, str | None], SecretVersion | None] = {}
        self._lock = threading.Lock()

    def describe(self, secret_id: str) -> SecretDescription:
        desc = self._described.get(secret_id)
        return desc if desc is not None else self.store.describe(secret_id)

    def get_version(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> SecretVersion | None:
        key = (secret_id, version_id, stage)
        with self._lock:
            if key in self._values:
                return self._values[key]
        found = self.store.get_version(secret_id, version_id=version_id, stage=stage)
        with self._lock:
            self._values[key] = found
        return found

    def put_pending(self, secret_id: str, version_id: str, value: str, *, rotation_token: str | None = None) -> None:
        raise TypeError("a survey's snapshot is read-only")

    def move_stage(self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        raise TypeError("a survey's snapshot is read-only")

    def put_value(self, secret_id: str, value: str) -> None:
        raise TypeError("a survey's snapshot is read-only")
