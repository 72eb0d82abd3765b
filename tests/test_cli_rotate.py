"""``vgs-rotate rotate`` and ``status`` as users run them, against moto's server and the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import assert_no_secret
from tests.rotation_harness import make_world, sm, start_rotation
from tests.rotation_harness import register_lambda as _register_lambda


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=timeout,
    )


def test_rotate_local_and_status(emulator, moto_url):
    world = make_world(emulator, enabled=False)
    first = world.document()
    proc = cli("rotate", world.secret_arn, "--local")
    assert proc.returncode == 0, proc.stderr
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        assert step in proc.stdout
    current = world.document()
    assert current.credential_ref != first.credential_ref
    status = cli("status", world.secret_arn)
    assert status.returncode == 0, status.stderr
    assert current.credential_ref in status.stdout and first.credential_ref in status.stdout
    assert "AWSCURRENT" in status.stdout and "AWSPREVIOUS" in status.stdout
    assert "STUCK" not in status.stdout
    json_run = cli("status", world.secret_arn, "--json")
    as_json = json.loads(json_run.stdout)
    assert {v["at_vgs"] for v in as_json["versions"]} == {"present"}
    assert as_json["orphans"] == []
    everything = proc.stdout + proc.stderr + status.stdout + status.stderr + json_run.stdout + json_run.stderr
    assert emulator.issued_tokens(), "the rotation minted tokens (the manager's, testSecret's): they are looked for"
    assert_no_secret(
        everything,
        *current.secret_values(),
        *first.secret_values(),
        emulator.bootstrap["client_secret"],
        emulator=emulator,
    )


def test_status_shows_and_repairs_a_stuck_pending(emulator, moto_url):
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    world.run(token, ("createSecret",))  # then the rotation is abandoned
    stuck_account = world.document("AWSPENDING").credential_ref
    status = cli("status", world.secret_arn)
    assert "STUCK" in status.stdout and token in status.stdout
    repaired = cli("status", world.secret_arn, "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert f"deleted credential {stuck_account}" in repaired.stdout
    assert all("AWSPENDING" not in s for s in world.stages().values())
    assert stuck_account not in world.live_for_secret()
    assert "STUCK" not in cli("status", world.secret_arn).stdout


@pytest.mark.parametrize("stage", ["AWSCURRENT", "AWSPREVIOUS"])
def test_repair_keeps_a_credential_that_a_label_still_uses(emulator, moto_url, stage):
    """A stuck AWSPENDING holding a copy of AWSCURRENT's (or AWSPREVIOUS's) document: the
    repair removes the label and deletes nothing, so the credential in use keeps minting."""
    import uuid

    world = make_world(emulator)
    world.rotate()
    used = world.document(stage)
    value = sm().get_secret_value(SecretId=world.secret_arn, VersionStage=stage)["SecretString"]
    stuck = str(uuid.uuid4())
    sm().put_secret_value(
        SecretId=world.secret_arn, ClientRequestToken=stuck, SecretString=value, VersionStages=["AWSPENDING"]
    )
    repaired = cli("status", world.secret_arn, "--repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "deleted credential" not in repaired.stdout
    assert all("AWSPENDING" not in s for s in world.stages().values())
    assert used.credential_ref in world.live_for_secret()


@pytest.fixture
def moto_remembers_the_rotation_function(monkeypatch):
    """AWS keeps a secret's rotation function; moto forgets it when RotateSecret is called
    without RotationLambdaARN (as `vgs-rotate rotate` rightly does) and then relabels
    AWSCURRENT onto an empty version. Make moto behave like AWS here."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.rotate_secret

    def rotate_secret(
        self,
        secret_id,
        client_request_token=None,
        rotation_lambda_arn=None,
        rotation_rules=None,
        rotate_immediately=True,
    ):
        remembered = self.secrets[secret_id].rotation_lambda_arn if secret_id in self.secrets else None
        return original(
            self,
            secret_id,
            client_request_token,
            rotation_lambda_arn or remembered or None,
            rotation_rules,
            rotate_immediately,
        )

    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret", rotate_secret)


def _act_as_lambda(world, stop: threading.Event) -> None:
    """What Secrets Manager does after RotateSecret: call the function once per step."""
    from rotation.lambda_rotation import handler
    from tests.helpers import LambdaContext as Context

    deadline = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < deadline:
        stages = sm().describe_secret(SecretId=world.secret_arn)["VersionIdsToStages"]
        pending = [v for v, s in stages.items() if s == ["AWSPENDING"]]
        if pending:
            for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                handler({"Step": step, "SecretId": world.secret_arn, "ClientRequestToken": pending[0]}, Context())
            return
        stop.wait(0.05)


def _world_with_rotation_function(emulator):
    """A secret whose rotation is configured with a function, as after the SAM deployment."""
    world = make_world(emulator)
    sm().rotate_secret(
        SecretId=world.secret_arn,
        RotationLambdaARN=_register_lambda(),
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    # RotateImmediately=False leaves a temporary AWSPENDING copy: clear it as AWS does after testSecret
    for version, labels in sm().describe_secret(SecretId=world.secret_arn)["VersionIdsToStages"].items():
        if labels == ["AWSPENDING"]:
            sm().update_secret_version_stage(
                SecretId=world.secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=version
            )
    return world


def test_rotate_calls_rotate_secret_and_follows_it(emulator, moto_url, moto_remembers_the_rotation_function):
    world = _world_with_rotation_function(emulator)
    first = world.document()
    stop = threading.Event()
    lam = threading.Thread(target=_act_as_lambda, args=(world, stop))
    lam.start()
    try:
        proc = cli("rotate", world.secret_arn, "--timeout", "60", "--interval", "0.1")
    finally:
        stop.set()
        lam.join()
    assert proc.returncode == 0, proc.stderr
    assert "rotated" in proc.stdout
    assert world.document().credential_ref != first.credential_ref


def test_rotate_reports_a_rotation_that_does_not_finish(emulator, moto_url, moto_remembers_the_rotation_function):
    world = _world_with_rotation_function(emulator)
    proc = cli("rotate", world.secret_arn, "--timeout", "1", "--interval", "0.2")  # nobody acts as the Lambda
    assert proc.returncode == 1
    assert "did not finish" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_rotate_unknown_secret_is_one_line(moto_url):
    proc = cli("rotate", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-123456", "--local")
    assert proc.returncode != 0
    assert "ResourceNotFoundException" in proc.stderr
