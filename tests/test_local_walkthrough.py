"""docs/LOCAL.md, run as written: the commands are read from the page, so the page and this
test cannot drift apart.

Each ``sh`` block is preceded by a marker: ``<!-- walkthrough: background NAME -->`` (a
long-running server, started in the background and waited for), ``run`` (run in order, in
one shell, so ``export`` lines carry over) or ``skip`` (installation: already done here).
The only change is the ports: the page's 8080 and 5000 become free ports, in the commands and
in the example document, so parallel runs do not collide. After the run, while the servers
still answer, the emulator's own list and moto's server are read: what adopt and the
rotation left there is decided by them, not by the commands' output alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.helpers import assert_no_secret

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "LOCAL.md"
BLOCK = re.compile(r"<!-- walkthrough: (\w+)(?: (\w+))? -->\s*```sh\n(.*?)```", re.DOTALL)
PORTS = ("8080", "5000")


def blocks() -> list[tuple[str, str | None, str]]:
    text = PAGE.read_text()
    found = [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(text)]
    assert len(found) == text.count("```sh"), "every sh block on the page needs a walkthrough marker"
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(ready, what: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)  # readiness poll, bounded by the deadline


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_page_markers_cover_the_walkthrough():
    kinds = [(kind, name) for kind, name, _ in blocks()]
    assert ("background", "emulator") in kinds and ("background", "moto") in kinds
    commands = "\n".join(body for kind, _, body in blocks() if kind == "run")
    for needed in ("bootstrap-manager", "examples/local/cmp-app.json", "rotate", "status", "publish", "token",
                   "cleanup", "adopt"):  # fmt: skip
        assert needed in commands


def test_the_walkthrough_runs_as_written(tmp_path):
    ports = {p: str(_free_port()) for p in PORTS}

    def local(text: str) -> str:
        for old, new in ports.items():
            text = re.sub(rf"(?<![0-9]){old}(?![0-9])", new, text)
        return text

    example = tmp_path / "examples" / "local" / "cmp-app.json"
    example.parent.mkdir(parents=True)
    example.write_text(local((ROOT / "examples" / "local" / "cmp-app.json").read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VAULT_", "VGS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    assert shutil.which("vgs-rotate", path=env["PATH"]) and shutil.which("moto_server", path=env["PATH"])

    background: list[subprocess.Popen[bytes]] = []
    try:
        for kind, name, body in blocks():
            if kind != "background":
                continue
            log = (tmp_path / f"{name}.log").open("wb")
            proc = subprocess.Popen(
                ["bash", "-c", local(body)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            background.append(proc)
            port = int(ports["8080" if name == "emulator" else "5000"])
            _wait(lambda port=port: _listening(port), name, proc)
            if name == "emulator":
                _wait(lambda: (tmp_path / "vgs.json").exists(), "the emulator's bootstrap file", proc)
        script = "set -euo pipefail\n" + "\n".join(local(body) for kind, _, body in blocks() if kind == "run")
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        world = _outside_world(tmp_path, ports["5000"]) if run.returncode == 0 else {}  # while the servers run
    finally:
        for proc in background:
            with_group = os.getpgid(proc.pid) if proc.poll() is None else None
            if with_group is not None:
                os.killpg(with_group, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(15)

    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    out = run.stdout
    assert out.count("[4/4] finishSecret") == 3 and out.count("rotated ") == 3
    assert "orphans  none" in out and "nothing to clean up" in out
    assert "doctor: " not in run.stderr and "✗" not in out and "✓ manager mints a token" in out, out
    token, _ = json.JSONDecoder().raw_decode(out[out.rindex('{\n  "access_token"') :])
    assert token["access_token"] == "***" and token["expires_in"] > 60
    bootstrap = json.loads((tmp_path / "vgs.json").read_text())
    assert_no_secret(run.stdout + run.stderr, bootstrap["client_secret"])

    # adopt: the hand-made account is the secret's AWSPREVIOUS after one rotation, still at VGS
    hand_made = re.search(r"^adopting service account (\S+) ", out, re.M)
    assert hand_made and "done: create secret vgs/local/payments" in out, out
    previous = next(line for line in out.splitlines() if hand_made.group(1) in line and "AWSPREVIOUS" in line)
    assert previous.rstrip().endswith("present"), previous
    assert hand_made.group(1) in world["at vgs"]
    assert world["payments"]["tags"] == {"vgs-rotation:kind": "service-account", "vgs-rotation:role": "rotated"}
    assert world["payments"]["previous"] == hand_made.group(1) != world["payments"]["current"]
    assert not (tmp_path / "payments.secret").exists()
    assert_no_secret(run.stdout + run.stderr, world["payments"]["previous secret"])


def _outside_world(tmp_path: Path, moto_port: str) -> dict[str, Any]:
    """What the emulator lists (with the manager's credentials) and what moto's server holds."""
    import boto3

    from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, Secret, TokenClient, VGSHttp

    boot = json.loads((tmp_path / "vgs.json").read_text())
    with VGSHttp(timeout=5.0) as http:
        manager = ClientCredentials(boot["client_id"], Secret(boot["client_secret"]))
        auth = CachedTokenAuth(TokenClient(boot["token_url"], http=http), manager)
        listed = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http).list()
    client = boto3.client(
        "secretsmanager", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    desc = client.describe_secret(SecretId="vgs/local/payments")

    def held(stage: str) -> dict[str, Any]:
        value = client.get_secret_value(SecretId="vgs/local/payments", VersionStage=stage)["SecretString"]
        return dict(json.loads(value))

    return {
        "at vgs": {a.client_id for a in listed},
        "payments": {
            "tags": {t["Key"]: t["Value"] for t in desc.get("Tags", [])},
            "current": held("AWSCURRENT")["client_id"],
            "previous": held("AWSPREVIOUS")["client_id"],
            "previous secret": held("AWSPREVIOUS")["client_secret"],
        },
    }
