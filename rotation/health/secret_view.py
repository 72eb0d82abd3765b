"""The one place this package reads :func:`rotation.status.inspect`: versions, the VGS
credential behind each, a stuck AWSPENDING, and orphans, where "unknown" is ``None`` plus
a reason in ``errors`` (VGS not listed, a version unreadable)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rotation.issuers import IssuerFactory
from rotation.stores import CURRENT, PREVIOUS, SecretStore


@dataclass(frozen=True)
class VersionView:
    version_id: str
    stages: tuple[str, ...]
    credential: str | None
    at_vgs: str | None  # "present" | "absent" | None: not known
    problem: str | None


@dataclass(frozen=True)
class SecretView:
    arn: str
    name: str
    versions: tuple[VersionView, ...]
    stuck_pending: str | None  # AWSPENDING on a version other than AWSCURRENT (decision 1)
    orphans: tuple[str, ...] | None  # None: not known
    retained: tuple[str, ...] | None = None  # unused but kept on purpose (revoke: never)
    errors: tuple[str, ...] = field(default_factory=tuple)

    def with_stage(self, stage: str) -> VersionView | None:
        return next((v for v in self.versions if stage in v.stages), None)

    @property
    def current(self) -> VersionView | None:
        return self.with_stage(CURRENT)

    @property
    def previous(self) -> VersionView | None:
        return self.with_stage(PREVIOUS)


def look(store: SecretStore, issuers: IssuerFactory | None, secret_id: str) -> SecretView:
    """What AWS holds for ``secret_id`` and, with ``issuers``, what VGS lists for it."""
    from rotation.status import inspect

    status = inspect(store, issuers, secret_id)
    versions = tuple(
        VersionView(v.version_id, tuple(v.stages), v.credential, v.at_vgs, v.problem) for v in status.versions
    )
    return SecretView(
        status.arn,
        status.name,
        versions,
        status.stuck_pending,
        None if status.orphans is None else tuple(status.orphans),
        None if status.retained is None else tuple(status.retained),
        tuple(status.errors),
    )
