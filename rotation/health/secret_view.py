"""The one place this package reads :func:`rotation.status.inspect`: versions, the VGS
credential behind each, a stuck AWSPENDING, and orphans, in a shape that says "unknown"
(``None`` plus ``errors``) when VGS could not be listed.

``inspect`` is being changed to report unknown itself (``orphans`` ``None``, an ``errors``
list, ``vgs_checked``); this adapter reads either shape, so both sides of that change
give the same view.
"""

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
    orphans: tuple[str, ...] | None  # None: VGS not listed
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
    errors = [str(e) for e in getattr(status, "errors", None) or ()]
    legacy_error = getattr(status, "vgs_error", None)
    if legacy_error:
        errors.append(f"VGS not checked: {legacy_error}")
    versions = tuple(
        VersionView(
            v.version_id,
            tuple(v.stages),
            v.credential,
            v.at_vgs if v.at_vgs in ("present", "absent") else None,
            v.problem,
        )
        for v in status.versions
    )
    checked = getattr(status, "vgs_checked", None)
    if checked is None:  # the older shape: VGS was listed iff a credential got a verdict
        checked = not legacy_error and any(v.at_vgs is not None for v in versions)
    orphans: tuple[str, ...] | None = None
    if issuers is not None and checked and status.orphans is not None:
        orphans = tuple(status.orphans)
    elif issuers is not None and not errors:
        errors.append("VGS not checked: no version holds a credential to look for")
    return SecretView(status.arn, status.name, versions, status.stuck_pending, orphans, tuple(errors))
