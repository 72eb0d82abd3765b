"""What rotations left behind: a stuck AWSPENDING (on a version other than AWSCURRENT:
AWSPENDING on the AWSCURRENT version is a completed rotation) and orphans (credentials made
for this secret that no labelled version uses), or "unknown" when VGS could not be listed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rotation.health import checks
from rotation.health.history import IN_PROGRESS_SECONDS
from rotation.health.manager import Inventory
from rotation.health.secret_view import SecretView

CANARY_VERSION_PREFIX = "doctor-canary-"


def canary_leftovers(listed: Inventory | None) -> set[str]:
    """Credentials a ``doctor --canary`` made for this secret (by their version annotation)."""
    if listed is None:
        return set()
    return {o.ref for o in listed.owned if o.version_id.startswith(CANARY_VERSION_PREFIX)}


def stuck_pending(view: SecretView, version_dates: Mapping[str, datetime] | None, now: float) -> checks.Check:
    cid, title = "stuck-pending", "no stuck AWSPENDING"
    pending = view.stuck_pending
    if pending is None:
        return checks.ok(cid, title, "no AWSPENDING on a version other than AWSCURRENT")
    created = (version_dates or {}).get(pending)
    age = now - created.timestamp() if created else None
    data = {"version": pending, "age_seconds": None if age is None else int(age)}
    if age is not None and age < IN_PROGRESS_SECONDS:
        return checks.unknown(
            cid,
            title,
            f"a rotation is under way: AWSPENDING on version {pending}, {age / 60:.0f} min old",
            "run doctor again when it has finished",
            **data,
        )
    since = f", since {created:%Y-%m-%d %H:%M} UTC" if created else ""
    return checks.failed(
        cid,
        title,
        f"AWSPENDING is on version {pending}, not AWSCURRENT{since}: every later rotation is refused",
        "`vgs-rotate status SECRET_ID --repair` deletes its unused credential and clears the label",
        **data,
    )


def orphans(view: SecretView, listed: Inventory | None) -> checks.Check:
    """Orphans fail the check; so does a canary's leftover kept under ``revoke: never`` (the
    policy keeps what rotations made, never what doctor made)."""
    cid, title = "orphans", "no orphaned credentials"
    if view.orphans is None:
        why = "; ".join(view.errors) or "VGS was not listed"
        return checks.unknown(cid, title, f"unknown: {why}", "fix the manager checks above first", orphans=None)
    canaries = canary_leftovers(listed)
    found = sorted(set(view.orphans) | (canaries & set(view.retained or ())))
    if not found:
        kept = f" ({len(view.retained)} kept on purpose: revoke never)" if view.retained else ""
        return checks.ok(cid, title, "every credential made for this secret is used by a version" + kept, orphans=[])
    canaries &= set(found)
    named = ", ".join(f"{o} (an interrupted doctor --canary)" if o in canaries else o for o in found)
    fix = "`vgs-rotate cleanup SECRET_ID` deletes them after re-checking that no version uses them"
    if canaries:
        fix += "; `vgs-rotate doctor SECRET_ID --canary` removes its own leftovers"
    return checks.failed(
        cid, title, f"{len(found)} credential(s) made for this secret that no version uses: {named}", fix,
        orphans=found, canary_leftovers=sorted(canaries),
    )  # fmt: skip
