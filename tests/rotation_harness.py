"""Drive rotations against moto's server and the emulator as Secrets Manager does.

moto cannot invoke a rotation Lambda without Docker, so ``start_rotation`` performs
RotateSecret's own first act in moto's backend (a new version labelled AWSPENDING, no
value), exactly as moto's ``rotate_secret`` does before it would invoke the function;
the steps are then called in order, like the service calls the Lambda.

``start_rotation`` applies AWS's documented refusal, which moto gets backwards: while
AWSPENDING sits on a version other than AWSCURRENT, RotateSecret fails with
InvalidRequestException (a previous rotation is assumed in progress); moto's
``rotate_secret`` instead refuses when AWSPENDING is *on* AWSCURRENT (AWS's completed state).

moto lets a ``PutSecretValue`` overwrite the value of a version that carries AWSPENDING
with another value under the same ``ClientRequestToken``; AWS refuses it
(ResourceExistsException: a version's value never changes). ``_aws_put_rule`` patches
moto's in-process backend to refuse it too.

moto ignores ``PutSecretValue``'s ``RotationToken``; the test client records the
parameters of every PutSecretValue it sends (``PUT_LOG``, a botocore ``before-parameter-build`` hook)
so the schedules can check what the product passed, without touching product code.
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from rotation.aws_store import AwsSecretStore
from rotation.core import STEPS, Rotation
from rotation.document import parse_document
from rotation.issuers import SECRET_ANNOTATION, default_issuer_factory, secret_tag
from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, RetryPolicy, Secret, TokenClient, VGSHttp
from tests.helpers import VirtualClock

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Crash(BaseException):
    """The process died: a BaseException, so no ``except Exception`` in the code under test sees it."""


class CallBudget:
    """Counts external calls (AWS and VGS) and crashes right after call number ``crash_after``."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.crash_after = crash_after
        self.calls = 0
        self.log: list[str] = []

    def tick(self, what: str) -> None:
        self.calls += 1
        self.log.append(what)
        if self.crash_after is not None and self.calls == self.crash_after:
            self.crash_after = None
            raise Crash(f"crash after call {self.calls}: {what}")


class CountingStore(AwsSecretStore):
    def __init__(self, budget: CallBudget) -> None:
        super().__init__(client=sm())
        self.budget = budget

    def _call(self, name: str, **kwargs: Any) -> Any:
        try:
            return super()._call(name, **kwargs)
        finally:
            self.budget.tick(f"aws:{name}")


def counting_http(budget: CallBudget, clock: VirtualClock) -> Callable[[], VGSHttp]:
    class CountingHttp(VGSHttp):
        def _send_once(self, operation: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return super()._send_once(operation, *args, **kwargs)
            finally:
                budget.tick(f"vgs:{operation}")

    return lambda: CountingHttp(timeout=5.0, retry=RetryPolicy(sleep=clock.sleep, clock=clock))


@functools.cache
def _aws_put_rule() -> None:
    """PutSecretValue with an existing ClientRequestToken and another value: refused, even
    when the version carries AWSPENDING (moto overwrites it; AWS does not)."""
    from moto.secretsmanager.exceptions import ResourceExistsException
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend._check_with_existing_secrets_and_versions

    def check(self: Any, secret_name: str, client_request_token: str | None, secret_string: str | None,
              secret_binary: str | None, on_create: bool = False) -> Any:  # fmt: skip
        secret = self.secrets[secret_name] if client_request_token and secret_name in self.secrets else None
        version = secret.versions.get(client_request_token) if secret is not None else None
        stored = version.get("secret_string") if version else None
        if stored is not None and stored != secret_string:
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {client_request_token} because that value is already in use "
                "for a version of the secret."
            )
        return original(self, secret_name, client_request_token, secret_string, secret_binary, on_create)

    SecretsManagerBackend._check_with_existing_secrets_and_versions = check  # type: ignore[method-assign]


def backend() -> Any:
    from moto.backends import get_backend

    _aws_put_rule()
    return get_backend("secretsmanager")[ACCOUNT][REGION]


# (SecretId, ClientRequestToken, RotationToken) of every PutSecretValue the test client sent
PUT_LOG: list[tuple[str, str | None, str | None]] = []


def _record_put(params: dict[str, Any], **_: Any) -> None:
    PUT_LOG.append((str(params.get("SecretId")), params.get("ClientRequestToken"), params.get("RotationToken")))


@functools.cache
def _client(endpoint: str | None) -> Any:
    client = boto3.client("secretsmanager", region_name=REGION)
    client.meta.events.register("before-parameter-build.secrets-manager.PutSecretValue", _record_put)
    return client


class RotationInProgress(Exception):
    """RotateSecret refused: AWSPENDING is on a version other than AWSCURRENT (AWS's
    InvalidRequestException, "A previous rotation isn't complete")."""

    code = "InvalidRequestException"


def sm() -> Any:
    """A Secrets Manager client for the current moto server (cached: building one is slow)."""
    _aws_put_rule()
    return _client(os.environ.get("AWS_ENDPOINT_URL"))


def enable_rotation(arn: str) -> None:
    """moto ignores ScheduleExpression and reports rotation disabled; set what AWS would."""
    secret = backend().secrets[arn]
    secret.rotation_requested = True  # what RotateSecret with a function and rules records
    secret.rotation_enabled = True
    secret.rotation_lambda_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vgs-rotation"
    secret.auto_rotate_after_days = 1


def start_rotation(secret_id: str, token: str | None = None, *, force: bool = False) -> str:
    """RotateSecret's first act: a new version labelled AWSPENDING with no value yet.
    Raises :class:`RotationInProgress` while AWSPENDING is on a version other than AWSCURRENT.
    ``force``: AWSPENDING moved by a direct API call instead (UpdateSecretVersionStage or
    PutSecretValue with VersionStages=["AWSPENDING"], which AWS allows at any time)."""
    secret = backend().secrets[sm().describe_secret(SecretId=secret_id)["ARN"]]
    token = token or str(uuid.uuid4())
    for vid, version in secret.versions.items():
        if force:
            break
        stages = version.get("version_stages", [])
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            if vid == token:
                return token
            raise RotationInProgress(f"a previous rotation of {secret.name} isn't complete")
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {"createdate": int(time.time()), "version_id": token, "version_stages": ["AWSPENDING"]}
    return token


@dataclass
class World:
    emulator: Any
    secret_arn: str
    manager_arn: str
    initial_client_id: str
    clock: VirtualClock
    budget: CallBudget
    kind: str = "service-account"
    baseline: set[str] = field(default_factory=set)  # live at VGS before the world was made

    def rotation(self, **kw: Any) -> Rotation:
        return Rotation(
            CountingStore(self.budget),
            default_issuer_factory(http_factory=counting_http(self.budget, self.clock)),
            clock=self.clock,
            sleep=self.clock.sleep,
            **kw,
        )

    def run(self, token: str, steps: tuple[str, ...] = STEPS, rotation: Rotation | None = None) -> None:
        rot = rotation or self.rotation()
        for step in steps:
            rot.handle({"Step": step, "SecretId": self.secret_arn, "ClientRequestToken": token})

    def rotate(self) -> str:
        token = start_rotation(self.secret_arn)
        self.run(token)
        return token

    def document(self, stage: str = "AWSCURRENT") -> Any:
        raw = sm().get_secret_value(SecretId=self.secret_arn, VersionStage=stage)["SecretString"]
        return parse_document(raw)

    def stages(self) -> dict[str, list[str]]:
        return {v: s for v, s in sm().describe_secret(SecretId=self.secret_arn)["VersionIdsToStages"].items() if s}

    def tagged_at_vgs(self) -> set[str]:
        tag = secret_tag(self.secret_arn)
        if self.kind == "service-account":
            return {
                a["client_id"]
                for a in self.emulator.service_accounts()
                if a["annotations"].get(SECRET_ANNOTATION) == tag
            }
        return {c["id"] for c in self.emulator.access_credentials() if c["annotations"].get(SECRET_ANNOTATION) == tag}

    def live_for_secret(self) -> set[str]:
        """Credentials at VGS that belong to this secret, without reading annotations: every
        live credential of its kind that did not exist before the world was made (the
        manager and anything older excluded), so an untagged leftover counts too."""
        return present_at_vgs(self.emulator, self.kind) - self.baseline


def present_at_vgs(emulator: Any, kind: str) -> set[str]:
    """VGS's own list (the emulator's admin view) of one kind of credential."""
    if kind == "service-account":
        return {a["client_id"] for a in emulator.service_accounts()}
    return {c["id"] for c in emulator.access_credentials()}


def register_lambda() -> str:
    """A function moto knows, so that RotateSecret naming it is accepted (moto cannot run it)."""
    import io
    import zipfile

    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"rotation-{time.time_ns()}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def handler(event, context):\n    pass\n")
    return str(
        boto3.client("lambda").create_function(
            FunctionName=f"vgs-rotation-{time.time_ns()}", Runtime="python3.12", Role=role, Handler="h.handler",
            Code={"ZipFile": buf.getvalue()},
        )["FunctionArn"]
    )  # fmt: skip


def manager_stack(emulator: Any) -> tuple[AccountsClient, Any]:
    boot = emulator.bootstrap
    http = VGSHttp(timeout=5.0)
    tokens = TokenClient(boot["token_url"], http=http)
    auth = CachedTokenAuth(tokens, ClientCredentials(boot["client_id"], Secret(boot["client_secret"])))
    return AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http), auth


def make_world(
    emulator: Any,
    *,
    kind: str = "service-account",
    revoke: str = "next-rotation",
    scopes: tuple[str, ...] = ("cards:read", "cards:write"),
    enabled: bool = True,
    crash_after: int | None = None,
) -> World:
    boot = emulator.bootstrap
    baseline = present_at_vgs(emulator, kind)
    client = sm()
    manager_arn = client.create_secret(
        Name=f"vgs/manager-{uuid.uuid4().hex[:6]}",
        SecretString=json.dumps({"client_id": boot["client_id"], "client_secret": boot["client_secret"]}),
    )["ARN"]
    hosts = {
        k: boot[k]
        for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url", "jwks_url")
    }
    accounts, auth = manager_stack(emulator)
    if kind == "service-account":
        initial = accounts.create(
            name="cmp-app", scopes=list(scopes), vaults=[boot["vault_id"]], access_token_lifespan=1200
        )
        doc: dict[str, Any] = {
            "kind": kind, "client_id": initial.client_id, "client_secret": initial.client_secret.reveal(),
            "organization_id": boot["organization_id"], "vault_ids": [boot["vault_id"]], "scopes": list(scopes),
            "token_lifespan": 1200, "name": "cmp-app",
        }  # fmt: skip
        initial_id = initial.client_id
    else:
        from rotation.vgs import VaultCredentialsClient

        vault = VaultCredentialsClient(boot["vault_management_url"], boot["vault_id"], auth=auth, http=accounts.http)
        cred = vault.create()
        doc = {
            "kind": kind, "credential_id": cred.id, "username": cred.username, "password": cred.password.reveal(),
            "vault_ids": [boot["vault_id"]],
        }  # fmt: skip
        initial_id = cred.id
    doc.update({"manager_secret_arn": manager_arn, "hosts": hosts, "revoke": revoke})
    secret_arn = client.create_secret(Name=f"vgs/app-{uuid.uuid4().hex[:6]}", SecretString=json.dumps(doc))["ARN"]
    if enabled:
        enable_rotation(secret_arn)
    return World(emulator, secret_arn, manager_arn, initial_id, VirtualClock(), CallBudget(crash_after), kind, baseline)
