"""The VGS secrets engine: state, VGS clients and periodic work.

The paths it serves live in ``paths/`` and are registered from the outside
(:func:`vault_plugin.engine.new_backend`); they see the backend through
:class:`vault_plugin.interface.Engine`, so this module never imports them.

Every VGS HTTP call goes through :mod:`rotation.vgs` and runs in a worker thread
(``asyncio.to_thread``) so the gRPC event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from rotation.vgs import CreatedServiceAccount, RetryPolicy, TokenCache, VGSHttp, errors
from vault_plugin.framework import ErrorKind, LogicalBackend, LogicalError, Path, Router, SecretType, SystemView
from vault_plugin.interface import PeriodicTask
from vault_plugin.periodic import log_periodic_failure
from vault_plugin.storage import CachingStorage, Storage
from vault_plugin.vgs_access import (
    A_KIND,
    A_MANAGED,
    A_MOUNT,
    A_ROLE,
    A_WAL,
    ANNOTATION_PREFIX,
    MANAGED_BY,
    EngineConfig,
    VGSClients,
    account_name,
    vgs_error,
)

__all__ = [
    "A_KIND",
    "A_MANAGED",
    "A_MOUNT",
    "A_ROLE",
    "A_WAL",
    "BACKEND_HELP",
    "EngineConfig",
    "VGSBackend",
    "VGSClients",
    "account_name",
    "vgs_error",
]

log = logging.getLogger("vault_plugin.vgs")
T = TypeVar("T")

BACKEND_HELP = """\
The VGS secrets engine issues Very Good Security credentials under Vault/OpenBao leases.

  config                 manager service-account credentials and VGS hosts (validated on write)
  config/rotate-root     replace the manager account with a new one (write-ahead logged)
  roles/NAME             scopes, vaults and TTLs of a role
  token/NAME             a short-lived VGS access token for the role (cached until near expiry, no lease)
  creds/NAME             a new VGS service account per lease, deleted when the lease ends
  static-roles/NAME      a long-lived service account rotated every rotation_period
  static-creds/NAME      the current credentials of a static role
  rotate-role/NAME       rotate a static role now
  tidy                   run the periodic work now (WAL rollback, orphan cleanup, due rotations)
  stats                  counters: storage calls, token cache hits and mints
"""


class VGSBackend(LogicalBackend):
    seal_wrap_storage = ("config", "roles/", "role-accounts/", "token-cache/", "static-roles/", "leases/", "wal/")

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.clock_offset = 0.0  # test hook only (VGS_PLUGIN_TEST_HOOKS=1): tidy advance_clock
        self._storage: CachingStorage | None = None
        self.system: SystemView | None = None
        self.mount_id = ""
        self.http = VGSHttp(timeout=10.0, retry=RetryPolicy(max_attempts=3, max_total=20))
        self._clients: VGSClients | None = None
        self.manager_tokens = TokenCache(clock=self.clock)  # the manager's token, across client rebuilds
        self._locks: dict[str, asyncio.Lock] = {}
        self.in_flight: set[str] = set()
        self.stats: Counter[str] = Counter()  # read by the stats path; never holds a secret
        self.test_hooks = os.environ.get("VGS_PLUGIN_TEST_HOOKS") == "1"
        self.wal_min_age = float(os.environ.get("VGS_PLUGIN_WAL_MIN_AGE", "120"))
        self.orphan_min_age = float(os.environ.get("VGS_PLUGIN_ORPHAN_MIN_AGE", "300"))
        self._periodic_tasks: list[PeriodicTask] = []
        self.router = Router(help_text=BACKEND_HELP, paths=(), periodic=self.periodic)

    def register(
        self, paths: Sequence[Path], secrets: Sequence[SecretType] = (), periodic: Sequence[PeriodicTask] = ()
    ) -> None:
        """Serve these paths, lease types and periodic tasks (called once, by whoever assembles the engine)."""
        self.router = Router(help_text=BACKEND_HELP, paths=paths, secrets=secrets, periodic=self.periodic)
        self._periodic_tasks = list(periodic)

    def clock(self) -> float:
        return self._clock() + self.clock_offset

    # lifecycle -------------------------------------------------------------------------
    async def setup(self, storage: Storage, system: SystemView, config: Mapping[str, str], backend_uuid: str) -> None:
        self._storage = CachingStorage(
            storage, ("config", "roles/", "token-cache/", "role-accounts/"), calls=self.stats
        )
        self.system = system
        self.mount_id = backend_uuid

    async def cleanup(self) -> None:
        self._clients = None
        await asyncio.to_thread(self.http.close)

    def invalidate(self, key: str) -> None:
        """The host's ``InvalidateKey``: ``key`` changed underneath (replication, a standby
        node); forget its memory so the next read loads it, and the VGS clients with config."""
        if isinstance(self._storage, CachingStorage):
            self._storage.invalidate(key)
        if key == "config":
            self._clients = None

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise LogicalError("backend is not set up", ErrorKind.UNAVAILABLE)
        return self._storage

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    # VGS access ------------------------------------------------------------------------
    async def call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking rotation.vgs call in a thread; VGS errors become caller-facing errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (errors.VGSError, ValueError) as exc:
            log.warning("VGS call failed", extra={"action": action, "error_type": type(exc).__name__})
            raise vgs_error(exc, action) from None

    async def load_config(self) -> EngineConfig | None:
        raw = await self.storage.get("config")
        return None if raw is None else EngineConfig.from_storage(raw)

    async def clients(self) -> VGSClients:
        config = await self.load_config()
        if config is None:
            raise LogicalError("the engine is not configured: write its credentials to config first")
        if self._clients is None or self._clients.config != config:
            self._clients = VGSClients(config, self.http, clock=self.clock, cache=self.manager_tokens)
        return self._clients

    def annotations(self, kind: str, role: str, **extra: str) -> dict[str, str]:
        out = {A_MANAGED: MANAGED_BY, A_MOUNT: self.mount_id, A_ROLE: role, A_KIND: kind}
        out.update({ANNOTATION_PREFIX + k: v for k, v in extra.items()})
        return out

    async def create_account(
        self, kind: str, role: str, spec: Mapping[str, Any], *, wal: str | None = None
    ) -> CreatedServiceAccount:
        c = await self.clients()
        extra = {"wal": wal} if wal else {}
        return await self.call(
            "create service account",
            c.accounts.create,
            name=account_name(kind, role),
            scopes=list(spec["scopes"]),
            vaults=list(spec.get("vaults") or []),
            annotations=self.annotations(kind, role, **extra),
            access_token_lifespan=spec.get("token_lifespan") or None,
        )

    async def delete_account(self, client_id: str) -> bool:
        c = await self.clients()
        return await self.call("delete service account", c.accounts.delete, client_id)

    def crash_point(self, name: str, requested: str | None) -> None:
        """Test hook: die like a crashed process at a named step (only with VGS_PLUGIN_TEST_HOOKS=1)."""
        if self.test_hooks and requested == name:
            log.warning("test hook: crashing", extra={"crash_at": name})
            os._exit(70)

    # periodic work (the host's `rollback` operation, every minute) ----------------------
    async def periodic(self) -> None:
        if self._storage is None or await self.storage.get("config") is None:
            return
        async with self.lock("periodic"):  # the minute's rollback and a tidy write never overlap
            await self._run_periodic(self._periodic_tasks)

    async def _run_periodic(self, tasks: Sequence[PeriodicTask]) -> None:
        for name, task in tasks:
            try:
                await task()
            except Exception as exc:  # one failing task must not stop the others; each is logged
                log_periodic_failure(name, exc)
