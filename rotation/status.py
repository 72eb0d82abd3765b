"""What a rotated secret looks like now, at AWS and at VGS; a safe repair of a stuck
AWSPENDING label; a safe clean-up of orphaned credentials.

A check that cannot see says so: what could not be read is ``None`` ("unknown") and the
reason goes to ``errors``, never "nothing found". Only the outside world decides: the
secret's stages and values at AWS, and VGS's own list of credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rotation.document import DocumentError, SecretDocument, parse_document, parse_manager
from rotation.issuers import Issuer, IssuerFactory
from rotation.stores import CURRENT, PENDING, PREVIOUS, SecretDescription, SecretStore, StoreError
from rotation.vgs import errors

# What a look at VGS can fail with; anything else is a bug and propagates.
_CANNOT_SEE = (StoreError, errors.VGSError, ValueError)
Verdict = Literal["ok", "failed", "unknown"]


class CannotCheck(Exception):
    """A required look failed (VGS could not be listed, a value could not be read): the
    operation that needed it did nothing."""


@dataclass
class VersionStatus:
    version_id: str
    stages: tuple[str, ...]
    kind: str | None = None
    credential: str | None = None
    at_vgs: str | None = None  # "present" | "absent" | None: not known
    problem: str | None = None


@dataclass
class SecretStatus:
    arn: str
    name: str
    rotation_enabled: bool
    rotation_function: str | None = None
    versions: list[VersionStatus] = field(default_factory=list)
    stuck_pending: str | None = None
    orphans: list[str] | None = None  # None: not known (VGS not listed)
    retained: list[str] | None = None  # unused but kept on purpose (revoke: never)
    vgs_checked: bool = False
    errors: list[str] = field(default_factory=list)  # what could not be seen, and why

    @property
    def problems(self) -> list[str]:
        """The checks that failed, each as a sentence that says what to do."""
        out: list[str] = []
        current = next((v for v in self.versions if CURRENT in v.stages), None)
        if self.stuck_pending:
            out.append(
                f"STUCK: AWSPENDING is on version {self.stuck_pending}, not AWSCURRENT: a rotation is in progress "
                "or stuck, and later rotations fail until it finishes or is cleared (`vgs-rotate status SECRET_ID "
                "--repair`)"
            )
        if current is None and not self.errors:
            out.append("no version is AWSCURRENT")
        elif current is not None and current.problem:
            out.append(f"the AWSCURRENT version {current.version_id} is unusable: {current.problem}")
        elif current is not None and current.at_vgs == "absent":
            out.append(
                f"the AWSCURRENT credential {current.credential} does not exist at VGS: consumers cannot "
                "authenticate; rotate now"
            )
        if self.orphans:
            out.append(
                f"{len(self.orphans)} credential(s) made for this secret that no version uses: "
                f"{', '.join(self.orphans)} (`vgs-rotate cleanup SECRET_ID` deletes them)"
            )
        return out

    @property
    def verdict(self) -> Verdict:
        if self.problems:
            return "failed"
        return "unknown" if self.errors else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "rotation_enabled": self.rotation_enabled,
            "rotation_function": self.rotation_function,
            "verdict": self.verdict,
            "stuck_pending": self.stuck_pending,
            "orphans": self.orphans,
            "retained": self.retained,
            "vgs_checked": self.vgs_checked,
            "versions": [v.__dict__ for v in self.versions],
            "problems": self.problems,
            "errors": self.errors,
        }


def _labelled(desc: SecretDescription) -> list[str]:
    order = {CURRENT: 0, PENDING: 1, PREVIOUS: 2}
    labelled = [v for v, stages in desc.versions.items() if stages]
    return sorted(labelled, key=lambda v: min(order.get(s, 9) for s in desc.versions[v]))


def inspect(store: SecretStore, issuers: IssuerFactory | None, secret_id: str) -> SecretStatus:
    """Versions with stages, the credential behind each, whether VGS still has it, and
    credentials this system made for the secret that no labelled version uses (orphans).
    ``issuers=None`` leaves VGS unasked (``vgs_checked`` False, VGS fields ``None``)."""
    desc = store.describe(secret_id)
    status = SecretStatus(desc.arn, desc.name, desc.rotation_enabled, desc.rotation_function)
    docs: dict[str, SecretDocument] = {}
    unread: list[str] = []
    for version_id in _labelled(desc):
        entry = VersionStatus(version_id, desc.versions[version_id])
        try:
            raw = store.get_value(secret_id, version_id=version_id)
        except StoreError as exc:
            status.errors.append(f"cannot read version {version_id}: {exc}")
            unread.append(version_id)
            status.versions.append(entry)
            continue
        if raw is None:
            entry.problem = "no value (a rotation started and createSecret has not stored one)"
        else:
            try:
                doc = parse_document(raw)
                docs[version_id] = doc
                entry.kind, entry.credential = doc.kind, doc.credential_ref
            except DocumentError as exc:
                entry.problem = str(exc)
                unread.append(version_id)  # it holds a credential we cannot name
        status.versions.append(entry)
    current = desc.version_with(CURRENT)
    pending = desc.version_with(PENDING)
    if pending and pending != current:
        status.stuck_pending = pending
    if issuers is None:
        return status
    if not docs:
        status.errors.append("VGS not checked: no version holds a valid document (its hosts and manager are needed)")
        return status
    anchor = docs.get(current or "") or next(iter(docs.values()))
    try:
        issuer = _issuer(store, issuers, anchor, desc)
        try:
            owned, present = issuer.inventory()
        finally:
            issuer.close()
    except _CANNOT_SEE as exc:
        who = exc.subject if isinstance(exc, errors.VGSError) else None
        status.errors.append(f"VGS not checked: {exc}" + (f", using {who}" if who else ""))
        return status
    status.vgs_checked = True
    for entry in status.versions:
        if entry.credential:
            entry.at_vgs = "present" if entry.credential in present else "absent"
    if unread:
        status.errors.append(
            f"orphans not known: what version(s) {', '.join(unread)} use cannot be read (see above), so any "
            "credential made for this secret may be theirs"
        )
        return status
    used = {e.credential for e in status.versions if e.credential}
    unused = sorted({o.ref for o in owned} - used)
    if anchor.revoke == "never":
        status.orphans, status.retained = [], unused
    else:
        status.orphans, status.retained = unused, []
    return status


def _issuer(store: SecretStore, issuers: IssuerFactory, doc: SecretDocument, desc: SecretDescription) -> Issuer:
    raw = store.get_value(doc.manager_secret_arn, stage=CURRENT)
    if raw is None:
        raise DocumentError(
            "manager_secret_arn",
            f"points to a secret with no AWSCURRENT value ({doc.manager_secret_arn}): "
            "store the manager credential there",
        )
    return issuers(doc, parse_manager(raw), desc.arn)


def repair(store: SecretStore, issuers: IssuerFactory, secret_id: str) -> list[str]:
    """Clear a stuck AWSPENDING: delete the credential behind it at VGS unless AWSCURRENT
    or AWSPREVIOUS use it, then remove the label. Returns what was done, for display.
    Refuses (raises) when what AWSCURRENT or AWSPREVIOUS use cannot be read."""
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
            keep.add(parse_document(value).credential_ref)  # unreadable: refuse rather than guess
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


def cleanup(store: SecretStore, issuers: IssuerFactory, secret_id: str, candidates: Sequence[str]) -> list[str]:
    """Delete ``candidates`` (the orphans ``inspect`` reported) after looking again: each is
    deleted only if VGS still lists it as made for this secret, no labelled version uses it,
    and it was not made by a rotation whose version is labelled (one under way). Raises
    :class:`CannotCheck` when the second look fails; nothing is deleted then.
    Returns one line per candidate."""
    desc = store.describe(secret_id)
    current = desc.version_with(CURRENT)
    pending = desc.version_with(PENDING)
    if pending and pending != current:
        raise CannotCheck(
            f"a rotation of {desc.name} is under way or stuck (AWSPENDING on version {pending}): let it finish, "
            "or clear it with `vgs-rotate status SECRET_ID --repair`; nothing deleted"
        )
    used: set[str] = set()
    anchor: SecretDocument | None = None
    try:
        for version_id in _labelled(desc):
            raw = store.get_value(secret_id, version_id=version_id)
            if raw is None:
                continue
            doc = parse_document(raw)
            used.add(doc.credential_ref)
            if version_id == current or anchor is None:
                anchor = doc
        if anchor is None:
            raise CannotCheck(f"no version of {desc.name} holds a valid document; nothing deleted")
        issuer = _issuer(store, issuers, anchor, desc)
    except _CANNOT_SEE as exc:
        raise CannotCheck(f"cannot re-check what {desc.name} uses ({exc}); nothing deleted") from None
    lines: list[str] = []
    try:
        try:
            owned, _present = issuer.inventory()
        except _CANNOT_SEE as exc:
            raise CannotCheck(f"cannot list the credentials at VGS ({exc}); nothing deleted") from None
        labelled = {v for v, stages in desc.versions.items() if stages}
        ours = {o.ref for o in owned if o.version_id not in labelled}
        for ref in candidates:
            if ref in used:
                lines.append(f"kept {ref}: a version of the secret uses it now")
            elif ref not in ours:
                lines.append(f"skipped {ref}: no longer listed at VGS as an unused credential of this secret")
            else:
                gone = issuer.delete(ref)
                lines.append(f"deleted {ref} at VGS" + ("" if gone else " (already gone)"))
    finally:
        issuer.close()
    return lines
