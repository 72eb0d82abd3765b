"""What AWS's state says about a secret's rotations: when the last one ended and how, when
the next is due, and how long ago the previous credential left AWSCURRENT.

Derivation (from the outside world, never from memory):

- ``in-progress`` / ``failed``: AWSPENDING is on a version other than AWSCURRENT. Younger
  than :data:`IN_PROGRESS_SECONDS` (by the version's CreatedDate) it is a rotation under
  way; older, or of unknown age, it is stuck: Secrets Manager has given up on it.
- ``succeeded``: otherwise, when the secret was rotated; *when* is DescribeSecret's
  ``LastRotatedDate``, or else (a secret rotated by hand, which Secrets Manager does not
  date) the CreatedDate of the AWSCURRENT version, provided a rotation made it (its
  document carries ``rotation`` metadata), or else that metadata's ``created_at``.
- ``overdue``: rotation is enabled and ``NextRotationDate`` is more than
  :data:`OVERDUE_GRACE_SECONDS` in the past: the scheduled rotation did not run or failed
  before it could leave AWSPENDING behind.
- ``never``: no date at all and no rotation metadata: the credential is the first one.

"Days since the previous credential was retired" is the time since the last successful
promotion (the same date): that is when the credential now AWSPREVIOUS stopped being
current; under ``revoke: immediate`` it was deleted then, under ``next-rotation`` it is
deleted by the next rotation. ``None`` when the secret was never rotated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from rotation.document import SecretDocument
from rotation.health.catalog import SecretInfo
from rotation.stores import CURRENT, PENDING

IN_PROGRESS_SECONDS = 3600
OVERDUE_GRACE_SECONDS = 86_400

Outcome = Literal["succeeded", "in-progress", "failed", "overdue", "never", "unknown"]


@dataclass(frozen=True)
class History:
    outcome: Outcome
    last_rotated: datetime | None
    source: str | None  # where ``last_rotated`` comes from
    next_rotation: datetime | None
    previous_retired_days: float | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "last_rotated": self.last_rotated.isoformat() if self.last_rotated else None,
            "last_rotated_source": self.source,
            "next_rotation": self.next_rotation.isoformat() if self.next_rotation else None,
            "previous_retired_days": None
            if self.previous_retired_days is None
            else round(self.previous_retired_days, 2),
            "detail": self.detail,
        }


def derive(
    info: SecretInfo, doc: SecretDocument | None, version_dates: Mapping[str, datetime] | None, now: float
) -> History:
    """The rotation history of one secret; ``version_dates`` ``None`` when not read."""
    dates = version_dates or {}
    current = info.version_with(CURRENT)
    pending = info.version_with(PENDING)
    last, source = _last_rotated(info, doc, dates, current)
    retired = None if last is None else (now - last.timestamp()) / 86_400

    def history(outcome: Outcome, detail: str) -> History:
        return History(outcome, last, source, info.next_rotation, retired, detail)

    if pending and pending != current:
        created = dates.get(pending)
        if created is not None and now - created.timestamp() < IN_PROGRESS_SECONDS:
            return history("in-progress", f"AWSPENDING on version {pending} since {_short(created)}")
        since = f" since {_short(created)}" if created else ""
        return history("failed", f"stuck: AWSPENDING on version {pending}{since}")
    due = info.next_rotation
    if info.rotation_enabled and due is not None and now - due.timestamp() > OVERDUE_GRACE_SECONDS:
        return history("overdue", f"next rotation was due {_short(due)}")
    if last is None:
        if doc is None:
            return history("unknown", "the AWSCURRENT document could not be read")
        return history("never", "the credential is the first one: never rotated")
    return history("succeeded", f"AWSCURRENT since {_short(last)} ({source})")


def _last_rotated(
    info: SecretInfo, doc: SecretDocument | None, dates: Mapping[str, datetime], current: str | None
) -> tuple[datetime | None, str | None]:
    if info.last_rotated is not None:
        return info.last_rotated, "LastRotatedDate"
    if doc is None or doc.rotation is None:
        return None, None
    created = dates.get(current or "")
    if created is not None:
        return created, "AWSCURRENT version CreatedDate"
    return datetime.fromtimestamp(doc.rotation.created_at, UTC), "rotation.created_at"


def _short(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
