"""``vgs-rotate emulator`` as users run it: a subprocess on port 0, stopped with SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from rotation.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_cli_serves_and_writes_a_private_bootstrap_file(tmp_path):
    out = tmp_path / "bootstrap.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rotation.cli", "emulator", "--port", "0", "--bootstrap-out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        assert found, line
        url, port = found.group(1), int(found.group(2))
        assert port != 0
        assert str(out) in line
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        boot = json.loads(out.read_text())
        assert boot["client_secret"] not in line
        assert boot["base_url"] == url
        assert boot["token_url"] == url + "/auth/realms/vgs/protocol/openid-connect/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": boot["client_id"],
            "client_secret": boot["client_secret"],
        }
        r = httpx.post(boot["token_url"], data=form, timeout=5)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0
    assert proc.stderr is not None
    assert boot["client_secret"] not in proc.stderr.read()


def test_cli_refuses_non_loopback_without_the_flag():
    result = CliRunner().invoke(cli, ["emulator", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code != 0
    assert "non-loopback" in result.output


def test_cli_reports_a_busy_port():
    from rotation.emulator import Emulator

    with Emulator(port=0) as emu:
        port = int(emu.url.rsplit(":", 1)[1])
        result = CliRunner().invoke(cli, ["emulator", "--port", str(port)])
    assert result.exit_code != 0
    assert "cannot listen" in result.output
