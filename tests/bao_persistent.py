"""A real OpenBao on file storage that can be stopped and started again, with the built plugin.

Not ``-dev``: ``bao server -config=FILE`` with ``storage "file"`` in a temp dir, a loopback
listener on a free port (kept across restarts), and the plugin directory. The first start
initialises the server (one key share) and every start unseals it, so config, roles, leases
and the plugin's storage outlive the server process. ``plugin_pids`` finds the plugin
processes among the server's children, for ``kill -9``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.bao_server import free_port
from tests.vault_fixtures import BAO, Bao, wait_until

PLUGIN_COMMAND = b"vgs-secrets-plugin"
READY_TIMEOUT = 60.0

CONFIG = """\
storage "raft" {{
  path = "{data}"
  node_id = "vgs-test"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable = true
}}
plugin_directory = "{plugins}"
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
"""

# The plugin registered with its test hooks on and no minimum WAL/orphan age, so a tidy
# finishes crash leftovers at once.
TEST_ENV = (
    "VGS_PLUGIN_TEST_HOOKS=1",
    "VGS_PLUGIN_WAL_MIN_AGE=0",
    "VGS_PLUGIN_ORPHAN_MIN_AGE=0",
    "VGS_PLUGIN_LOG_LEVEL=DEBUG",
)


@dataclass
class PersistentBao(Bao):
    """A :class:`Bao` whose server can be stopped and started on the same storage."""

    work: Path = Path()
    unseal_key: str = ""
    log_level: str = "debug"
    starts: int = 0

    _http: httpx.Client | None = None

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Like :meth:`Bao.api` over one keep-alive client (made again after each start)."""
        if self._http is None:
            self._http = httpx.Client(timeout=60)
        return self._http.request(method, f"{self.addr}/v1/{path}", headers={"X-Vault-Token": self.token}, json=body)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def start(self) -> None:
        """Start the server on its storage, initialise it the first time, unseal it."""
        if self._http is not None:
            self._http.close()
            self._http = None
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [BAO, "server", f"-config={self.work / 'config.hcl'}", f"-log-level={self.log_level}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.work,
                env={k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))},
            )
        self.starts += 1
        health = wait_until(self._health, timeout=READY_TIMEOUT, what="bao listening")
        if not health.get("initialized"):
            r = httpx.put(f"{self.addr}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, timeout=60)
            r.raise_for_status()
            self.unseal_key, self.token = r.json()["keys"][0], r.json()["root_token"]
        r = httpx.put(f"{self.addr}/v1/sys/unseal", json={"key": self.unseal_key}, timeout=60)
        r.raise_for_status()
        wait_until(self._ready, timeout=READY_TIMEOUT, what="bao unsealed and active")

    def _health(self) -> dict[str, object] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"bao server exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            r = httpx.get(f"{self.addr}/v1/sys/health", timeout=2)
        except httpx.HTTPError:
            return None
        return dict(r.json())

    def _ready(self) -> bool:
        health = self._health()
        return bool(health and not health.get("sealed") and not health.get("standby")) and (
            self.api("GET", "sys/mounts").status_code == 200
        )

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: SIGTERM (a clean shutdown, plugins told to stop) or SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        # A plugin outlives a killed host for up to a second (it polls its parent).
        wait_until(lambda: not self.plugin_pids(any_parent=True), timeout=15, what="plugin processes gone")

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def plugin_pids(self, *, any_parent: bool = False) -> list[int]:
        """The plugin processes the server runs (or, with ``any_parent``, any of this server's)."""
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            if PLUGIN_COMMAND not in cmdline or str(self.plugin_dir).encode() not in cmdline:
                continue
            if "\tZ" in next((line for line in status.splitlines() if line.startswith("State:")), ""):
                continue  # a zombie the host has not reaped yet
            ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
            if any_parent or ppid == self.process.pid:
                out.append(int(entry))
        return sorted(out)

    def kill_plugins(self, pids: list[int] | None = None) -> int:
        """``kill -9`` the plugin processes (all of them by default); returns how many died."""
        killed = 0
        for pid in self.plugin_pids() if pids is None else pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        return killed

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def persistent_bao(log_level: str = "debug") -> Iterator[PersistentBao]:
    """A file-storage OpenBao with the plugin built into its plugin directory and registered."""
    from vault_plugin.build import build

    work = Path(tempfile.mkdtemp(prefix="vgs-bao-file-"))
    plugin_dir, data, sock = work / "plugins", work / "data", work / "sock"
    for d in (plugin_dir, data, sock):
        d.mkdir()
    port = free_port()
    (work / "config.hcl").write_text(CONFIG.format(data=data, port=port, cluster_port=free_port(), plugins=plugin_dir))
    _, sha = build(str(plugin_dir))
    placeholder = subprocess.Popen(["true"])
    placeholder.wait()
    bao = PersistentBao(
        addr=f"http://127.0.0.1:{port}",
        token="",
        plugin_dir=plugin_dir,
        sha256=sha,
        log_path=work / "server.log",
        process=placeholder,
        work=work,
        log_level=log_level,
    )
    try:
        bao.start()
        bao.register(env=[f"PLUGIN_UNIX_SOCKET_DIR={sock}", *TEST_ENV])
        yield bao
    finally:
        bao.stop()
        shutil.rmtree(work, ignore_errors=True)


def wait_mount(bao: PersistentBao, path: str, timeout: float = 60.0) -> None:
    """Bounded wait until the mount answers (after a server start or a plugin kill)."""
    began = time.monotonic()
    wait_until(lambda: bao.api("GET", f"{path}/roles?list=true").status_code in (200, 404), timeout=timeout,
               what=f"mount {path} answering ({time.monotonic() - began:.0f} s)")  # fmt: skip
