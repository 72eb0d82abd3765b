"""The Lambda artifact, built by infra/aws/build_lambda.py, rotates a secret.

The handler is imported FROM THE ARTIFACT in a separate interpreter started with ``-I -S``
(no site-packages, no PYTHONPATH): only the standard library and the artifact directory
are importable, as in Lambda, so a dependency missing from the zip fails here. That
process plays the Lambda runtime (a warm container: one import, then one invocation per
line on stdin); this process plays Secrets Manager: it starts each rotation in moto's
server (a new, empty AWSPENDING version, as RotateSecret does) and invokes the four steps in
order with the token. VGS is the emulator.

The rotated secret starts as the template's seed document (the example secret of
template.yaml), so this also proves that the seed rotates into a working credential.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.aws.build_lambda import BuildError, build
from infra.aws.cfn import Renderer, load_template, publisher_input
from tests.deploy_support import end_by_stdin
from tests.helpers import assert_completed, assert_no_secret
from tests.rotation_harness import backend, start_rotation

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
ROTATION_TOKEN = "rotation-token-" + "r" * 40
_OFFLINE_HINTS = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
    "Could not find a version that satisfies",
    "ProxyError",
)

RUNTIME = r"""
import importlib, json, os, sys, time
artifact = sys.argv[1]
sys.path.insert(0, artifact)
proto = os.fdopen(os.dup(1), "w", buffering=1)   # replies go here; the handler's stdout goes to stderr
os.dup2(2, 1)
sys.stdout = sys.stderr
started = time.monotonic()
try:
    module = importlib.import_module(os.environ["HANDLER_MODULE"])
except BaseException as exc:
    proto.write(json.dumps({"ready": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}) + "\n")
    raise SystemExit(1)
names = ("rotation", "boto3", "botocore", "httpx", "aws_lambda_powertools", "cryptography", "jwt", "tenacity")
origins = {n: getattr(sys.modules.get(n), "__file__", None) for n in names if n in sys.modules}
hello = {"ready": True, "origins": origins, "path": sys.path, "import_seconds": time.monotonic() - started}
proto.write(json.dumps(hello) + "\n")
timeout_ms = int(os.environ["FUNCTION_TIMEOUT_SECONDS"]) * 1000

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    invoked_function_arn = os.environ["FUNCTION_ARN"]
    def __init__(self, n):
        self.aws_request_id = "req-%d" % n
        self._start = time.monotonic()
    def get_remaining_time_in_millis(self):
        return int(timeout_ms - (time.monotonic() - self._start) * 1000)

for n, line in enumerate(sys.stdin):
    event = json.loads(line)
    try:
        result = module.handler(event, Context(n))
        proto.write(json.dumps({"ok": True, "result": result}) + "\n")
    except Exception as exc:
        proto.write(json.dumps({"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)}) + "\n")
"""


# ------------------------------------------------------------------------------- the artifact


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lambda-build")
    try:
        zip_path = build(out, platform="host")
    except BuildError as exc:
        if any(hint in exc.output for hint in _OFFLINE_HINTS):
            pytest.skip(f"pip cannot reach a package index to build the artifact: {exc}")
        raise AssertionError(f"{exc}\n{exc.output[-3000:]}") from None
    # Lambda runs what is in the zip: unpack it rather than trusting the staging directory.
    unpacked = out / "unpacked"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(unpacked)
    return unpacked


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


class LambdaRuntime:
    """One warm "container" of a function, running the artifact's handler."""

    def __init__(self, artifact: Path, template: dict[str, Any], logical_id: str, env: dict[str, str]) -> None:
        r = Renderer(template)
        props = template["Resources"][logical_id]["Properties"]
        module, _, _ = props["Handler"].rpartition(".")
        function_env = {k: str(r.render(v)) for k, v in props["Environment"]["Variables"].items()}
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            **function_env,
            "HANDLER_MODULE": module,
            "AWS_LAMBDA_FUNCTION_NAME": r.render(props["FunctionName"]),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props["MemorySize"]),
            "FUNCTION_TIMEOUT_SECONDS": str(props["Timeout"]),
            "FUNCTION_ARN": r.get_att(logical_id, "Arn"),
            "LAMBDA_TASK_ROOT": str(artifact),
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", RUNTIME, str(artifact)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            cwd=str(artifact),
        )
        assert self.proc.stdout is not None
        hello = self.proc.stdout.readline()
        if not hello:
            raise AssertionError(f"the runtime died while importing {module}:\n{self.logs()}")
        self.hello = json.loads(hello)
        if not self.hello["ready"]:
            raise AssertionError(f"cannot import {module} from the artifact: {self.hello}\n{self.logs()}")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(event) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the runtime died:\n{self.logs()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def logs(self) -> str:
        self.close()
        assert self.proc.stderr is not None
        if not hasattr(self, "_logs"):
            self._logs = self.proc.stderr.read()
        return self._logs

    def close(self) -> None:
        end_by_stdin(self.proc)


def _aws_env(moto_url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.fixture
def runtime(artifact: Path, template: dict[str, Any]) -> Iterator[Any]:
    started: list[LambdaRuntime] = []

    def start(logical_id: str, env: dict[str, str]) -> LambdaRuntime:
        rt = LambdaRuntime(artifact, template, logical_id, env)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        rt.close()


def test_artifact_contents(artifact: Path) -> None:
    manifest = json.loads((artifact.parent / "lambda.manifest.json").read_text())
    for dist in ("vgs_rotation", "httpx", "aws_lambda_powertools", "boto3", "botocore", "aws_xray_sdk"):
        assert dist in manifest["distributions"], dist
    assert (artifact / "rotation" / "lambda_rotation.py").exists()
    assert not (artifact / "bin").exists()
    assert not list(artifact.rglob("__pycache__"))


def test_lambda_build_matches_the_template_runtime(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The default build (what ``sam deploy`` uploads) holds native code for the template's
    python3.12 on arm64 only: every shared object is an AArch64 ELF, and the versioned
    ones are built for CPython 3.12."""
    template = load_template()
    for fn in ("RotationFunction", "PublisherFunction"):
        props = template["Resources"][fn]["Properties"]
        assert (props["Runtime"], props["Architectures"]) == ("python3.12", ["arm64"])
    out = tmp_path_factory.mktemp("lambda-platform-build")
    try:
        zip_path = build(out, platform="lambda", python_version="3.12")
    except BuildError as exc:
        if any(hint in exc.output for hint in _OFFLINE_HINTS):
            pytest.skip(f"pip cannot reach a package index to build the artifact: {exc}")
        raise AssertionError(f"{exc}\n{exc.output[-3000:]}") from None
    em_aarch64 = 183
    shared = 0
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            if not name.endswith(".so") and ".so." not in name:
                continue
            shared += 1
            header = zf.read(name)[:20]
            assert header[:4] == b"\x7fELF", name
            assert int.from_bytes(header[18:20], "little") == em_aarch64, f"{name} is not AArch64"
            if ".cpython-" in name:
                assert ".cpython-312-aarch64-linux-gnu." in name, name
    assert shared > 0, "cryptography and cffi ship native code: none found"


# ------------------------------------------------------------------------------- rotation


def _sm() -> Any:
    return boto3.client("secretsmanager")


def _enable_rotation(secret_arn: str, function_arn: str) -> None:
    """What the template's RotationSchedule does. moto ignores schedules, and reports
    RotationEnabled only once a rotation was requested, so set both in its backend."""
    secret = backend().secrets[secret_arn]
    secret.rotation_requested = True
    secret.rotation_enabled = True
    secret.rotation_lambda_arn = function_arn


def _start_rotation(secret_arn: str) -> str:
    """What RotateSecret does before it invokes the function: a new version labelled
    AWSPENDING with no value. moto's own rotate_secret cannot stand in (without a function
    it moves AWSCURRENT onto that empty version), so the harness does it in moto's backend,
    which this process shares with the server it runs."""
    return start_rotation(secret_arn)


def _rotate(rt: LambdaRuntime, secret_arn: str) -> str:
    token = _start_rotation(secret_arn)
    for step in STEPS:
        event = {"Step": step, "SecretId": secret_arn, "ClientRequestToken": token, "RotationToken": ROTATION_TOKEN}
        reply = rt.invoke(event)
        assert reply["ok"], f"{step} failed in the artifact: {reply}\n{rt.logs()}"
    return token


def _document(secret_arn: str, stage: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_sm().get_secret_value(SecretId=secret_arn, VersionStage=stage)["SecretString"])
    return doc


def _stages(secret_arn: str) -> dict[str, list[str]]:
    versions = _sm().describe_secret(SecretId=secret_arn)["VersionIdsToStages"]
    return {v: s for v, s in versions.items() if s}


def test_artifact_refuses_bad_events_before_touching_anything(runtime: Any, moto_url: str) -> None:
    """Needs no VGS: the artifact's boto3 talks to moto, and the guards hold."""
    rt = runtime("RotationFunction", _aws_env(moto_url))
    assert not [p for p in rt.hello["path"] if "site-packages" in p], "only the stdlib and the artifact"
    assert "rotation" in rt.hello["origins"]
    for name, origin in rt.hello["origins"].items():
        assert origin and origin.startswith(str(rt.proc.args[-1])), f"{name} imported from {origin}, not the artifact"
    arn = _sm().create_secret(Name="vgs/dev/rotated/guarded", SecretString="{}")["ARN"]
    reply = rt.invoke({"Step": "dropTables", "SecretId": arn, "ClientRequestToken": str(uuid.uuid4())})
    assert not reply["ok"] and reply["errorType"] == "EventError"
    reply = rt.invoke({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": str(uuid.uuid4())})
    assert not reply["ok"] and "not enabled" in reply["errorMessage"]
    versions = _sm().list_secret_version_ids(SecretId=arn)["Versions"]
    assert len(versions) == 1, "a refused event writes nothing"


def test_artifact_imports_the_tracer_when_tracing_is_on(runtime: Any, moto_url: str) -> None:
    """EnableTracing=true sets VGS_TRACING: Powertools' Tracer and the X-Ray SDK must import
    from the artifact (Sampled=0: nothing is sent)."""
    env = {
        **_aws_env(moto_url),
        "VGS_TRACING": "true",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    rt = runtime("RotationFunction", env)
    reply = rt.invoke({"Step": "dropTables", "SecretId": "x", "ClientRequestToken": "y"})
    assert not reply["ok"] and reply["errorType"] == "EventError", reply


@pytest.fixture
def emulator_vgs() -> Iterator[Any]:
    emulator_mod = pytest.importorskip("rotation.emulator", reason="the VGS emulator (rotation.emulator) is not here")
    with emulator_mod.Emulator(port=0) as emulator:
        yield emulator


def _example_stack(emulator: Any, template: dict[str, Any]) -> tuple[Renderer, dict[str, Any], str]:
    """What the stack and the operator set up: the manager secret (stored by the bootstrap
    script), and the example secret holding the template's seed document, hosts pointed at
    the emulator, rotation enabled. Returns (renderer, seed, secret ARN)."""
    from infra.aws.bootstrap_manager import manager_document, store

    boot = emulator.bootstrap
    manager = store(
        "vgs/dev/manager",
        manager_document(boot["client_id"], boot["client_secret"], boot["organization_id"]),
        create=True,
    )
    r = Renderer(
        template,
        {
            "CreateExampleSecret": "true",
            "VgsOrganizationId": boot["organization_id"],
            "VgsVaultId": boot["vault_id"],
            "VgsTokenUrl": boot["token_url"],
            "VgsAccountsUrl": boot["accounts_url"],
            "VgsVaultManagementUrl": boot["vault_management_url"],
            "VgsCmpUrl": boot["cmp_url"],
        },
    )
    props = template["Resources"]["ExampleSecret"]["Properties"]
    seed = json.loads(r.render(props["SecretString"]))
    seed["manager_secret_arn"] = manager.arn
    secret_arn = _sm().create_secret(Name=r.render(props["Name"]), SecretString=json.dumps(seed))["ARN"]
    _enable_rotation(secret_arn, r.get_att("RotationFunction", "Arn"))
    return r, seed, secret_arn


def test_artifact_rotates_the_template_seed_secret_twice(
    runtime: Any, moto_url: str, template: dict[str, Any], emulator_vgs: Any
) -> None:
    from rotation.document import parse_document
    from rotation.vgs import ClientCredentials, Secret, TokenClient, VGSHttp

    emulator = emulator_vgs
    boot = emulator.bootstrap
    _, seed, secret_arn = _example_stack(emulator, template)
    rt = runtime("RotationFunction", _aws_env(moto_url))
    first_token = _rotate(rt, secret_arn)
    first = parse_document(json.dumps(_document(secret_arn, "AWSCURRENT")))
    assert first.client_id != seed["client_id"]
    assert first.rotation is not None and first.rotation.version_id == first_token
    assert_completed(_stages(secret_arn), first_token)

    second_token = _rotate(rt, secret_arn)
    stages = _stages(secret_arn)
    assert_completed(stages, second_token)
    assert stages[first_token] == ["AWSPREVIOUS"]
    second = parse_document(json.dumps(_document(secret_arn, "AWSCURRENT")))
    previous = parse_document(json.dumps(_document(secret_arn, "AWSPREVIOUS")))
    assert previous.client_id == first.client_id != second.client_id

    # Both the current and the previous credential mint (revoke=next-rotation keeps the
    # one consumers may still hold); no third account is left at VGS.
    with VGSHttp(timeout=5.0) as http:
        tokens = TokenClient(boot["token_url"], http=http)
        for doc in (second, previous):
            assert doc.client_id is not None and doc.client_secret is not None
            minted = tokens.mint(ClientCredentials(doc.client_id, Secret(doc.client_secret.reveal())))
            assert minted.client_id == doc.client_id
    live = {a["client_id"] for a in emulator.service_accounts()}
    assert {first.client_id, second.client_id} <= live
    assert seed["client_id"] not in live
    created = live - {boot["client_id"]}
    assert created == {first.client_id, second.client_id}, "an orphan account was left at VGS"

    logs = rt.logs()
    assert_no_secret(
        logs,
        ROTATION_TOKEN,
        boot["client_secret"],
        *first.secret_values(),
        *second.secret_values(),
    )
    metrics = [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"_aws"' in line]
    outcomes = [(m.get("step"), m.get("outcome")) for m in metrics if "StepInvocations" in m]
    assert outcomes == [(s, "success") for s in STEPS] * 2


def test_artifact_publishes_tokens_with_the_current_credential(
    artifact: Path, runtime: Any, moto_url: str, template: dict[str, Any], emulator_vgs: Any
) -> None:
    """The publisher from the artifact, with the schedule's Input from template.yaml: it
    publishes a token of AWSCURRENT, skips while that token is fresh, and after a rotation
    publishes one of the new credential."""
    if not (artifact / "rotation" / "lambda_publisher.py").exists():
        pytest.skip("the publisher handler (rotation.lambda_publisher) is not on this branch yet")
    r, _, secret_arn = _example_stack(emulator_vgs, template)
    token_name = r.render(template["Resources"]["ExampleTokenSecret"]["Properties"]["Name"])
    token_arn = _sm().create_secret(Name=token_name)["ARN"]  # as the stack creates it: empty
    config = publisher_input(r)
    (target,) = config["targets"]
    target.update(credential_secret_id=secret_arn, token_secret_id=token_arn)  # the real ARNs

    rotator = runtime("RotationFunction", _aws_env(moto_url))
    publisher = runtime("PublisherFunction", _aws_env(moto_url))
    _rotate(rotator, secret_arn)
    current = _document(secret_arn, "AWSCURRENT")

    def publish() -> dict[str, Any]:
        reply = publisher.invoke(config)
        assert reply["ok"], f"the publisher failed: {reply}\n{publisher.logs()}"
        return _document(token_arn, "AWSCURRENT")

    published = publish()
    assert published["client_id"] == current["client_id"]
    assert {"access_token", "token_type", "expires_at", "issued_at"} <= set(published)
    versions = len(_sm().list_secret_version_ids(SecretId=token_arn)["Versions"])
    assert publish() == published, "a fresh token is not written again"
    assert len(_sm().list_secret_version_ids(SecretId=token_arn)["Versions"]) == versions

    _rotate(rotator, secret_arn)
    rotated = _document(secret_arn, "AWSCURRENT")
    assert publish()["client_id"] == rotated["client_id"] != current["client_id"]

    logs = publisher.logs()
    assert_no_secret(logs, published["access_token"], current["client_secret"], rotated["client_secret"])
