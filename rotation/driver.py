"""Driving a rotation by hand: in-process as Secrets Manager would, or by asking Secrets
Manager and following it. Either way success is decided by what the secret holds
afterwards (stages and value), never by a label alone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from rotation.core import STEPS, Rotation
from rotation.document import DocumentError, parse_document
from rotation.stores import CURRENT, PENDING, SecretDescription, SecretStore


class NotConfigured(Exception):
    """The secret cannot be rotated by Secrets Manager as it is: nothing was started."""


def run_local(
    rotation: Rotation,
    secret_id: str,
    *,
    token: str | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> str:
    """Run the four steps in order with a fresh token, as Secrets Manager would.

    ``on_step(step, "start"|"done")`` reports progress. Returns the new version id. A
    failing step raises; running again with the same ``token`` resumes idempotently.
    """
    token = token or str(uuid.uuid4())
    for step in STEPS:
        if on_step:
            on_step(step, "start")
        rotation.handle({"Step": step, "SecretId": secret_id, "ClientRequestToken": token})
        if on_step:
            on_step(step, "done")
    return token


def preflight(store: SecretStore, secret_id: str) -> SecretDescription:
    """What RotateSecret needs, checked before asking for it: a rotation function, rotation
    enabled, and no rotation under way. Raises :class:`NotConfigured` naming what is
    missing (AWS refuses some of these itself; moto's server does not, and relabels
    AWSCURRENT onto an empty version instead)."""
    desc = store.describe(secret_id)
    missing = []
    if not desc.rotation_function:
        missing.append("it has no rotation function (RotationLambdaARN)")
    if not desc.rotation_enabled:
        missing.append("rotation is not enabled")
    if missing:
        raise NotConfigured(
            f"secret {desc.name} is not set up for rotation by Secrets Manager: {' and '.join(missing)}. "
            "Configure it (`aws secretsmanager rotate-secret --rotation-lambda-arn ... --rotation-rules ...`, "
            "see docs/DEPLOY.md), or rotate here with `vgs-rotate rotate SECRET_ID --local`; nothing was started"
        )
    current, pending = desc.version_with(CURRENT), desc.version_with(PENDING)
    if pending and pending != current:
        raise NotConfigured(
            f"a rotation of {desc.name} is already under way or stuck (AWSPENDING on version {pending}); "
            "Secrets Manager refuses to start another: see `vgs-rotate status SECRET_ID` (--repair); "
            "nothing was started"
        )
    return desc


@dataclass(frozen=True)
class FollowResult:
    succeeded: bool
    version_id: str
    detail: str
    credential: str | None = None


def verify(store: SecretStore, secret_id: str, version_id: str, *, before: str | None) -> FollowResult:
    """Success only when ``version_id`` holds AWSCURRENT, has a value that is a valid
    document, and that document's credential is not the one ``before`` (the credential
    that was AWSCURRENT when the rotation started). AWSPENDING may remain on the
    AWSCURRENT version: AWS documents it as a completed rotation."""
    desc = store.describe(secret_id)
    current = desc.version_with(CURRENT)
    if current != version_id:
        return FollowResult(
            False, version_id, f"AWSCURRENT is on version {current}, not on version {version_id} that this rotation "
            "started: another writer or rotation moved it; see `vgs-rotate status SECRET_ID`",
        )  # fmt: skip
    value = store.get_value(secret_id, version_id=version_id)
    restore = "restore the previous version's AWSCURRENT (update-secret-version-stage) and check the rotation function"
    if value is None:
        return FollowResult(
            False, version_id, f"version {version_id} holds AWSCURRENT but has no value: the label moved without the "
            f"rotation function storing a credential, so readers of AWSCURRENT get nothing; {restore}",
        )  # fmt: skip
    try:
        doc = parse_document(value)
    except DocumentError as exc:
        return FollowResult(False, version_id, f"version {version_id} holds AWSCURRENT but {exc}; {restore}")
    if before is not None and doc.credential_ref == before:
        return FollowResult(
            False, version_id, f"version {version_id} holds AWSCURRENT with the same credential {before} as before: "
            "nothing was rotated; check the rotation function",
        )  # fmt: skip
    return FollowResult(True, version_id, f"version {version_id} is AWSCURRENT with credential {doc.credential_ref}",
                        credential=doc.credential_ref)  # fmt: skip


def credential_at(store: SecretStore, secret_id: str, version_id: str | None) -> str | None:
    """The credential of one version, or None when it has no valid document."""
    if not version_id:
        return None
    value = store.get_value(secret_id, version_id=version_id)
    try:
        return parse_document(value).credential_ref if value is not None else None
    except DocumentError:
        return None


def follow(
    store: SecretStore,
    secret_id: str,
    version_id: str,
    *,
    before: str | None = None,
    previous_current: str | None = None,
    timeout: float = 300.0,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FollowResult:
    """Poll the secret until ``version_id`` holds AWSCURRENT (then :func:`verify` decides),
    the version loses its labels or AWSCURRENT moves elsewhere (failure), or ``timeout``
    passes (failure: the rotation is stuck or still retrying)."""
    deadline = clock() + timeout
    seen = False
    while True:
        desc = store.describe(secret_id)
        stages = desc.stages_of(version_id)
        if CURRENT in stages:
            return verify(store, secret_id, version_id, before=before)
        current = desc.version_with(CURRENT)
        if previous_current is not None and current not in (None, previous_current):
            return FollowResult(
                False, version_id, f"AWSCURRENT moved to version {current}, not to version {version_id} of this "
                "rotation: a new value was written meanwhile, which abandons the rotation; see `vgs-rotate status`",
            )  # fmt: skip
        if stages:
            seen = True
        elif seen:
            other = desc.version_with(PENDING)
            if other and other != version_id:
                detail = f"another rotation took over AWSPENDING (now on version {other})"
            else:
                detail = f"version {version_id} lost AWSPENDING without becoming AWSCURRENT: the rotation was abandoned"
            return FollowResult(False, version_id, detail)
        if clock() >= deadline:
            where = "still AWSPENDING" if PENDING in stages else "not current"
            return FollowResult(
                False, version_id, f"rotation did not finish within {timeout:.0f} s (version {where}); "
                "see the rotation function's logs and `vgs-rotate status`",
            )  # fmt: skip
        sleep(interval)
