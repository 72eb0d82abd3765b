"""The plugin schedules' oracle: which VGS accounts are live, referenced and orphaned, decided
from outside the engine.

Live accounts come from VGS (the emulator's admin view). What is referenced comes from what
the engine hands out through its API (``config``'s manager, ``static-creds/NAME``'s current
and previous accounts, the account a ``token/NAME`` token was issued to, by the token's own
``azp`` claim) and from the host's lease table (the ``creds/`` leases OpenBao lists, mapped
to the accounts their reads returned). Never from annotations or the engine's storage: a
bug that forgets an account in both product and test would otherwise stay invisible.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Referenced:
    """What one mount references, as its API and its host show it."""

    manager: str | None = None
    static: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # role: (current, previous)
    tokens: dict[str, str] = field(default_factory=dict)  # role: account the served token belongs to
    leases: dict[str, str] = field(default_factory=dict)  # live lease id: account

    def ids(self) -> set[str]:
        out = {self.manager} | {cid for pair in self.static.values() for cid in pair}
        out |= set(self.tokens.values()) | set(self.leases.values())
        return {cid for cid in out if cid}


def unreferenced(present: Iterable[str], mounts: Iterable[Referenced], others: Iterable[str] = ()) -> set[str]:
    """Live accounts that nothing references: orphans once the periodic work has run."""
    seen = set(others)
    for ref in mounts:
        seen |= ref.ids()
    return set(present) - seen


def missing(present: set[str], ref: Referenced, label: str) -> list[str]:
    """Violations for referenced accounts that VGS no longer has."""
    out = []
    if ref.manager and ref.manager not in present:
        out.append(f"{label}: the configured manager does not exist at VGS")
    for role, (current, previous) in ref.static.items():
        if current and current not in present:
            out.append(f"{label}: static role {role}'s current account does not exist at VGS")
        if previous and previous not in present:
            out.append(f"{label}: static role {role}'s previous account is gone within its overlap window")
    for role, cid in ref.tokens.items():
        if cid not in present:
            out.append(f"{label}: the account behind token/{role} does not exist at VGS")
    gone = [lease for lease, cid in ref.leases.items() if cid not in present]
    if gone:
        out.append(f"{label}: {len(gone)} live creds/ lease(s) whose account is gone at VGS")
    return out


def token_owner(raw: str) -> str | None:
    """The client a VGS access token was issued to (its ``azp`` claim), read without trusting the engine."""
    try:
        segment = raw.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        return None
    value = claims.get("azp") or claims.get("clientId") if isinstance(claims, dict) else None
    return str(value) if value else None
