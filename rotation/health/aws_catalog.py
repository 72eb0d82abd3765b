"""The boto3 :class:`rotation.health.catalog.SecretCatalog`: DescribeSecret, ListSecrets
(paginated) and ListSecretVersionIds. Errors become :class:`rotation.stores.StoreError`
exactly as in ``rotation.aws_store``, so the CLI's boundary names what to fix."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from rotation.health.catalog import SecretInfo


def _schedule(rules: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    if not rules:
        return None, None
    expression = rules.get("ScheduleExpression")
    days = rules.get("AutomaticallyAfterDays")
    schedule = str(expression) if expression else (f"every {days} day(s)" if days else None)
    window = rules.get("Duration")
    return schedule, str(window) if window else None


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def secret_info(entry: Mapping[str, Any]) -> SecretInfo:
    """A DescribeSecret answer or a ListSecrets entry as :class:`SecretInfo`."""
    schedule, window = _schedule(entry.get("RotationRules"))
    stages = entry.get("VersionIdsToStages") or entry.get("SecretVersionsToStages") or {}
    return SecretInfo(
        arn=str(entry["ARN"]),
        name=str(entry["Name"]),
        rotation_enabled=bool(entry.get("RotationEnabled")),
        rotation_function=entry.get("RotationLambdaARN") or None,
        schedule=schedule,
        window=window,
        last_rotated=_date(entry.get("LastRotatedDate")),
        next_rotation=_date(entry.get("NextRotationDate")),
        tags={str(t.get("Key")): str(t.get("Value")) for t in entry.get("Tags") or () if t.get("Key")},
        versions={str(v): tuple(s) for v, s in stages.items()},
    )


class AwsSecretCatalog:
    """Over a boto3 Secrets Manager client (thread-safe; share it with the rotation's store)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, name: str, secret_id: str | None = None, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        from rotation.aws_store import _error

        if secret_id is not None:
            kwargs["SecretId"] = secret_id
        try:
            return getattr(self.client, name)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _error(name, exc, secret_id) from None

    def info(self, secret_id: str) -> SecretInfo:
        return secret_info(self._call("describe_secret", secret_id))

    def list_all(self) -> Iterator[SecretInfo]:
        token: str | None = None
        while True:
            page = self._call("list_secrets", MaxResults=100, **({"NextToken": token} if token else {}))
            for entry in page.get("SecretList") or ():
                yield secret_info(entry)
            token = page.get("NextToken") or None
            if token is None:
                return

    def version_dates(self, secret_id: str) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        token: str | None = None
        while True:
            page = self._call(
                "list_secret_version_ids", secret_id, MaxResults=100, **({"NextToken": token} if token else {})
            )
            for version in page.get("Versions") or ():
                created = _date(version.get("CreatedDate"))
                if created is not None and version.get("VersionStages"):
                    out[str(version["VersionId"])] = created
            token = page.get("NextToken") or None
            if token is None:
                return out
