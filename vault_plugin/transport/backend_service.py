"""``pb.Backend``: translates the host's protobuf requests to framework requests and back."""

from __future__ import annotations

import json
import logging
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from grpclib.server import Stream

from vault_plugin.framework import (
    ErrorKind,
    LeaseInfo,
    LogicalBackend,
    LogicalError,
    Operation,
    Request,
    Response,
)
from vault_plugin.proto import backend_grpc, backend_pb2
from vault_plugin.storage import GRPCStorage
from vault_plugin.transport.broker import Broker

log = logging.getLogger("vault_plugin.backend_service")

NS = 1_000_000_000
BACKEND_TYPE_LOGICAL = 1

# ProtoError.err_type values (the host's translation table)
ERR_INTERNAL = 2
ERR_CODED = 3
ERR_UNSUPPORTED_PATH = 6


class GRPCSystemView:
    def __init__(self, stub: backend_grpc.SystemViewStub) -> None:
        self._stub = stub

    async def default_lease_ttl(self) -> int:
        return int((await self._stub.DefaultLeaseTTL(backend_pb2.Empty())).TTL // NS)

    async def max_lease_ttl(self) -> int:
        return int((await self._stub.MaxLeaseTTL(backend_pb2.Empty())).TTL // NS)


def _json_object(text: str, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise LogicalError(f"{what} is not JSON") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LogicalError(f"{what} is not a JSON object")
    return value


def request_from_proto(req: backend_pb2.Request) -> Request:
    try:
        op = Operation(req.operation)
    except ValueError:
        raise LogicalError(f"unsupported operation {req.operation!r}", ErrorKind.UNSUPPORTED_PATH) from None
    lease = None
    if req.HasField("secret"):
        lo = req.secret.lease_options
        lease = LeaseInfo(
            internal_data=_json_object(req.secret.internal_data, "secret internal data"),
            ttl=lo.TTL / NS,
            increment=lo.increment / NS,
            issue_time=lo.issue_time.ToNanoseconds() / NS if lo.HasField("issue_time") else None,
            lease_id=req.secret.lease_id,
        )
    return Request(
        operation=op,
        path=req.path,
        data=_json_object(req.data, "request data"),
        mount_point=req.mount_point,
        mount_accessor=req.mount_accessor,
        request_id=req.id,
        display_name=req.display_name,
        secret=lease,
    )


def response_to_proto(resp: Response) -> backend_pb2.Response:
    out = backend_pb2.Response(data=json.dumps(resp.data), warnings=resp.warnings)
    if resp.secret is not None:
        s = resp.secret
        issue = Timestamp()
        issue.FromNanoseconds(int(s.issue_time * NS))
        internal = dict(s.internal_data, secret_type=s.secret_type)
        out.secret.CopyFrom(
            backend_pb2.Secret(
                internal_data=json.dumps(internal),
                lease_options=backend_pb2.LeaseOptions(
                    TTL=int(s.ttl * NS), MaxTTL=int(s.max_ttl * NS), renewable=s.renewable, issue_time=issue
                ),
            )
        )
    return out


def error_to_proto(exc: BaseException) -> backend_pb2.ProtoError:
    if isinstance(exc, LogicalError):
        if exc.kind is ErrorKind.UNSUPPORTED_PATH:
            return backend_pb2.ProtoError(err_type=ERR_UNSUPPORTED_PATH, err_msg=str(exc))
        code = 405 if exc.kind is ErrorKind.UNSUPPORTED_OPERATION else exc.kind.value
        return backend_pb2.ProtoError(err_type=ERR_CODED, err_code=code, err_msg=str(exc))
    # Never echo an unexpected exception's text: it could carry a secret. The log has the type.
    return backend_pb2.ProtoError(
        err_type=ERR_INTERNAL, err_msg=f"internal error in the VGS plugin ({type(exc).__name__}); see the server log"
    )


RESOLVE_PATH = "resolve-path"
_RESOLVE_PATH_REPLY = backend_pb2.HandleRequestReply(
    err=backend_pb2.ProtoError(err_type=ERR_UNSUPPORTED_PATH, err_msg="unsupported operation 'resolve-path'")
)


class BackendService(backend_grpc.BackendBase):
    def __init__(self, backend: LogicalBackend, broker: Broker) -> None:
        self.backend = backend
        self.broker = broker
        self._setup_done = False

    async def Setup(self, stream: Stream[backend_pb2.SetupArgs, backend_pb2.SetupReply]) -> None:
        args = await stream.recv_message()
        assert args is not None
        try:
            channel = await self.broker.dial(args.broker_id)
            storage = GRPCStorage(backend_grpc.StorageStub(channel), self.backend.seal_wrap_storage)
            system = GRPCSystemView(backend_grpc.SystemViewStub(channel))
            await self.backend.setup(storage, system, dict(args.Config), args.backendUUID)
            self._setup_done = True
            log.info("backend set up", extra={"broker_id": args.broker_id})
            await stream.send_message(backend_pb2.SetupReply())
        except Exception as exc:
            log.error("backend setup failed", extra={"error_type": type(exc).__name__})
            await stream.send_message(backend_pb2.SetupReply(err=f"setup failed: {type(exc).__name__}"))

    async def Initialize(self, stream: Stream[backend_pb2.InitializeArgs, backend_pb2.InitializeReply]) -> None:
        await stream.recv_message()
        try:
            await self.backend.initialize()
            await stream.send_message(backend_pb2.InitializeReply())
        except Exception as exc:
            log.error("initialize failed", extra={"error_type": type(exc).__name__})
            await stream.send_message(backend_pb2.InitializeReply(err=error_to_proto(exc)))

    async def Cleanup(self, stream: Stream[backend_pb2.Empty, backend_pb2.Empty]) -> None:
        await stream.recv_message()
        await self.backend.cleanup()
        await stream.send_message(backend_pb2.Empty())

    async def InvalidateKey(self, stream: Stream[backend_pb2.InvalidateKeyArgs, backend_pb2.Empty]) -> None:
        args = await stream.recv_message()
        assert args is not None
        self.backend.invalidate(args.key)
        await stream.send_message(backend_pb2.Empty())

    async def Type(self, stream: Stream[backend_pb2.Empty, backend_pb2.TypeReply]) -> None:
        await stream.recv_message()
        await stream.send_message(backend_pb2.TypeReply(type=BACKEND_TYPE_LOGICAL))

    async def SpecialPaths(self, stream: Stream[backend_pb2.Empty, backend_pb2.SpecialPathsReply]) -> None:
        await stream.recv_message()
        paths = backend_pb2.Paths(seal_wrap_storage=list(self.backend.seal_wrap_storage))
        await stream.send_message(backend_pb2.SpecialPathsReply(paths=paths))

    async def HandleExistenceCheck(
        self, stream: Stream[backend_pb2.HandleExistenceCheckArgs, backend_pb2.HandleExistenceCheckReply]
    ) -> None:
        args = await stream.recv_message()
        assert args is not None
        try:
            found, exists = await self.backend.router.exists(request_from_proto(args.request))
            await stream.send_message(backend_pb2.HandleExistenceCheckReply(check_found=found, exists=exists))
        except Exception as exc:
            await stream.send_message(backend_pb2.HandleExistenceCheckReply(err=error_to_proto(exc)))

    async def HandleRequest(
        self, stream: Stream[backend_pb2.HandleRequestArgs, backend_pb2.HandleRequestReply]
    ) -> None:
        args = await stream.recv_message()
        assert args is not None
        op, path = args.request.operation, args.request.path
        if op == RESOLVE_PATH:
            # OpenBao 2.7 asks before every request to the mount; the engine keeps the paths it
            # is given, so the answer is always "unsupported path" (the host then uses the path
            # as sent). Answered without parsing the request: it is half of every read's RPCs.
            await stream.send_message(_RESOLVE_PATH_REPLY)
            return
        try:
            if not self._setup_done:
                raise LogicalError("backend is not set up yet", ErrorKind.UNAVAILABLE)
            resp = await self.backend.router.handle(request_from_proto(args.request))
            reply = backend_pb2.HandleRequestReply()
            if resp is not None:
                reply.response.CopyFrom(response_to_proto(resp))
            if op != "rollback":
                log.debug("request handled", extra={"operation": op, "path": path})
            await stream.send_message(reply)
        except Exception as exc:
            if isinstance(exc, LogicalError):
                level = logging.DEBUG if exc.kind is ErrorKind.UNSUPPORTED_PATH else logging.INFO
                log.log(level, "request refused", extra={"operation": op, "path": path, "reason": str(exc)})
            else:
                log.error("request failed", extra={"operation": op, "path": path, "error_type": type(exc).__name__})
            await stream.send_message(backend_pb2.HandleRequestReply(err=error_to_proto(exc)))
