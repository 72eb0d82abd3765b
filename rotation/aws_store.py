"""The Secrets Manager store, with boto3. Honours ``AWS_ENDPOINT_URL`` and the region
environment like every AWS SDK, so the same code runs against moto's server."""

from __future__ import annotations

import os
from typing import Any

from rotation.stores import SecretDescription, SecretVersion, StoreError

_RETRYABLE = {"ThrottlingException", "InternalServiceError", "ServiceUnavailable", "RequestTimeout"}


def secretsmanager_client(*, timeout: float | None = None, pool: int | None = None) -> Any:
    """A boto3 Secrets Manager client with bounded timeouts and standard retries.
    ``pool``: connections to keep, for callers using the (thread-safe) client from many threads."""
    import boto3
    from botocore.config import Config

    seconds = timeout if timeout is not None else float(os.environ.get("VGS_AWS_TIMEOUT_SECONDS", "5"))
    config = Config(
        connect_timeout=seconds,
        read_timeout=seconds,
        retries={"max_attempts": 4, "mode": "standard"},
        max_pool_connections=max(10, pool or 0),
    )
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.client("secretsmanager", config=config)
    except BotoCoreError as exc:  # no region, bad profile: one clear line, not a traceback
        raise StoreError(f"Secrets Manager client cannot be created ({type(exc).__name__}: {exc})") from None


def _error(call: str, exc: Exception) -> StoreError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
    text = f"Secrets Manager {call} failed" + (f" ({code})" if code else f" ({type(exc).__name__})")
    return StoreError(text, code=code, retryable=code in _RETRYABLE)


class AwsSecretStore:
    def __init__(self, client: Any | None = None) -> None:
        self.client = client or secretsmanager_client()
        self.calls = 0

    def _call(self, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls += 1
        try:
            return getattr(self.client, name)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _error(name, exc) from None

    def describe(self, secret_id: str) -> SecretDescription:
        out = self._call("describe_secret", SecretId=secret_id)
        versions = {v: tuple(stages) for v, stages in (out.get("VersionIdsToStages") or {}).items()}
        return SecretDescription(
            arn=out["ARN"], name=out["Name"], rotation_enabled=bool(out.get("RotationEnabled")), versions=versions
        )

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        found = self.get_version(secret_id, version_id=version_id, stage=stage)
        return None if found is None else found.value

    def get_version(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> SecretVersion | None:
        kwargs: dict[str, Any] = {"SecretId": secret_id}
        if version_id:
            kwargs["VersionId"] = version_id
        if stage:
            kwargs["VersionStage"] = stage
        try:
            out = self._call("get_secret_value", **kwargs)
        except StoreError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise
        value = out.get("SecretString")
        if not isinstance(value, str):
            return None
        return SecretVersion(version_id=str(out.get("VersionId") or version_id or ""), value=value)

    def put_pending(self, secret_id: str, version_id: str, value: str, *, rotation_token: str | None = None) -> None:
        kwargs: dict[str, Any] = {
            "SecretId": secret_id,
            "ClientRequestToken": version_id,
            "SecretString": value,
            "VersionStages": ["AWSPENDING"],
        }
        if rotation_token:
            kwargs["RotationToken"] = rotation_token
        self._call("put_secret_value", **kwargs)

    def move_stage(self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        kwargs: dict[str, Any] = {"SecretId": secret_id, "VersionStage": stage}
        if to_version:
            kwargs["MoveToVersionId"] = to_version
        if from_version:
            kwargs["RemoveFromVersionId"] = from_version
        self._call("update_secret_version_stage", **kwargs)

    def put_value(self, secret_id: str, value: str) -> None:
        self._call("put_secret_value", SecretId=secret_id, SecretString=value)
