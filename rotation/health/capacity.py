"""VGS's limits and the headroom a rotation needs.

A rotation creates the new credential before it deletes the old one, so it needs one free
slot; one more is kept for a rotation retried after a crash (its leftover is deleted only
when the retry runs) or another secret of the same organization or vault rotating at the
same time. Hence at most ``limit - HEADROOM`` in use: 48 of 50 service accounts per
organization, 8 of 10 access credentials per vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rotation.vgs.accounts import MAX_ACCOUNTS_PER_ORGANIZATION
from rotation.vgs.vault_credentials import MAX_CREDENTIALS_PER_VAULT

HEADROOM = 2


@dataclass(frozen=True)
class Capacity:
    """Credentials used of VGS's limit in one organization (service accounts) or vault
    (access credentials). ``used`` is ``None`` when VGS could not be listed."""

    kind: str  # "service-account" | "access-credentials"
    scope_id: str  # the organization or vault id
    used: int | None

    @property
    def limit(self) -> int:
        return MAX_ACCOUNTS_PER_ORGANIZATION if self.kind == "service-account" else MAX_CREDENTIALS_PER_VAULT

    @property
    def where(self) -> str:
        return f"organization {self.scope_id}" if self.kind == "service-account" else f"vault {self.scope_id}"

    @property
    def noun(self) -> str:
        return "service accounts" if self.kind == "service-account" else "access credentials"

    @property
    def enough(self) -> bool | None:
        return None if self.used is None else self.limit - self.used >= HEADROOM

    def describe(self) -> str:
        if self.used is None:
            return f"{self.noun} in {self.where}: not known"
        return f"{self.used} of {self.limit} {self.noun} used in {self.where}"

    def problem(self) -> str:
        return (
            f"{self.describe()}: a rotation needs 1 free for its new credential while the old one is kept, "
            f"plus 1 for a retried or concurrent rotation ({HEADROOM} free in all)"
        )

    def fix(self) -> str:
        if self.kind == "service-account":
            return (
                f"delete service accounts of {self.where} that nobody uses (never a secret's AWSCURRENT or "
                "AWSPREVIOUS one: `vgs-rotate status --all` shows them and their orphans)"
            )
        return f"delete access credentials of {self.where} that no secret uses (`vgs-rotate status --all`)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scope": "organization" if self.kind == "service-account" else "vault",
            "id": self.scope_id,
            "used": self.used,
            "limit": self.limit,
            "free": None if self.used is None else self.limit - self.used,
            "enough": self.enough,
        }
