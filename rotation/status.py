"""What a rotated secret looks like now, at AWS and at VGS, and a safe repair of a stuck
AWSPENDING label."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from rotation.document import DocumentError, SecretDocument, parse_document, parse_manager
from rotation.issuers import Issuer, IssuerFactory
from rotation.stores import CURRENT, PENDING, PREVIOUS, SecretDescription, SecretStore


@dataclass
class VersionStatus:
    version_id: str
    stages: tuple[str, ...]
    kind: str | None = None
    credential: str | None = None
    at_vgs: str = "unknown"  # "present" | "absent" | "unknown"
    problem: str | None = None


@dataclass
class SecretStatus:
    arn: str
    name: str
    rotation_enabled: bool
    versions: list[VersionStatus] = field(default_factory=list)
    stuck_pending: str | None = None
    orphans: list[str] = field(default_factory=list)
    vgs_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "rotation_enabled": self.rotation_enabled,
            "stuck_pending": self.stuck_pending,
            "orphans": self.orphans,
            "vgs_error": self.vgs_error,
            "versions": [v.__dict__ for v in self.versions],
        }


def _labelled(desc: SecretDescription) -> list[str]:
    order = {CURRENT: 0, PENDING: 1, PREVIOUS: 2}
    labelled = [v for v, stages in desc.versions.items() if stages]
    return sorted(labelled, key=lambda v: min(order.get(s, 9) for s in desc.versions[v]))


def inspect(store: SecretStore, issuers: IssuerFactory | None, secret_id: str) -> SecretStatus:
    """Versions with stages, the credential behind each, whether VGS still has it, and
    credentials this system made for the secret that no labelled version uses (orphans)."""
    desc = store.describe(secret_id)
    status = SecretStatus(desc.arn, desc.name, desc.rotation_enabled)
    docs: dict[str, SecretDocument] = {}
    for version_id in _labelled(desc):
        entry = VersionStatus(version_id, desc.versions[version_id])
        raw = store.get_value(secret_id, version_id=version_id)
        if raw is None:
            entry.problem = "no value (a rotation started and createSecret has not stored one)"
        else:
            try:
                doc = parse_document(raw)
                docs[version_id] = doc
                entry.kind, entry.credential = doc.kind, doc.credential_ref
            except DocumentError as exc:
                entry.problem = str(exc)
        status.versions.append(entry)
    current = desc.version_with(CURRENT)
    pending = desc.version_with(PENDING)
    if pending and pending != current:
        status.stuck_pending = pending
    if issuers is None or not docs:
        return status
    anchor = docs.get(current or "") or next(iter(docs.values()))
    try:
        issuer = _issuer(store, issuers, anchor, desc)
    except Exception as exc:  # status must still show what AWS holds
        status.vgs_error = f"{type(exc).__name__}: {exc}"
        return status
    try:
        owned = {o.ref for o in issuer.owned()}
        present = issuer.present()
        for entry in status.versions:
            if entry.credential:
                entry.at_vgs = "present" if entry.credential in present else "absent"
        used = {e.credential for e in status.versions if e.credential}
        status.orphans = sorted(owned - used)
    except Exception as exc:
        status.vgs_error = f"{type(exc).__name__}: {exc}"
    finally:
        issuer.close()
    return status


def _issuer(store: SecretStore, issuers: IssuerFactory, doc: SecretDocument, desc: SecretDescription) -> Issuer:
    raw = store.get_value(doc.manager_secret_arn, stage=CURRENT)
    if raw is None:
        raise DocumentError("manager_secret_arn", "points to a secret with no AWSCURRENT value")
    return issuers(doc, parse_manager(raw), desc.arn)


def repair(store: SecretStore, issuers: IssuerFactory, secret_id: str) -> list[str]:
    """Clear a stuck AWSPENDING: delete the credential behind it at VGS unless AWSCURRENT
    or AWSPREVIOUS use it, then remove the label. Returns what was done, for display."""
    desc = store.describe(secret_id)
    current = desc.version_with(CURRENT)
    pending = desc.version_with(PENDING)
    if not pending or pending == current:
        return ["nothing to repair: no stuck AWSPENDING"]
    done: list[str] = []
    raw = store.get_value(secret_id, version_id=pending)
    keep: set[str] = set()
    for stage in (CURRENT, PREVIOUS):
        value = store.get_value(secret_id, stage=stage)
        if value is not None:
            with contextlib.suppress(DocumentError):
                keep.add(parse_document(value).credential_ref)
    if raw is not None:
        try:
            doc = parse_document(raw)
        except DocumentError:
            doc = None
        if doc is not None and doc.credential_ref not in keep:
            issuer = _issuer(store, issuers, doc, desc)
            try:
                gone = issuer.delete(doc.credential_ref)
            finally:
                issuer.close()
            done.append(f"deleted credential {doc.credential_ref} at VGS" + ("" if gone else " (already gone)"))
    store.move_stage(secret_id, PENDING, to_version=None, from_version=pending)
    done.append(f"removed AWSPENDING from version {pending}")
    return done
