"""The backend as its paths see it. Paths are written against :class:`Engine`, never against
the concrete backend, so ``backend.py`` does not import the paths it serves: they are
registered on it from the outside (:func:`vault_plugin.engine.new_backend`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from rotation.vgs import CreatedServiceAccount, VGSHttp
from vault_plugin.framework import SystemView
from vault_plugin.storage import Storage
from vault_plugin.vgs_access import EngineConfig, VGSClients

T = TypeVar("T")

PeriodicTask = tuple[str, Callable[[], Awaitable[None]]]


class Engine(Protocol):
    """State, VGS access and hooks the engine's paths rely on."""

    system: SystemView | None
    mount_id: str
    http: VGSHttp
    in_flight: set[str]
    test_hooks: bool
    wal_min_age: float
    orphan_min_age: float
    clock_offset: float
    stats: Counter[str]  # storage calls and token-cache counters (never a secret)

    @property
    def storage(self) -> Storage:
        """The host's storage, with config, roles and cached tokens held in memory."""

    def clock(self) -> float: ...
    def lock(self, key: str) -> asyncio.Lock: ...
    def invalidate(self, key: str) -> None: ...
    async def call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    async def load_config(self) -> EngineConfig | None: ...
    async def clients(self) -> VGSClients: ...
    def annotations(self, kind: str, role: str, **extra: str) -> dict[str, str]: ...
    async def create_account(
        self, kind: str, role: str, spec: Mapping[str, Any], *, wal: str | None = None
    ) -> CreatedServiceAccount: ...
    async def delete_account(self, client_id: str) -> bool: ...
    def crash_point(self, name: str, requested: str | None) -> None: ...
    async def periodic(self) -> None: ...
