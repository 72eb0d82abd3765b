"""The VGS secrets engine: state, VGS clients and periodic work. Paths live in ``paths/``.

Every VGS HTTP call goes through :mod:`rotation.vgs` and runs in a worker thread
(``asyncio.to_thread``) so the gRPC event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from rotation.vgs import (
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    CreatedServiceAccount,
    RetryPolicy,
    Secret,
    TokenClient,
    VGSHttp,
    errors,
)
from vault_plugin.framework import ErrorKind, LogicalBackend, LogicalError, Router, SystemView
from vault_plugin.storage import CachingStorage, Storage, StorageError

log = logging.getLogger("vault_plugin.vgs")
T = TypeVar("T")

ANNOTATION_PREFIX = "vgs-rotation/"
A_MANAGED = ANNOTATION_PREFIX + "managed-by"
A_MOUNT = ANNOTATION_PREFIX + "mount"
A_ROLE = ANNOTATION_PREFIX + "role"
A_KIND = ANNOTATION_PREFIX + "kind"
A_WAL = ANNOTATION_PREFIX + "wal"
MANAGED_BY = "vault-plugin"

BACKEND_HELP = """\
The VGS secrets engine issues Very Good Security credentials under Vault/OpenBao leases.

  config                 manager service-account credentials and VGS hosts (validated on write)
  config/rotate-root     replace the manager account with a new one (write-ahead logged)
  roles/NAME             scopes, vaults and TTLs of a role
  token/NAME             a short-lived VGS access token for the role (cached until near expiry)
  creds/NAME             a new VGS service account per lease, deleted when the lease ends
  static-roles/NAME      a long-lived service account rotated every rotation_period
  static-creds/NAME      the current credentials of a static role
  rotate-role/NAME       rotate a static role now
  tidy                   run the periodic work now (WAL rollback, orphan cleanup, due rotations)
"""


def vgs_error(exc: Exception, action: str) -> LogicalError:
    """A caller-facing error for a VGS failure. rotation.vgs messages never carry secrets."""
    if isinstance(exc, errors.InsecureURL | ValueError) and not isinstance(exc, errors.VGSError):
        return LogicalError(f"{action}: {exc}", ErrorKind.BAD_REQUEST)
    if isinstance(exc, errors.InvalidRequest | errors.LimitExceeded):
        return LogicalError(f"{action}: VGS refused the request: {exc}", ErrorKind.BAD_REQUEST)
    if isinstance(exc, errors.RateLimited | errors.Unavailable):
        return LogicalError(f"{action}: VGS is unavailable: {exc}", ErrorKind.UNAVAILABLE)
    return LogicalError(f"{action}: {exc}", ErrorKind.UPSTREAM)


@dataclass(frozen=True)
class EngineConfig:
    client_id: str
    client_secret: Secret
    organization_id: str
    token_url: str
    accounts_url: str
    vault_management_url: str
    allow_insecure_http: bool = False

    @classmethod
    def from_storage(cls, raw: Mapping[str, Any]) -> EngineConfig:
        return cls(
            client_id=raw["client_id"],
            client_secret=Secret(raw["client_secret"]),
            organization_id=raw["organization_id"],
            token_url=raw["token_url"],
            accounts_url=raw["accounts_url"],
            vault_management_url=raw["vault_management_url"],
            allow_insecure_http=bool(raw.get("allow_insecure_http", False)),
        )

    def to_storage(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret.reveal(),
            "organization_id": self.organization_id,
            "token_url": self.token_url,
            "accounts_url": self.accounts_url,
            "vault_management_url": self.vault_management_url,
            "allow_insecure_http": self.allow_insecure_http,
        }

    def public(self) -> dict[str, Any]:
        out = self.to_storage()
        del out["client_secret"]
        return out

    @property
    def credentials(self) -> ClientCredentials:
        return ClientCredentials(self.client_id, self.client_secret)


class VGSClients:
    """The rotation.vgs clients for one engine configuration (blocking; call from threads).

    Tokens are stamped with the engine's clock, the one its cache decisions use (the same
    as ``time.time`` in production; moved by the test hook and the fault schedules)."""

    def __init__(self, config: EngineConfig, http: VGSHttp, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        insecure = config.allow_insecure_http
        self.tokens = TokenClient(config.token_url, http=http, allow_insecure_http=insecure, clock=clock)
        self.manager = CachedTokenAuth(self.tokens, config.credentials, clock=clock)
        self.accounts = AccountsClient(
            config.accounts_url, config.organization_id, auth=self.manager, http=http, allow_insecure_http=insecure
        )


def account_name(kind: str, role: str) -> str:
    """A VGS account name (at most 20 characters): ``v<kind>-<role>-<4 hex>``."""
    clean = re.sub(r"[^A-Za-z0-9-]", "-", role)[:12].strip("-") or "x"
    return f"v{kind[0]}-{clean}-{secrets.token_hex(2)}"


class VGSBackend(LogicalBackend):
    seal_wrap_storage = ("config", "roles/", "role-accounts/", "token-cache/", "static-roles/", "leases/", "wal/")

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        from vault_plugin.paths import all_paths, secret_types

        self._clock = clock
        self.clock_offset = 0.0  # test hook only (VGS_PLUGIN_TEST_HOOKS=1): tidy advance_clock
        self._storage: CachingStorage | None = None
        self.system: SystemView | None = None
        self.mount_id = ""
        self.http = VGSHttp(timeout=10.0, retry=RetryPolicy(max_attempts=3, max_total=20))
        self._clients: VGSClients | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.in_flight: set[str] = set()
        self.test_hooks = os.environ.get("VGS_PLUGIN_TEST_HOOKS") == "1"
        self.wal_min_age = float(os.environ.get("VGS_PLUGIN_WAL_MIN_AGE", "120"))
        self.orphan_min_age = float(os.environ.get("VGS_PLUGIN_ORPHAN_MIN_AGE", "300"))
        self.router = Router(
            help_text=BACKEND_HELP, paths=all_paths(self), secrets=secret_types(self), periodic=self.periodic
        )

    def clock(self) -> float:
        return self._clock() + self.clock_offset

    # lifecycle -------------------------------------------------------------------------
    async def setup(self, storage: Storage, system: SystemView, config: Mapping[str, str], backend_uuid: str) -> None:
        self._storage = CachingStorage(storage, ("config", "roles/", "token-cache/", "role-accounts/"))
        self.system = system
        self.mount_id = backend_uuid

    async def cleanup(self) -> None:
        self._clients = None
        await asyncio.to_thread(self.http.close)

    def invalidate(self, key: str) -> None:
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
            self._clients = VGSClients(config, self.http, self.clock)
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
        from vault_plugin.paths import periodic_tasks

        if self._storage is None or await self.storage.get("config") is None:
            return
        async with self.lock("periodic"):  # the minute's rollback and a tidy write never overlap
            await self._run_periodic(periodic_tasks(self))

    async def _run_periodic(self, tasks: list[tuple[str, Callable[[], Awaitable[None]]]]) -> None:
        for name, task in tasks:
            try:
                await task()
            except Exception as exc:  # one failing task must not stop the others; each is logged
                log_periodic_failure(name, exc)


PERIODIC_FAILED = "periodic task failed"
PERIODIC_UNEXPECTED = "periodic task failed unexpectedly"


def log_periodic_failure(task: str, exc: Exception, **extra: str) -> None:
    """Log a failed piece of periodic work; it is retried at the next rollback.

    A caller-facing error (VGS refused or unavailable) or a storage error answered by the
    host is an expected failure: a warning.
    Anything else is a bug and is logged at ERROR with :data:`PERIODIC_UNEXPECTED`, a
    marker the fault schedules scan for (the host only ever sees the rollback succeed).
    """
    expected = isinstance(exc, LogicalError | StorageError)
    log.log(
        logging.WARNING if expected else logging.ERROR,
        PERIODIC_FAILED if expected else PERIODIC_UNEXPECTED,
        extra={"task": task, "error_type": type(exc).__name__, "reason": str(exc) if expected else "", **extra},
    )
