"""The plugin process: validate the launch, serve gRPC over mTLS on a Unix socket, print the
handshake line, and exit on Shutdown, on parent death or when no host connects in time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf.empty_pb2 import Empty
from grpclib._typing import IServable
from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.health.v1.health_grpc import HealthBase
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from grpclib.server import Server, Stream

from vault_plugin.framework import LogicalBackend
from vault_plugin.proto import broker_grpc, broker_pb2, version_grpc, version_pb2
from vault_plugin.transport.backend_service import BackendService
from vault_plugin.transport.broker import Broker
from vault_plugin.transport.corking import CorkedProtocol
from vault_plugin.transport.handshake import (
    HandshakeError,
    LaunchConfig,
    check_environment,
    handshake_line,
    socket_path,
)
from vault_plugin.transport.tls import client_context, generate_certificate, server_context

log = logging.getLogger("vault_plugin.server")

PARENT_POLL_SECONDS = 1.0


class Health(HealthBase):
    async def Check(self, stream: Stream[HealthCheckRequest, HealthCheckResponse]) -> None:
        await stream.recv_message()
        await stream.send_message(HealthCheckResponse(status=HealthCheckResponse.SERVING))

    async def Watch(self, stream: Stream[HealthCheckRequest, HealthCheckResponse]) -> None:
        await stream.recv_message()
        await stream.send_message(HealthCheckResponse(status=HealthCheckResponse.SERVING))


class Controller(broker_grpc.GRPCControllerBase):
    def __init__(self, stop: asyncio.Event) -> None:
        self._stop = stop

    async def Shutdown(self, stream: Stream[broker_pb2.Empty, broker_pb2.Empty]) -> None:
        await stream.recv_message()
        log.info("shutdown requested by the host")
        await stream.send_message(broker_pb2.Empty())
        self._stop.set()


class Version(version_grpc.PluginVersionBase):
    def __init__(self, version: str) -> None:
        self._version = version

    async def Version(self, stream: Stream[version_pb2.Empty, version_pb2.VersionReply]) -> None:
        await stream.recv_message()
        await stream.send_message(version_pb2.VersionReply(plugin_version=self._version))


class _UnimplementedFallback(dict[str, Handler]):
    """Answers unknown methods (``plugin.GRPCStdio``, ``pluginutil.PluginMultiplexing``, ...)
    with a proper gRPC UNIMPLEMENTED. grpclib's own answer lacks ``content-type``, which
    grpc-go reports as UNKNOWN, and the host then fails the mount instead of falling back."""

    def get(self, key: str, default: Any = None) -> Handler:
        found = super().get(key)
        return found if found is not None else _UNIMPLEMENTED


class _CorkingServer(Server):
    """grpclib's server with coalesced writes (:mod:`vault_plugin.transport.corking`); it
    sets ``connected`` on the first connection (no per-request event listener needed)."""

    def __init__(self, handlers: list[IServable], connected: asyncio.Event) -> None:
        super().__init__(handlers)
        self._connected = connected

    def _protocol_factory(self) -> Any:  # grpclib has no public hook for the protocol
        return CorkedProtocol(super()._protocol_factory(), on_connection=self._connected.set)


async def _unimplemented(stream: Stream[Any, Any]) -> None:
    raise GRPCError(Status.UNIMPLEMENTED, "method not implemented by the VGS plugin")


_UNIMPLEMENTED = Handler(_unimplemented, Cardinality.STREAM_STREAM, Empty, Empty)


async def _watch_parent(stop: asyncio.Event, parent: int) -> None:
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("host process went away; exiting")
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_POLL_SECONDS)


async def _watch_first_connection(stop: asyncio.Event, connected: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(connected.wait(), timeout)
    except TimeoutError:
        log.error("no connection from the host within the timeout; exiting", extra={"timeout_seconds": timeout})
        stop.set()


async def serve(backend: LogicalBackend, config: LaunchConfig, *, version: str = "") -> int:
    cert = generate_certificate()
    stop = asyncio.Event()
    connected = asyncio.Event()
    broker = Broker(client_context(cert, config.host_cert_pem))
    handlers: list[IServable] = [BackendService(backend, broker), broker, Controller(stop), Health()]
    if version:
        handlers.append(Version(version))
    server = _CorkingServer(handlers, connected)
    server._mapping = _UnimplementedFallback(server._mapping)  # grpclib has no public hook for this
    loop = asyncio.get_running_loop()
    # Like go-plugin: ignore SIGINT (Ctrl-C in the host's terminal reaches the whole process
    # group; the host shuts us down itself) and exit cleanly on SIGTERM.
    loop.add_signal_handler(signal.SIGINT, lambda: log.info("interrupt received, ignoring (the host decides)"))
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    path = socket_path(config.socket_dir)
    await server.start(path=path, ssl=server_context(cert, config.host_cert_pem))
    os.chmod(path, 0o600)
    sys.stdout.write(handshake_line(path, cert) + "\n")
    sys.stdout.flush()
    log.info("plugin serving", extra={"network": "unix", "address": path})
    watchers = [
        asyncio.create_task(_watch_parent(stop, os.getppid())),
        asyncio.create_task(_watch_first_connection(stop, connected, config.connect_timeout)),
    ]
    try:
        await stop.wait()
    finally:
        # Remove the socket first: the host kills a plugin that has not exited ~2 s after
        # Shutdown, and open connections can keep wait_closed() waiting.
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        for task in watchers:
            task.cancel()
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(backend.cleanup(), 1)
    log.info("plugin stopped")
    return 0


def run(make_backend: Callable[[], LogicalBackend], env: Mapping[str, str] | None = None, *, version: str = "") -> int:
    """Entry point of the plugin process; returns the exit status."""
    environ = os.environ if env is None else env
    try:
        config = check_environment(environ)
    except HandshakeError as exc:
        sys.stderr.write(f"vgs-secrets-plugin: {exc}\n")
        return 1
    return asyncio.run(serve(make_backend(), config, version=version))
