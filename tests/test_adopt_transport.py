"""``vgs-rotate adopt`` over the transports every command shares (run as a process, as a user
runs it): VGS calls tried ``VGS_MAX_ATTEMPTS`` times, the proof's included, each retry one
progress line; Secrets Manager retries of adopt's own writes (CreateSecret, TagResource,
PutSecretValue, RotateSecret) one progress line each; a write that fails after the first
one says what was done, and the same command finishes it.

The outside world decides: moto's own view of the secrets, the emulator's of the accounts.
Throttling comes from a loopback proxy in front of moto (:mod:`tests.aws_proxy`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from typing import Any

import pytest

from rotation.onboarding.request import HOST_KEYS
from tests.aws_proxy import ALWAYS, FlakyAws
from tests.helpers import assert_no_secret
from tests.rotation_harness import manager_stack, register_lambda, sm

PROGRESS = re.compile(r"^vgs-rotate: (.+); attempt (\d+) of (\d+) failed, retrying in \d+\.\d s$")


def _setting(emulator: Any) -> dict[str, Any]:
    """A hand-made account and a manager secret, as a team has them before adopting."""
    boot = emulator.bootstrap
    accounts, _ = manager_stack(emulator)
    made = accounts.create(name="payments", scopes=["cards:read"], vaults=[boot["vault_id"]])
    manager = {"client_id": boot["client_id"], "client_secret": boot["client_secret"]}
    manager["organization_id"] = boot["organization_id"]
    arn = sm().create_secret(Name=f"vgs/manager-{uuid.uuid4().hex[:6]}", SecretString=json.dumps(manager))["ARN"]
    hosts = [arg for key in HOST_KEYS for arg in ("--host", f"{key}={boot[key]}")]
    return {"made": made, "args": ["--client-id", made.client_id, "--manager-secret-arn", arn, *hosts]}


def adopt(secret: str, setting: dict[str, Any], *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", "adopt", secret, *setting["args"], "--secret-stdin", *extra],
        input=setting["made"].client_secret.reveal(),
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def progress_of(stderr: str) -> list[tuple[str, int, int]]:
    """(what failed, attempt, of) for each progress line; fails on any other line."""
    out = []
    for line in stderr.splitlines():
        match = PROGRESS.match(line)
        assert match, f"not a progress line: {line}"
        out.append((match.group(1), int(match.group(2)), int(match.group(3))))
    return out


def names_at_aws() -> set[str]:
    return {s["Name"] for s in sm().list_secrets(IncludePlannedDeletion=True)["SecretList"]}


# --------------------------------------------------------------------------- VGS


def test_vgs_retries_show_progress_and_adopt_completes(emulator, moto_url):
    setting = _setting(emulator)
    emulator.faults.inject("accounts.list", status=503, count=3)
    proc = adopt("vgs/rotated/app", setting, env={"VGS_MAX_ATTEMPTS": "4", "AWS_MAX_ATTEMPTS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert progress_of(proc.stderr) == [("list service accounts: VGS unavailable (HTTP 503)", n, 4) for n in (1, 2, 3)]
    assert "vgs/rotated/app" in names_at_aws()
    assert_no_secret(proc.stdout + proc.stderr, setting["made"].client_secret.reveal(), emulator=emulator)


def test_the_proof_is_bounded_by_vgs_max_attempts(emulator, moto_url):
    """The proof (testSecret's CMP probe) runs over the same transport: two tries, two
    failures, one progress line, one error line, nothing written."""
    setting = _setting(emulator)
    emulator.faults.inject("cmp.card", status=503, count=2)
    before = names_at_aws()
    proc = adopt("vgs/rotated/app", setting, env={"VGS_MAX_ATTEMPTS": "2", "AWS_MAX_ATTEMPTS": "1"})
    assert proc.returncode == 4, proc.stderr
    *progress, last = proc.stderr.splitlines()
    assert progress_of("\n".join(progress)) == [("CMP probe: VGS unavailable (HTTP 503)", 1, 2)]
    assert last.startswith("vgs-rotate: error: VGS unavailable") and "Traceback" not in proc.stderr
    assert names_at_aws() == before


# --------------------------------------------------------------------------- Secrets Manager


def _plain_secret(setting: dict[str, Any]) -> str:
    """A secret consumers already read: adopt writes a new version and tags it."""
    made = setting["made"]
    value = {"client_id": made.client_id, "client_secret": made.client_secret.reveal()}
    sm().create_secret(Name="apps/payments/vgs", SecretString=json.dumps(value))
    return "apps/payments/vgs"


WRITES = {
    "CreateSecret": lambda setting: ("vgs/rotated/app", []),
    "PutSecretValue": lambda setting: (_plain_secret(setting), []),
    "TagResource": lambda setting: (_plain_secret(setting), []),
    "RotateSecret": lambda setting: (
        "vgs/rotated/app", ["--rotation-function", register_lambda(), "--schedule", "rate(1 day)"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("operation", list(WRITES))
def test_secrets_manager_retries_of_adopts_writes_show_progress(emulator, moto_url, operation):
    setting = _setting(emulator)
    secret, extra = WRITES[operation](setting)
    with FlakyAws(upstream=moto_url).running() as aws:
        aws.throttle(operation, 2)
        proc = adopt(secret, setting, *extra, env={"AWS_ENDPOINT_URL": aws.url, "AWS_MAX_ATTEMPTS": "3"})
    assert proc.returncode == 0, proc.stderr
    assert aws.seen.count(operation) == 3
    what = f"Secrets Manager {operation} failed (ThrottlingException)"
    assert progress_of(proc.stderr) == [(what, 1, 3), (what, 2, 3)]
    desc = sm().describe_secret(SecretId=secret)
    assert {t["Key"]: t["Value"] for t in desc["Tags"]}["vgs-rotation:kind"] == "service-account"
    document = json.loads(sm().get_secret_value(SecretId=secret)["SecretString"])
    assert document["client_id"] == setting["made"].client_id and document["kind"] == "service-account"
    if operation == "RotateSecret":
        assert desc["RotationLambdaARN"] == extra[1]


def test_a_step_after_the_document_fails_and_a_rerun_completes(emulator, moto_url):
    """RotateSecret throttled past the retries: the document is written, the line says what
    was done and what failed; the same command, with Secrets Manager answering again,
    writes only what was missing."""
    setting = _setting(emulator)
    function = register_lambda()
    extra = ["--rotation-function", function, "--schedule", "rate(1 day)"]
    with FlakyAws(upstream=moto_url).running() as aws:
        aws.throttle("RotateSecret", ALWAYS)
        proc = adopt("vgs/rotated/app", setting, *extra, env={"AWS_ENDPOINT_URL": aws.url, "AWS_MAX_ATTEMPTS": "1"})
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"vgs-rotate: error: adoption incomplete: configure rotation: function {function}")
    assert "Secrets Manager is throttling" in line and "nothing written" not in line
    assert "already done: create secret vgs/rotated/app" in line and "run the same command again" in line
    assert json.loads(sm().get_secret_value(SecretId="vgs/rotated/app")["SecretString"])["kind"] == "service-account"
    assert "RotationLambdaARN" not in sm().describe_secret(SecretId="vgs/rotated/app")

    again = adopt("vgs/rotated/app", setting, *extra, env={"AWS_MAX_ATTEMPTS": "1"})
    assert again.returncode == 0, again.stderr
    assert "done: configure rotation" in again.stdout and "done: create secret" not in again.stdout
    assert sm().describe_secret(SecretId="vgs/rotated/app")["RotationLambdaARN"] == function
