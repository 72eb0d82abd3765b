"""``vgs-rotate token`` as users run it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import assert_no_secret


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "VGS_CLIENT_SECRET"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", *args], capture_output=True, text=True, env=full_env, timeout=60
    )


def test_prints_the_token_alone(emulator):
    boot = emulator.bootstrap
    proc = run_cli(
        "token",
        "--client-id",
        boot["client_id"],
        "--token-url",
        boot["token_url"],
        env={"VGS_CLIENT_SECRET": boot["client_secret"]},
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    assert_no_secret(proc.stdout, (boot["client_id"], boot["client_secret"]))
    assert_no_secret(proc.stderr, emulator=emulator)  # the token goes to stdout only


def test_json_masks_unless_asked(emulator):
    boot = emulator.bootstrap
    env = {"VGS_CLIENT_SECRET": boot["client_secret"]}
    base = ("token", "--client-id", boot["client_id"], "--token-url", boot["token_url"], "--json")
    masked = run_cli(*base, env=env)
    assert masked.returncode == 0, masked.stderr
    body = json.loads(masked.stdout)
    assert body["access_token"] == "***"
    assert body["client_id"] == boot["client_id"] and body["expires_in"] > 0
    shown = json.loads(run_cli(*base, "--show-secrets", env=env).stdout)
    assert shown["access_token"].count(".") == 2
    # every token minted (the masked run's too, which it never showed), the secret in any form
    assert len(emulator.issued_tokens()) == 2
    assert_no_secret(masked.stdout + masked.stderr, shown["access_token"], emulator=emulator)


def test_basic_auth_and_jwks_verification(emulator):
    boot = emulator.bootstrap
    proc = run_cli(
        "-vv",  # our DEBUG records and httpx's INFO lines on stderr: scanned below
        "token",
        "--client-id",
        boot["client_id"],
        "--token-url",
        boot["token_url"],
        "--basic",
        "--jwks-url",
        boot["jwks_url"],
        env={"VGS_CLIENT_SECRET": boot["client_secret"]},
    )
    assert proc.returncode == 0, proc.stderr
    assert "DEBUG rotation." in proc.stderr and "INFO httpx:" in proc.stderr
    # no Basic header (base64 of id:secret) or token in the logs, nor the secret on stdout
    assert_no_secret(proc.stderr, emulator=emulator)
    assert_no_secret(proc.stdout, (boot["client_id"], boot["client_secret"]))


def test_wrong_secret_exits_3_with_one_line(emulator):
    boot = emulator.bootstrap
    wrong = "wrong-secret-value-123456789"
    proc = run_cli(
        "token", "--client-id", boot["client_id"], "--token-url", boot["token_url"], env={"VGS_CLIENT_SECRET": wrong}
    )
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "credentials refused" in proc.stderr
    assert_no_secret(proc.stderr, wrong)


def test_missing_secret_env_is_a_usage_error(emulator):
    boot = emulator.bootstrap
    proc = run_cli("token", "--client-id", boot["client_id"], "--token-url", boot["token_url"])
    assert proc.returncode == 2
    assert "VGS_CLIENT_SECRET" in proc.stderr


def test_unreachable_server_exits_4():
    proc = run_cli(
        "token",
        "--client-id",
        "c",
        "--token-url",
        "http://127.0.0.1:9/token",
        "--timeout",
        "0.5",
        env={"VGS_CLIENT_SECRET": "s-123"},
    )
    assert proc.returncode == 4
    *retries, error = proc.stderr.strip().splitlines()
    assert error.startswith("vgs-rotate: error: VGS unavailable")
    assert len(retries) == 2 and all("failed, retrying in" in line for line in retries)  # 3 attempts: 2 waits


@pytest.mark.parametrize("url", ["http://auth.example.com/token", "not a url"])
def test_insecure_or_invalid_url_exits_5(url):
    proc = run_cli("token", "--client-id", "c", "--token-url", url, env={"VGS_CLIENT_SECRET": "s-123"})
    assert proc.returncode == 5
    assert "token_url" in proc.stderr
