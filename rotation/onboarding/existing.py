"""What the secret adopt is to write holds now, and the refusals that follow from it.

Decided from Secrets Manager's own answers (stages, tags, the AWSCURRENT value), before
anything is written: a new version written while a rotation is in progress abandons that
rotation, and a value that names another credential is not adopt's to replace unless the
operator says so (``--force``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from rotation.document import DocumentError, SecretDocument, parse_document
from rotation.issuers import secret_tag
from rotation.onboarding.discover import Found
from rotation.onboarding.request import AdoptError
from rotation.stores import CURRENT, PENDING, SecretAdmin, SecretSettings, SecretStore

KIND_TAG = "vgs-rotation:kind"
ROLE_TAG = "vgs-rotation:role"
ROTATED = "rotated"


@dataclass(frozen=True)
class Held:
    """The AWSCURRENT value of an existing secret, as far as adopt understands it: a secret
    document, a plain JSON object naming a credential (``{"client_id", "client_secret"}``),
    something else, or nothing."""

    present: bool
    document: SecretDocument | None = None
    client_id: str | None = None
    credential_id: str | None = None
    username: str | None = None

    @property
    def names_a_credential(self) -> bool:
        return bool(self.client_id or self.credential_id or self.username)

    def holds(self, found: Found) -> bool:
        """True when the value is (about) the credential being adopted."""
        if found.kind == "service-account":
            return self.client_id == found.ref
        return self.credential_id == found.ref or (self.credential_id is None and self.username == found.username)

    def described(self) -> str:
        return self.client_id or self.credential_id or self.username or "?"


def _held(raw: str | None) -> Held:
    if raw is None:
        return Held(present=False)
    try:
        doc = parse_document(raw)
    except DocumentError:
        doc = None
    if doc is not None:
        return Held(True, doc, doc.client_id, doc.credential_id, doc.username)
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return Held(present=True)
    if not isinstance(data, dict):
        return Held(present=True)

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value else None

    return Held(True, None, text("client_id"), text("credential_id"), text("username"))


@dataclass(frozen=True)
class Existing:
    settings: SecretSettings
    held: Held

    @property
    def arn(self) -> str:
        return self.settings.arn

    @property
    def inherited(self) -> SecretDocument | None:
        """A document it holds, whose settings (hosts, revoke, test, name) adopt keeps by default."""
        return self.held.document


class AdoptStore(SecretStore, SecretAdmin, Protocol):
    """What adopt needs from Secrets Manager: the rotation's reads and writes plus creating
    and configuring secrets."""


def read_existing(store: AdoptStore, secret_id: str) -> Existing | None:
    """None when no secret of that name exists."""
    settings = store.settings(secret_id)
    if settings is None:
        return None
    raw = None
    if settings.version_with(CURRENT) and not settings.scheduled_for_deletion:
        raw = store.get_value(settings.arn, stage=CURRENT)
    return Existing(settings, _held(raw))


def refuse_unwritable(existing: Existing, manager_arn: str) -> None:
    """Refusals that no flag overrides."""
    s = existing.settings
    if s.scheduled_for_deletion:
        raise AdoptError(
            f"secret {s.name} is scheduled for deletion: restore it (aws secretsmanager restore-secret) or "
            "adopt into another name",
            "conflict",
        )
    if s.arn == manager_arn:
        raise AdoptError(f"secret {s.name} is the manager secret: adopt into a secret of its own", "invalid")
    role = s.tags.get(ROLE_TAG)
    if role not in (None, ROTATED):
        raise AdoptError(
            f"secret {s.name} is tagged {ROLE_TAG}={role}, not a rotated secret: adopt into a secret of its own",
            "conflict",
        )
    pending, current = s.version_with(PENDING), s.version_with(CURRENT)
    if pending and pending != current:
        raise AdoptError(
            f"secret {s.name} has a rotation in progress (AWSPENDING on version {pending}, not on AWSCURRENT): "
            "a new version now would abandon it. Let it finish, or clear it with `vgs-rotate status "
            f"{s.name} --repair`, then adopt again",
            "conflict",
        )


def refuse_other_credential(existing: Existing, found: Found, force: bool) -> None:
    held = existing.held
    if not held.present or held.holds(found) or force:
        return
    name = existing.settings.name
    if held.names_a_credential:
        raise AdoptError(
            f"secret {name} already holds another credential ({held.described()}), not {found.ref}: adopt into "
            f"another secret, or give --force to replace it (it becomes AWSPREVIOUS, and the first rotation "
            "deletes it at VGS unless revoke is never)",
            "conflict",
        )
    raise AdoptError(
        f"secret {name} holds a value that names no VGS credential: adopt into another secret, or give --force "
        "to replace it (the value stays readable as AWSPREVIOUS until the next rotation)",
        "conflict",
    )


def refuse_foreign_owner(found: Found, target_arn: str | None, force: bool) -> None:
    """A credential a rotation of another secret created is that secret's: its rotations
    would delete it under this one."""
    owner = found.owner_tag
    if owner is None or force or (target_arn is not None and owner == secret_tag(target_arn)):
        return
    raise AdoptError(
        f"{found.ref} was created by the rotation of another secret (annotation vgs-rotation/secret={owner}): "
        "that secret's rotations will delete it. Use that secret, or give --force to adopt it anyway",
        "conflict",
    )
