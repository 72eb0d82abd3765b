"""Write coalescing for the gRPC server: one TLS record and one ``sendto`` per event-loop turn.

grpclib writes each batch of HTTP/2 frames as soon as it is produced: a unary reply is three
writes (headers, data, trailers), each its own TLS record and system call, each waking the
host's reader. Measured on OpenBao (strace of the plugin), a cached ``token/NAME`` read made
8 ``sendto`` calls; with the corked transport it makes 4 (a reply per RPC, and the ack of the
PING that grpc-go's flow-control estimator sends after each reply). The transport buffers what
is written during one turn of the loop and hands it to the real transport in one piece at the
end of the turn (``call_soon``), so nothing waits longer than that turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, cast


class CorkedTransport(asyncio.Transport):
    """Wraps a transport; the ``write`` calls of one loop turn reach it as one ``write``."""

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._inner = inner
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._pending.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._inner.is_closing():
            self._inner.write(data)

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def abort(self) -> None:
        self._pending.clear()
        self._inner.abort()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._inner.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size() + sum(len(d) for d in self._pending)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()


class CorkedProtocol(asyncio.Protocol):
    """Hands the wrapped protocol a :class:`CorkedTransport` instead of the real one, and
    tells ``on_connection`` when a connection is made (the host has connected)."""

    def __init__(self, inner: asyncio.Protocol, on_connection: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._on_connection = on_connection
        self._transport: CorkedTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they have the same methods.
        self._transport = CorkedTransport(cast(asyncio.Transport, transport), asyncio.get_running_loop())
        self._inner.connection_made(self._transport)
        if self._on_connection is not None:
            self._on_connection()

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._transport.flush()
        self._inner.connection_lost(exc)
