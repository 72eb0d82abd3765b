"""go-plugin's GRPCBroker: the host announces listeners (``ConnInfo``) on a long-lived stream;
the plugin dials them by id with the same mTLS to reach the host's Storage and SystemView."""

from __future__ import annotations

import asyncio
import logging
import ssl

from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.server import Stream

from vault_plugin.proto import broker_grpc, broker_pb2
from vault_plugin.transport.tls import HOST_NAME

log = logging.getLogger("vault_plugin.broker")


class Broker(broker_grpc.GRPCBrokerBase):
    def __init__(self, client_ssl: ssl.SSLContext) -> None:
        self._ssl = client_ssl
        self._known: dict[int, broker_pb2.ConnInfo] = {}
        self._changed = asyncio.Condition()

    async def StartStream(self, stream: Stream[broker_pb2.ConnInfo, broker_pb2.ConnInfo]) -> None:
        log.debug("broker stream opened")
        async for info in stream:
            if info.HasField("knock") and info.knock.knock:
                # Knocks belong to multiplexed brokers, which this plugin does not announce.
                continue
            async with self._changed:
                self._known[info.service_id] = info
                self._changed.notify_all()
            log.debug("broker connection announced", extra={"service_id": info.service_id, "network": info.network})
        log.debug("broker stream closed")

    async def conn_info(self, service_id: int, timeout: float = 5.0) -> broker_pb2.ConnInfo:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: service_id in self._known), timeout)
            return self._known[service_id]

    async def dial(self, service_id: int, timeout: float = 5.0) -> Channel:
        info = await self.conn_info(service_id, timeout)
        config = Configuration(ssl_target_name_override=HOST_NAME)
        if info.network == "unix":
            return Channel(path=info.address, ssl=self._ssl, config=config)
        host, _, port = info.address.rpartition(":")
        return Channel(host=host.strip("[]"), port=int(port), ssl=self._ssl, config=config)
