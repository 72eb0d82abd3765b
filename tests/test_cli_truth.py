"""Operator truth over real servers (moto's server, the emulator): ``status`` says "unknown"
when it cannot see, ``rotate`` checks before and verifies after, retries show progress,
``cleanup`` deletes only what is still an orphan. The oracle is the outside world: the
emulator's admin view and Secrets Manager's stages, read directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rotation.issuers import SECRET_ANNOTATION, VERSION_ANNOTATION, secret_tag
from tests.helpers import assert_no_secret
from tests.rotation_harness import make_world, manager_stack, sm


def cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "VGS_MAX_ATTEMPTS": "1", "AWS_MAX_ATTEMPTS": "1", **(env or {})},
        input=stdin,
        timeout=120,
    )


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vgs-rotate: error: ") and "Traceback" not in proc.stderr
    return lines[0]


def _orphan(world) -> str:
    """A credential made for the secret and never stored: what a crash between creating it
    at VGS and storing it at AWS leaves."""
    accounts, _ = manager_stack(world.emulator)
    made = accounts.create(
        name="cmp-app-dead",
        scopes=["cards:read"],
        vaults=[world.emulator.bootstrap["vault_id"]],
        annotations={SECRET_ANNOTATION: secret_tag(world.secret_arn), VERSION_ANNOTATION: "crashed-token"},
    )
    return made.client_id


def _at_vgs(emulator) -> set[str]:
    return {a["client_id"] for a in emulator.service_accounts()}


def _stages(arn: str) -> dict[str, list[str]]:
    return sm().describe_secret(SecretId=arn)["VersionIdsToStages"]


# -- status ---------------------------------------------------------------------------------------


def test_status_that_cannot_see_vgs_says_unknown(emulator, moto_url):
    world = make_world(emulator)
    emulator.faults.inject("accounts.list", status=503, count=100)
    text = cli("status", world.secret_arn)
    assert text.returncode == 4, text.stderr
    assert "orphans  unknown" in text.stdout and "UNKNOWN: VGS not checked" in text.stdout
    assert "no orphan" not in text.stdout.lower()
    assert "could not check" in _one_error_line(text)

    as_json = cli("status", world.secret_arn, "--json")
    assert as_json.returncode == 4
    info = json.loads(as_json.stdout)
    assert info["orphans"] is None and info["vgs_checked"] is False and info["verdict"] == "unknown"
    assert {v["at_vgs"] for v in info["versions"]} == {None}
    assert info["errors"] and "503" in info["errors"][0]
    assert_no_secret(
        text.stdout + as_json.stdout + as_json.stderr, emulator.bootstrap["client_secret"], emulator=emulator
    )


def test_status_without_the_manager_value_is_unknown_and_names_the_manager(emulator, moto_url):
    world = make_world(emulator)
    sm().delete_secret(SecretId=world.manager_arn, ForceDeleteWithoutRecovery=True)
    proc = cli("status", world.secret_arn, "--json")
    assert proc.returncode == 4
    info = json.loads(proc.stdout)
    assert info["orphans"] is None and world.manager_arn in info["errors"][0]


def test_status_fails_on_an_orphan_and_cleanup_deletes_it(emulator, moto_url):
    world = make_world(emulator)
    world.rotate()
    orphan = _orphan(world)
    status = cli("status", world.secret_arn)
    assert status.returncode == 1, status.stderr
    assert orphan in status.stdout and orphan in _one_error_line(status)

    declined = cli("cleanup", world.secret_arn, stdin="n\n")
    assert declined.returncode == 1 and orphan in declined.stdout
    prompt, line = declined.stderr.splitlines()
    assert prompt.startswith("Delete them at VGS? [y/N]") and line.startswith("vgs-rotate: error: nothing deleted")
    assert cli("cleanup", world.secret_arn, stdin="").returncode == 1  # no answer is a no
    assert orphan in _at_vgs(emulator)  # nothing deleted without a yes

    before = _stages(world.secret_arn)
    done = cli("cleanup", world.secret_arn, "--yes")
    assert done.returncode == 0, done.stderr
    assert f"deleted {orphan} at VGS" in done.stdout
    assert orphan not in _at_vgs(emulator)
    assert world.document().credential_ref in _at_vgs(emulator)  # AWSCURRENT and AWSPREVIOUS kept
    assert world.document("AWSPREVIOUS").credential_ref in _at_vgs(emulator)
    assert _stages(world.secret_arn) == before
    assert cli("status", world.secret_arn).returncode == 0
    assert "nothing to clean up" in cli("cleanup", world.secret_arn, "--yes").stdout


def test_cleanup_refuses_when_vgs_cannot_be_listed(emulator, moto_url):
    world = make_world(emulator)
    orphan = _orphan(world)
    emulator.faults.inject("accounts.list", status=503, count=100)
    proc = cli("cleanup", world.secret_arn, "--yes")
    assert proc.returncode == 4
    assert "refusing" in _one_error_line(proc)
    emulator.faults.clear()
    assert orphan in _at_vgs(emulator)


def test_cleanup_looks_again_before_deleting(emulator, moto_url):
    """What is referenced by the time cleanup runs is kept, even if it was reported."""
    from rotation.aws_store import AwsSecretStore
    from rotation.issuers import default_issuer_factory
    from rotation.status import cleanup

    world = make_world(emulator)
    current = world.document().credential_ref
    orphan = _orphan(world)
    lines = cleanup(AwsSecretStore(), default_issuer_factory(), world.secret_arn, [current, orphan, "ACnope-x-1"])
    assert lines[0] == f"kept {current}: a version of the secret uses it now"
    assert lines[1] == f"deleted {orphan} at VGS"
    assert lines[2].startswith("skipped ACnope-x-1")
    assert current in _at_vgs(emulator) and orphan not in _at_vgs(emulator)


def test_status_of_a_never_revoking_secret_retains_rather_than_orphans(emulator, moto_url):
    world = make_world(emulator, revoke="never")
    for _ in range(3):  # the first rotation's credential is then in no labelled version
        world.rotate()
    info = json.loads(cli("status", world.secret_arn, "--json").stdout)
    assert info["orphans"] == [] and len(info["retained"]) == 1 and info["verdict"] == "ok"


# -- rotate --------------------------------------------------------------------------------------


def test_rotate_refuses_a_secret_without_rotation_configured(emulator, moto_url):
    world = make_world(emulator, enabled=False)
    before, accounts = _stages(world.secret_arn), _at_vgs(emulator)
    proc = cli("rotate", world.secret_arn)
    assert proc.returncode == 5
    line = _one_error_line(proc)
    assert "no rotation function" in line and "rotation is not enabled" in line and "--local" in line
    assert "rotated" not in proc.stdout
    assert _stages(world.secret_arn) == before and _at_vgs(emulator) == accounts


def test_rotate_refuses_while_a_rotation_is_under_way(emulator, moto_url):
    from tests.rotation_harness import start_rotation

    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    before = _stages(world.secret_arn)
    proc = cli("rotate", world.secret_arn)
    assert proc.returncode == 5 and token in _one_error_line(proc)
    assert _stages(world.secret_arn) == before


def test_rotate_does_not_trust_a_label(emulator, moto_url):
    """moto's RotateSecret without a function it can invoke moves AWSCURRENT onto the new,
    empty version: the follower must report that state, not success."""
    world = make_world(emulator)  # rotation enabled with a function moto cannot invoke
    proc = cli("rotate", world.secret_arn, "--timeout", "5", "--interval", "0.1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = _one_error_line(proc)
    assert "holds AWSCURRENT but has no value" in line and "restore" in line
    assert "rotated" not in proc.stdout


def test_rotate_local_shows_step_timings_and_verifies(emulator, moto_url):
    world = make_world(emulator, enabled=False)
    first = world.document().credential_ref
    proc = cli("rotate", world.secret_arn, "--local")
    assert proc.returncode == 0, proc.stderr
    for n, step in enumerate(("createSecret", "setSecret", "testSecret", "finishSecret"), start=1):
        assert any(f"[{n}/4] {step}" in line and " ms" in line for line in proc.stdout.splitlines()), proc.stdout
    new = world.document().credential_ref
    assert new != first and f"credential {new}" in proc.stdout


# -- progress ------------------------------------------------------------------------------------


def test_retries_show_one_progress_line_each(emulator, moto_url):
    world = make_world(emulator)
    emulator.faults.inject("accounts.list", status=503, count=2)
    proc = cli("status", world.secret_arn, env={"VGS_MAX_ATTEMPTS": "3"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    for n, line in enumerate(lines, start=1):
        assert line.startswith("vgs-rotate: list service accounts: VGS unavailable (HTTP 503")
        assert f"attempt {n} of 3 failed, retrying in " in line and line.endswith(" s")


def test_failing_retries_end_in_one_error_line(emulator, moto_url):
    world = make_world(emulator, enabled=False)
    emulator.faults.inject("accounts.list", status=503, count=100)
    before = _stages(world.secret_arn)
    proc = cli("rotate", world.secret_arn, "--local", env={"VGS_MAX_ATTEMPTS": "3"})
    assert proc.returncode == 4
    *progress, last = proc.stderr.splitlines()
    assert len(progress) == 2 and all("retrying in" in p for p in progress)
    assert last.startswith("vgs-rotate: error: VGS unavailable") and "Traceback" not in proc.stderr
    assert "FAILED" in proc.stdout
    emulator.faults.clear()
    assert _stages(world.secret_arn) == before


def test_verbose_shows_log_records_instead_of_progress_lines(emulator, moto_url):
    world = make_world(emulator)
    emulator.faults.inject("accounts.list", status=503, count=1)
    proc = cli("-v", "status", world.secret_arn, env={"VGS_MAX_ATTEMPTS": "2"})
    assert proc.returncode == 0
    retry_records = [
        line for line in proc.stderr.splitlines() if "WARNING rotation.vgs:" in line and "retrying in" in line
    ]
    assert len(retry_records) == 1
    assert not [line for line in proc.stderr.splitlines() if line.startswith("vgs-rotate: ")]


@pytest.mark.parametrize("value", ["0", "x", "21"])
def test_a_bad_attempts_setting_is_one_line(moto_url, value):
    proc = cli("status", "anything", env={"VGS_MAX_ATTEMPTS": value})
    assert proc.returncode == 5 and "VGS_MAX_ATTEMPTS" in _one_error_line(proc)


def test_aws_retries_show_one_progress_line_each(moto_url):
    from tests.bao_server import free_port

    proc = cli(
        "status", "vgs/app", env={"AWS_MAX_ATTEMPTS": "3", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert proc.returncode == 4
    *progress, last = proc.stderr.splitlines()
    assert progress == [
        f"vgs-rotate: Secrets Manager DescribeSecret failed (EndpointConnectionError); attempt {n} of 3 failed, "
        f"retrying in {line.rsplit(' ', 2)[-2]} s"
        for n, line in enumerate(progress, start=1)
    ]
    assert len(progress) == 2 and last.startswith("vgs-rotate: error: cannot reach Secrets Manager")
