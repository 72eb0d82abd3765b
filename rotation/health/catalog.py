"""What the health checks need from Secrets Manager beyond the rotation's store: rotation
configuration, dates, tags, version creation dates, and a listing of every secret.

The interface is here, with the checks that use it; ``rotation.health.aws_catalog``
implements it with boto3 (the only boto3 in this package).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

KIND_TAG = "vgs-rotation:kind"


@dataclass(frozen=True)
class SecretInfo:
    """One secret as DescribeSecret or ListSecrets shows it (no value)."""

    arn: str
    name: str
    rotation_enabled: bool = False
    rotation_function: str | None = None  # RotationLambdaARN
    schedule: str | None = None  # ScheduleExpression, or "every N day(s)"
    window: str | None = None  # RotationRules.Duration
    last_rotated: datetime | None = None  # LastRotatedDate
    next_rotation: datetime | None = None  # NextRotationDate
    tags: Mapping[str, str] = field(default_factory=dict)
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # version id -> stages

    def version_with(self, stage: str) -> str | None:
        return next((v for v, stages in self.versions.items() if stage in stages), None)

    @property
    def kind_tag(self) -> str | None:
        return self.tags.get(KIND_TAG)

    @property
    def function_name(self) -> str | None:
        """The rotation function's name (the last segment of its ARN)."""
        if not self.rotation_function:
            return None
        return self.rotation_function.split(":function:", 1)[-1].split(":", 1)[0]


class SecretCatalog(Protocol):
    def info(self, secret_id: str) -> SecretInfo:
        """DescribeSecret."""
        ...

    def list_all(self) -> Iterator[SecretInfo]:
        """Every secret of the account and region (ListSecrets, all pages)."""
        ...

    def version_dates(self, secret_id: str) -> dict[str, datetime]:
        """Creation date of each version that still has a stage (ListSecretVersionIds)."""
        ...
