"""Typed storage over the host's ``pb.Storage`` (reached through the broker connection).

Values are JSON documents. Seal-wrapping is decided by the host from the engine's
``seal_wrap_storage`` special paths; the entry flag is set as well for those prefixes.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Protocol

from vault_plugin.proto import backend_grpc, backend_pb2


class StorageError(Exception):
    """The host's storage answered an error (the message comes from the host)."""


class Storage(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None: ...
    async def put(self, key: str, value: dict[str, Any]) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def list(self, prefix: str) -> list[str]: ...


class GRPCStorage:
    """:class:`Storage` backed by the host's gRPC Storage service."""

    def __init__(self, stub: backend_grpc.StorageStub, seal_wrap_prefixes: tuple[str, ...] = ()) -> None:
        self._stub = stub
        self._seal_wrap = seal_wrap_prefixes

    async def get(self, key: str) -> dict[str, Any] | None:
        reply = await self._stub.Get(backend_pb2.StorageGetArgs(key=key))
        if reply.err:
            raise StorageError(f"storage get {key!r}: {reply.err}")
        if not reply.HasField("entry") or not reply.entry.key:
            return None
        value = json.loads(reply.entry.value)
        if not isinstance(value, dict):
            raise StorageError(f"storage entry {key!r} is not a JSON object")
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        wrap = any(key == p or key.startswith(p) for p in self._seal_wrap)
        entry = backend_pb2.StorageEntry(key=key, value=json.dumps(value).encode(), seal_wrap=wrap)
        reply = await self._stub.Put(backend_pb2.StoragePutArgs(entry=entry))
        if reply.err:
            raise StorageError(f"storage put {key!r}: {reply.err}")

    async def delete(self, key: str) -> None:
        reply = await self._stub.Delete(backend_pb2.StorageDeleteArgs(key=key))
        if reply.err:
            raise StorageError(f"storage delete {key!r}: {reply.err}")

    async def list(self, prefix: str) -> list[str]:
        reply = await self._stub.List(backend_pb2.StorageListArgs(prefix=prefix))
        if reply.err:
            raise StorageError(f"storage list {prefix!r}: {reply.err}")
        return list(reply.keys)


class MemoryStorage:
    """In-memory :class:`Storage` for unit tests."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = self.data.get(key)
        return None if raw is None else dict(json.loads(raw))

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self.data[key] = json.dumps(value)

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def list(self, prefix: str) -> list[str]:
        out: set[str] = set()
        for key in self.data:
            if key.startswith(prefix):
                rest = key[len(prefix) :]
                head, sep, _ = rest.partition("/")
                out.add(head + sep)
        return sorted(out)


class CachingStorage:
    """Write-through memory of hot, small entries (config, roles, role accounts, cached tokens),
    so the hot path (``token/NAME``) makes no storage call.

    Coherent because the host runs one plugin process per mount and every write goes through
    it; :meth:`invalidate` drops an entry when the host says it changed underneath
    (``InvalidateKey``: replication, standby nodes). A load that was in flight when its key
    was invalidated (or written) is not remembered, so an invalidation is never undone by a
    late answer. ``calls`` counts the operations that reached the inner storage (storage RPCs).
    """

    def __init__(self, inner: Storage, prefixes: tuple[str, ...], calls: Counter[str] | None = None) -> None:
        self._inner = inner
        self._prefixes = prefixes
        self._memo: dict[str, dict[str, Any] | None] = {}
        self._generation: dict[str, int] = {}
        self._epoch = 0
        self.calls: Counter[str] = Counter() if calls is None else calls

    def _cached(self, key: str) -> bool:
        return any(key == p or (p.endswith("/") and key.startswith(p)) for p in self._prefixes)

    def _stamp(self, key: str) -> tuple[int, int]:
        return self._epoch, self._generation.get(key, 0)

    def _forget(self, key: str) -> None:
        self._memo.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1

    async def get(self, key: str) -> dict[str, Any] | None:
        if key in self._memo:
            value = self._memo[key]
            return None if value is None else dict(value)
        stamp = self._stamp(key)
        self.calls["storage_get"] += 1
        value = await self._inner.get(key)
        if self._cached(key) and self._stamp(key) == stamp:
            self._memo[key] = None if value is None else dict(value)
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self._forget(key)
        stamp = self._stamp(key)
        self.calls["storage_put"] += 1
        await self._inner.put(key, value)
        if self._cached(key) and self._stamp(key) == stamp:
            self._memo[key] = json.loads(json.dumps(value))

    async def delete(self, key: str) -> None:
        self._forget(key)
        self.calls["storage_delete"] += 1
        await self._inner.delete(key)

    async def list(self, prefix: str) -> list[str]:
        self.calls["storage_list"] += 1
        return await self._inner.list(prefix)

    def invalidate(self, key: str | None = None) -> None:
        """Forget ``key`` (or everything): the next read loads it from storage."""
        if key is None:
            self._memo.clear()
            self._epoch += 1
        else:
            self._forget(key)

    def __len__(self) -> int:
        return len(self._memo)
