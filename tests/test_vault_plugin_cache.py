"""The engine's memory-speed hot path, in-process: ``token/NAME`` served from memory without
a storage call, written through on refresh, dropped on writes and on the host's
``InvalidateKey``, never served past its refresh margin, single-flight per role; no lease
unless the role asks for one. VGS is the emulator (in-process transport); storage is counted
from the outside (a wrapper over the in-memory storage, not the engine's own counters)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from rotation.vgs import RetryPolicy, VGSHttp
from tests.faults.inproc import InProcTransport
from tests.faults.plugin_schedules import _System
from tests.helpers import VirtualClock
from vault_plugin.backend import VGSBackend
from vault_plugin.engine import new_backend
from vault_plugin.framework import LogicalError, Operation, Request, Response
from vault_plugin.paths.token import refresh_margin
from vault_plugin.storage import CachingStorage, MemoryStorage


class CountingStorage:
    """The host's storage as seen from outside the engine: every call is counted."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()
        self.calls: Counter[str] = Counter()

    async def get(self, key: str) -> dict[str, Any] | None:
        self.calls[f"get {key}"] += 1
        return await self.inner.get(key)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self.calls[f"put {key}"] += 1
        await self.inner.put(key, value)

    async def delete(self, key: str) -> None:
        self.calls[f"delete {key}"] += 1
        await self.inner.delete(key)

    async def list(self, prefix: str) -> list[str]:
        self.calls[f"list {prefix}"] += 1
        return await self.inner.list(prefix)


class World:
    def __init__(self, emulator: Any, clock: VirtualClock) -> None:
        self.emulator = emulator
        self.clock = clock
        self.storage = CountingStorage()
        self.loop = asyncio.new_event_loop()
        self.backend = self.start()

    def start(self) -> VGSBackend:
        """A plugin process (again) over the same storage."""
        b = new_backend(clock=self.clock)
        b.http.close()
        b.http = VGSHttp(
            timeout=5.0,
            retry=RetryPolicy.none(),
            client=httpx.Client(transport=InProcTransport(self.emulator)),  # type: ignore[arg-type]
        )
        self.loop.run_until_complete(b.setup(self.storage, _System(), {}, "mount-cache-0001"))
        self.backend = b
        return b

    def request(self, op: Operation, path: str, data: dict[str, Any] | None = None) -> Response | None:
        return self.loop.run_until_complete(self.backend.router.handle(Request(op, path, dict(data or {}))))

    def read(self, path: str) -> dict[str, Any]:
        resp = self.request(Operation.READ, path)
        assert resp is not None
        return resp.data

    def close(self) -> None:
        self.backend.http.close()
        self.loop.close()


@pytest.fixture
def world(emulator):
    emulator.reset()
    w = World(emulator, VirtualClock(start=None))  # VGS dates tokens by the real clock
    boot = emulator.bootstrap
    config = {k: boot[k] for k in ("client_id", "client_secret", "organization_id", "token_url", "accounts_url",
                                   "vault_management_url")}  # fmt: skip
    w.request(Operation.UPDATE, "config", config)
    w.request(Operation.UPDATE, "roles/app", {"scopes": "cards:read", "token_lifespan": "20m"})
    yield w
    w.close()


def test_a_cached_token_read_makes_no_storage_call(world):
    first = world.read("token/app")
    assert first["cached"] is False
    world.storage.calls.clear()
    mints = world.emulator.request_counts["token"]
    for _ in range(50):
        again = world.read("token/app")
        assert again["cached"] is True and again["access_token"] == first["access_token"]
    assert world.storage.calls == Counter(), "a cache hit reaches no storage"
    assert world.emulator.request_counts["token"] == mints, "and mints nothing"
    stats = world.read("stats")
    assert stats["token_cache_hits"] == 50 and stats["token_mints"] == 1
    assert stats["storage_calls"]["get"] >= 1, "the engine's own count saw the first read's loads"


def test_a_new_process_loads_once_then_serves_from_memory(world):
    token = world.read("token/app")["access_token"]
    world.start()  # the host restarted the plugin: memory is empty, storage is not
    world.storage.calls.clear()
    assert world.read("token/app")["access_token"] == token
    loads = sum(world.storage.calls.values())
    assert loads >= 2, "config/role/token were loaded from storage"
    assert all(k.startswith("get ") for k in world.storage.calls), "and nothing written"
    world.read("token/app")
    assert sum(world.storage.calls.values()) == loads, "the second read is served from memory"


def test_no_lease_unless_the_role_asks_for_one(world):
    resp = world.request(Operation.READ, "token/app")
    assert resp is not None and resp.secret is None
    lifespan = 20 * 60
    now = world.clock()
    data = resp.data
    assert data["rotation_period"] == lifespan
    assert data["expires_at"] - data["issued_at"] == lifespan
    stored = json.loads(world.storage.inner.data["token-cache/app"])
    refresh = stored["expires_at"] - refresh_margin(lifespan)
    assert data["ttl"] == int(refresh - now), "seconds until the engine serves a fresh token"
    assert isinstance(data["ttl"], int) and isinstance(data["rotation_period"], int), (
        "JSON integers for consul-template"
    )
    world.request(Operation.UPDATE, "roles/app", {"token_leases": True})
    leased = world.request(Operation.READ, "token/app")
    assert leased is not None and leased.secret is not None and not leased.secret.renewable
    assert leased.data["access_token"] == data["access_token"], "the option does not replace the account or token"
    assert 0 < leased.secret.ttl <= lifespan


def test_never_served_within_the_refresh_margin(world):
    first = world.read("token/app")
    margin = refresh_margin(first["rotation_period"])
    refresh = json.loads(world.storage.inner.data["token-cache/app"])["expires_at"] - margin
    world.clock.advance(refresh - world.clock() - 1)
    just_before = world.read("token/app")
    assert just_before["access_token"] == first["access_token"] and just_before["ttl"] in (0, 1)
    world.clock.advance(1.001)
    after = world.read("token/app")
    assert after["cached"] is False and after["access_token"] != first["access_token"]
    assert after["expires_at"] - world.clock() >= margin
    assert json.loads(world.storage.inner.data["token-cache/app"])["access_token"] == after["access_token"], (
        "the fresh token is written through to storage"
    )


def test_invalidate_key_drops_the_memory(world):
    """Another node (or replication) changed the entry: until the host says so the memory
    answers; after InvalidateKey the next read loads the new value."""
    first = world.read("token/app")
    raw = json.loads(world.storage.inner.data["token-cache/app"])
    raw["access_token"] = "replaced-behind-the-engine"
    world.storage.inner.data["token-cache/app"] = json.dumps(raw)
    assert world.read("token/app")["access_token"] == first["access_token"]
    world.backend.invalidate("token-cache/app")
    assert world.read("token/app")["access_token"] == "replaced-behind-the-engine"
    # a role changed underneath: a removed role is refused once invalidated
    del world.storage.inner.data["roles/app"]
    world.backend.invalidate("roles/app")
    with pytest.raises(LogicalError, match="does not exist"):
        world.read("token/app")


def test_an_invalidated_stale_token_is_not_served(world):
    """Storage holds a token past its margin (written by another node's clock, say) and the
    memory is dropped: the engine notices on load and mints, it never serves the stale one."""
    world.read("token/app")
    raw = json.loads(world.storage.inner.data["token-cache/app"])
    raw["expires_at"] = world.clock() + 10  # inside the margin
    raw["access_token"] = "stale-token"
    world.storage.inner.data["token-cache/app"] = json.dumps(raw)
    world.backend.invalidate("token-cache/app")
    got = world.read("token/app")
    assert got["access_token"] != "stale-token" and got["cached"] is False


def test_refresh_is_single_flight_per_role(world):
    world.request(Operation.UPDATE, "roles/other", {"scopes": "cards:read"})
    mints = world.emulator.request_counts["token"]
    router = world.backend.router

    async def many() -> list[Any]:
        reads = [router.handle(Request(Operation.READ, f"token/{n}")) for n in ["app"] * 8 + ["other"] * 8]
        return await asyncio.gather(*reads)

    results = world.loop.run_until_complete(many())
    by_role: dict[str, set[str]] = {}
    for name, resp in zip(["app"] * 8 + ["other"] * 8, results, strict=True):
        by_role.setdefault(name, set()).add(resp.data["access_token"])
    assert {k: len(v) for k, v in by_role.items()} == {"app": 1, "other": 1}
    # one mint per role (plus at most one for the manager, to create the second role's account)
    assert world.emulator.request_counts["token"] - mints <= 3


def test_writes_and_role_changes_drop_the_cached_token(world):
    first = world.read("token/app")
    world.request(Operation.UPDATE, "roles/app", {"scopes": "cards:read,cards:write"})
    second = world.read("token/app")
    assert second["cached"] is False and second["client_id"] != first["client_id"]
    world.request(Operation.DELETE, "roles/app")
    with pytest.raises(LogicalError, match="does not exist"):
        world.read("token/app")


def test_a_load_in_flight_during_invalidate_is_not_remembered():
    """Storage answers a get after the host invalidated the key: the answer is returned
    to that caller but not kept, so the next get loads again."""

    class Slow(MemoryStorage):
        def __init__(self) -> None:
            super().__init__()
            self.gate = asyncio.Event()
            self.gets = 0

        async def get(self, key: str) -> dict[str, Any] | None:
            self.gets += 1
            value = await super().get(key)
            await self.gate.wait()
            return value

    async def go() -> None:
        inner = Slow()
        inner.data["roles/a"] = json.dumps({"v": 1})
        cache = CachingStorage(inner, ("roles/",))
        pending = asyncio.ensure_future(cache.get("roles/a"))
        await asyncio.sleep(0)  # the load is in flight
        inner.data["roles/a"] = json.dumps({"v": 2})
        cache.invalidate("roles/a")
        inner.gate.set()
        assert await pending == {"v": 1}
        assert await cache.get("roles/a") == {"v": 2}, "the old answer was not remembered"
        assert inner.gets == 2
        cache.invalidate()  # everything
        assert await cache.get("roles/a") == {"v": 2} and inner.gets == 3
        assert cache.calls["storage_get"] == 3

    asyncio.run(go())
