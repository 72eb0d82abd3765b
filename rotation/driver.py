"""Driving a rotation by hand: in-process as Secrets Manager would, or by following one
that Secrets Manager runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from rotation.core import STEPS, Rotation
from rotation.stores import CURRENT, PENDING, SecretStore


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


@dataclass(frozen=True)
class FollowResult:
    succeeded: bool
    version_id: str
    detail: str


def follow(
    store: SecretStore,
    secret_id: str,
    version_id: str,
    *,
    timeout: float = 300.0,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FollowResult:
    """Poll the secret until ``version_id`` is AWSCURRENT (success; AWSPENDING may stay on
    it, which AWS documents as a completed rotation), the version disappears or loses
    AWSPENDING without becoming current (failure), or ``timeout`` passes (failure: the
    rotation is stuck or still retrying)."""
    deadline = clock() + timeout
    while True:
        desc = store.describe(secret_id)
        stages = desc.stages_of(version_id)
        if CURRENT in stages:
            return FollowResult(True, version_id, "new version is AWSCURRENT")
        if version_id in desc.versions and not stages and desc.version_with(PENDING) not in (None, version_id):
            return FollowResult(False, version_id, "another rotation took over AWSPENDING")
        if clock() >= deadline:
            where = "still AWSPENDING" if PENDING in stages else "not current"
            return FollowResult(
                False, version_id, f"rotation did not finish within {timeout:.0f} s (version {where}); "
                "see the rotation function's logs and `vgs-rotate status`",
            )  # fmt: skip
        sleep(interval)
