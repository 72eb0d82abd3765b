"""The Secrets Manager store, with boto3. Honours ``AWS_ENDPOINT_URL`` and the region
environment like every AWS SDK, so the same code runs against moto's server."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from rotation.aws_retries import watch
from rotation.stores import SecretDescription, SecretSettings, SecretStore, SecretVersion, StoreError

_XML_CODE = re.compile(r"<Code>([A-Za-z][A-Za-z0-9.]{0,63})</Code>")
_RETRYABLE = {"ThrottlingException", "InternalServiceError", "ServiceUnavailable", "RequestTimeout"}


def secretsmanager_client(*, timeout: float | None = None, pool: int | None = None) -> Any:
    """A boto3 Secrets Manager client with bounded timeouts and standard retries.
    ``pool``: connections to keep, for callers using the (thread-safe) client from many threads."""
    import boto3
    from botocore.config import Config

    seconds = timeout if timeout is not None else float(os.environ.get("VGS_AWS_TIMEOUT_SECONDS", "5"))
    # AWS_MAX_ATTEMPTS is the SDKs' standard knob; botocore lets an explicit Config win over
    # it, so it is read here (the CLI's tests use it to make unreachable endpoints answer fast).
    # AWS_MAX_ATTEMPTS counts every attempt, the first included (botocore's total_max_attempts).
    attempts = max(1, int(os.environ.get("AWS_MAX_ATTEMPTS") or 5))
    config = Config(
        connect_timeout=seconds,
        read_timeout=seconds,
        retries={"total_max_attempts": attempts, "mode": "standard"},
        max_pool_connections=max(10, pool or 0),
    )
    from botocore.exceptions import BotoCoreError

    # boto3 reads AWS_DEFAULT_REGION only; AWS_REGION is what Lambda and the other SDKs set.
    region = None if os.environ.get("AWS_DEFAULT_REGION") else os.environ.get("AWS_REGION") or None
    try:
        client = boto3.client("secretsmanager", config=config, region_name=region)
        watch(client, attempts)  # each retry: one record on rotation.aws (the CLI shows it)
        return client
    except BotoCoreError as exc:  # no region, bad profile: one clear line, not a traceback
        raise StoreError(
            f"Secrets Manager client cannot be created ({type(exc).__name__}: {exc})",
            code=type(exc).__name__,
            service="secretsmanager",
        ) from None


def _error(call: str, exc: Exception, resource: str | None = None) -> StoreError:
    """A :class:`StoreError` from a botocore error: the AWS error code (or, when AWS did not
    answer, botocore's exception name), the call and the secret id; never AWS's message."""
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    code = error.get("Code")
    if isinstance(code, str) and code.isdigit():
        # botocore could not parse the body (an XML error to a JSON API, from a proxy or an
        # emulator) and fell back to the HTTP status: take the error code from the body.
        found = _XML_CODE.search(str(error.get("Message") or ""))
        code = found.group(1) if found else code
    text = f"Secrets Manager {call} failed" + (f" ({code})" if code else f" ({type(exc).__name__})")
    endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") if not code else None
    return StoreError(
        text,
        code=code or type(exc).__name__,
        retryable=code in _RETRYABLE,
        service="secretsmanager",
        operation=call,
        resource=resource,
        endpoint=endpoint if isinstance(endpoint, str) else None,
    )


class AwsSecretStore(SecretStore):
    def __init__(self, client: Any | None = None) -> None:
        self.client = client or secretsmanager_client()
        self.calls = 0

    def _call(self, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls += 1
        try:
            return getattr(self.client, name)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _error(name, exc, kwargs.get("SecretId")) from None

    def describe(self, secret_id: str) -> SecretDescription:
        out = self._call("describe_secret", SecretId=secret_id)
        versions = {v: tuple(stages) for v, stages in (out.get("VersionIdsToStages") or {}).items()}
        return SecretDescription(
            arn=out["ARN"], name=out["Name"], rotation_enabled=bool(out.get("RotationEnabled")), versions=versions,
            rotation_function=out.get("RotationLambdaARN") or None,
        )  # fmt: skip

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

    # -- SecretAdmin: creating and configuring secrets (vgs-rotate adopt) -------------------

    def settings(self, secret_id: str) -> SecretSettings | None:
        try:
            out = self._call("describe_secret", SecretId=secret_id)
        except StoreError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise
        rules = out.get("RotationRules") or {}
        return SecretSettings(
            arn=out["ARN"],
            name=out["Name"],
            rotation_enabled=bool(out.get("RotationEnabled")),
            versions={v: tuple(stages) for v, stages in (out.get("VersionIdsToStages") or {}).items()},
            kms_key_id=out.get("KmsKeyId") or None,
            tags={str(t.get("Key")): str(t.get("Value", "")) for t in out.get("Tags") or []},
            rotation_lambda_arn=out.get("RotationLambdaARN") or None,
            schedule_expression=rules.get("ScheduleExpression") or None,
            scheduled_for_deletion=out.get("DeletedDate") is not None,
        )

    def create_secret(
        self, name: str, value: str | None, *, kms_key_id: str | None, tags: Mapping[str, str], description: str
    ) -> str:
        kwargs: dict[str, Any] = {
            "Name": name,
            "Description": description,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        if value is not None:
            kwargs["SecretString"] = value
        if kms_key_id:
            kwargs["KmsKeyId"] = kms_key_id
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls += 1
        try:  # not through _call: CreateSecret names the secret with Name, not SecretId
            out = self.client.create_secret(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _error("create_secret", exc, name) from None
        return str(out["ARN"])

    def tag_secret(self, secret_id: str, tags: Mapping[str, str]) -> None:
        self._call("tag_resource", SecretId=secret_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def configure_rotation(
        self, secret_id: str, *, function_arn: str, schedule_expression: str, rotate_immediately: bool
    ) -> str | None:
        out = self._call(
            "rotate_secret",
            SecretId=secret_id,
            RotationLambdaARN=function_arn,
            RotationRules={"ScheduleExpression": schedule_expression},
            RotateImmediately=rotate_immediately,
        )
        version = out.get("VersionId")
        return str(version) if version else None
