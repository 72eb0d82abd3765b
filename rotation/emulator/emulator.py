"""``Emulator``: a local VGS on loopback, for development, the demo and tests.

Starts in a background daemon thread (``start`` / context manager) or in the foreground
(``serve_forever``, for the CLI). The clock is injectable so that token expiry can be tested
without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rotation.emulator.api import VGSApi
from rotation.emulator.app import App
from rotation.emulator.faults import Faults
from rotation.emulator.keys import SigningKey
from rotation.emulator.server import EmulatorHTTPServer, EmulatorHTTPServer6
from rotation.emulator.state import State
from rotation.vgs.endpoints import JWKS_PATH, TOKEN_PATH


class Emulator:
    """A local VGS on ``host:port`` (0 picks a free port). Not thread-affine: any thread may stop it."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        default_token_lifespan: int = 1200,
        *,
        organization_id: str | None = None,
        vault_id: str | None = None,
    ) -> None:
        """``organization_id`` / ``vault_id``: fixed ids (for scripts and docs) instead of random ones."""
        if default_token_lifespan < 60:
            raise ValueError("default_token_lifespan must be at least 60 seconds")
        self.host = host
        self.port = port
        self.clock = clock
        self.faults = Faults()
        self._state = State(clock, organization_id=organization_id, vault_id=vault_id)
        self._api = VGSApi(
            self._state,
            SigningKey(),
            clock=clock,
            base_url=lambda: self.url,
            default_token_lifespan=default_token_lifespan,
        )
        self._app = App(self._api, self.faults, describe_state=self.describe, reset=self.reset)
        self._server: EmulatorHTTPServer | None = None
        self._serving: threading.Thread | None = None  # the thread inside serve_forever
        self._background = False
        self._lifecycle = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def _bind(self) -> EmulatorHTTPServer:
        with self._lifecycle:
            if self._server is None:
                cls = EmulatorHTTPServer6 if ":" in self.host else EmulatorHTTPServer
                self._server = cls((self.host.strip("[]"), self.port), self._app)
                self.port = int(self._server.server_address[1])
            return self._server

    def start(self) -> Emulator:
        """Bind and serve in a background daemon thread; returns self."""
        if self._serving is not None:
            return self
        server = self._bind()
        thread = threading.Thread(target=self._serve, args=(server, 0.1), name="vgs-emulator", daemon=True)
        self._serving, self._background = thread, True
        thread.start()
        return self

    def bind(self) -> Emulator:
        """Bind the port now (so that ``url`` is known) without serving yet."""
        self._bind()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (from another thread) or KeyboardInterrupt."""
        if self._serving is not None:
            raise RuntimeError("the emulator is already serving")
        server = self._bind()
        self._serving, self._background = threading.current_thread(), False
        self._serve(server, 0.2)

    def _serve(self, server: EmulatorHTTPServer, poll_interval: float) -> None:
        try:
            server.serve_forever(poll_interval=poll_interval)
        finally:
            self._close(server)

    def stop(self) -> None:
        """Stop serving, end open connections and free the port. Safe to call twice."""
        server, serving = self._server, self._serving
        if server is None:
            return
        if serving is not None and serving is not threading.current_thread():
            server.shutdown()  # returns once serve_forever has left its loop
            if self._background:
                serving.join(timeout=5)
        self._close(server)

    def _close(self, server: EmulatorHTTPServer) -> None:
        with self._lifecycle:
            if self._server is not server:
                return
            server.close_connections()
            server.server_close()
            self._server = None
            self._serving = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what callers read -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL; known once bound (``start``, ``bind``), and still readable after ``stop``."""
        if self.port == 0:
            raise RuntimeError("the emulator is not started")
        host = f"[{self.host.strip('[]')}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def bootstrap(self) -> dict[str, Any]:
        """Where everything is, plus the manager's credentials: what ``--bootstrap-out`` writes."""
        base = self.url
        manager = self._state.manager
        return {
            "base_url": base,
            "token_url": base + TOKEN_PATH,
            "accounts_url": base + "/accounts",
            "vault_management_url": base + "/vault-management",
            "cmp_url": base + "/cmp",
            "jwks_url": base + JWKS_PATH,
            "vault_api_url": base + "/vault-api",
            "organization_id": self._state.organization_id,
            "vault_id": self._state.vault_id,
            "client_id": manager.client_id,
            "client_secret": manager.client_secret,
        }

    @property
    def organization_id(self) -> str:
        return self._state.organization_id

    @property
    def vault_id(self) -> str:
        return self._state.vault_id

    @property
    def request_counts(self) -> Counter[str]:
        """Requests per route name since start or the last reset (a snapshot)."""
        return self._app.request_counts

    def service_accounts(self) -> list[dict[str, Any]]:
        """Every service account, manager included, without secrets."""
        return [a.public() for a in self._state.list_accounts()]

    def access_credentials(self, vault_id: str | None = None) -> list[dict[str, Any]]:
        """Access credentials (of one vault, or all), without passwords."""
        return [c.public() for c in self._state.list_credentials(vault_id)]

    def issued_tokens(self) -> list[str]:
        """Every access token the token endpoint issued since start or the last reset (the
        admin record: VGS knows what it issued). Secret: for leak scans, never for output."""
        with self._state.lock:
            return list(self._state.issued_tokens)

    def issued_secrets(self) -> list[tuple[str, str]]:
        """Every (client_id, client_secret) and (username, password) VGS handed out since
        start or the last reset, the manager's included, deleted ones too. Secret, as above."""
        with self._state.lock:
            return list(self._state.issued_pairs)

    def describe(self) -> dict[str, Any]:
        """The state without secrets, as ``GET /__admin/state`` shows it."""
        return {
            "organization_id": self._state.organization_id,
            "vault_id": self._state.vault_id,
            "manager_client_id": self._state.manager.client_id,
            "service_accounts": self.service_accounts(),
            "access_credentials": self.access_credentials(),
            "request_counts": dict(self.request_counts),
            "faults": self.faults.describe(),
        }

    def reset(self) -> None:
        """Back to the bootstrap state: same org, vault and manager; no faults; counts zeroed."""
        self._state.reset()
        self.faults.clear()  # its count of fired faults runs on: callers diff snapshots
        self._app.reset_counts()
