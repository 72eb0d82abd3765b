# mypy: ignore-errors
import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Header(_message.Message):
    __slots__ = ("header",)
    HEADER_FIELD_NUMBER: _ClassVar[int]
    header: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, header: _Optional[_Iterable[str]] = ...) -> None: ...

class ProtoError(_message.Message):
    __slots__ = ("err_type", "err_msg", "err_code")
    ERR_TYPE_FIELD_NUMBER: _ClassVar[int]
    ERR_MSG_FIELD_NUMBER: _ClassVar[int]
    ERR_CODE_FIELD_NUMBER: _ClassVar[int]
    err_type: int
    err_msg: str
    err_code: int
    def __init__(self, err_type: _Optional[int] = ..., err_msg: _Optional[str] = ..., err_code: _Optional[int] = ...) -> None: ...

class Paths(_message.Message):
    __slots__ = ("root", "unauthenticated", "local_storage", "seal_wrap_storage", "write_forwarded_storage")
    ROOT_FIELD_NUMBER: _ClassVar[int]
    UNAUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    LOCAL_STORAGE_FIELD_NUMBER: _ClassVar[int]
    SEAL_WRAP_STORAGE_FIELD_NUMBER: _ClassVar[int]
    WRITE_FORWARDED_STORAGE_FIELD_NUMBER: _ClassVar[int]
    root: _containers.RepeatedScalarFieldContainer[str]
    unauthenticated: _containers.RepeatedScalarFieldContainer[str]
    local_storage: _containers.RepeatedScalarFieldContainer[str]
    seal_wrap_storage: _containers.RepeatedScalarFieldContainer[str]
    write_forwarded_storage: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, root: _Optional[_Iterable[str]] = ..., unauthenticated: _Optional[_Iterable[str]] = ..., local_storage: _Optional[_Iterable[str]] = ..., seal_wrap_storage: _Optional[_Iterable[str]] = ..., write_forwarded_storage: _Optional[_Iterable[str]] = ...) -> None: ...

class Request(_message.Message):
    __slots__ = ("id", "operation", "path", "data", "secret", "headers", "display_name", "mount_point", "mount_type", "mount_accessor", "entity_id")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Header
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Header, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    MOUNT_POINT_FIELD_NUMBER: _ClassVar[int]
    MOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MOUNT_ACCESSOR_FIELD_NUMBER: _ClassVar[int]
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    operation: str
    path: str
    data: str
    secret: Secret
    headers: _containers.MessageMap[str, Header]
    display_name: str
    mount_point: str
    mount_type: str
    mount_accessor: str
    entity_id: str
    def __init__(self, id: _Optional[str] = ..., operation: _Optional[str] = ..., path: _Optional[str] = ..., data: _Optional[str] = ..., secret: _Optional[_Union[Secret, _Mapping]] = ..., headers: _Optional[_Mapping[str, Header]] = ..., display_name: _Optional[str] = ..., mount_point: _Optional[str] = ..., mount_type: _Optional[str] = ..., mount_accessor: _Optional[str] = ..., entity_id: _Optional[str] = ...) -> None: ...

class LeaseOptions(_message.Message):
    __slots__ = ("TTL", "renewable", "increment", "issue_time", "MaxTTL")
    TTL_FIELD_NUMBER: _ClassVar[int]
    RENEWABLE_FIELD_NUMBER: _ClassVar[int]
    INCREMENT_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    MAXTTL_FIELD_NUMBER: _ClassVar[int]
    TTL: int
    renewable: bool
    increment: int
    issue_time: _timestamp_pb2.Timestamp
    MaxTTL: int
    def __init__(self, TTL: _Optional[int] = ..., renewable: _Optional[bool] = ..., increment: _Optional[int] = ..., issue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., MaxTTL: _Optional[int] = ...) -> None: ...

class Secret(_message.Message):
    __slots__ = ("lease_options", "internal_data", "lease_id")
    LEASE_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_DATA_FIELD_NUMBER: _ClassVar[int]
    LEASE_ID_FIELD_NUMBER: _ClassVar[int]
    lease_options: LeaseOptions
    internal_data: str
    lease_id: str
    def __init__(self, lease_options: _Optional[_Union[LeaseOptions, _Mapping]] = ..., internal_data: _Optional[str] = ..., lease_id: _Optional[str] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("secret", "data", "redirect", "warnings", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Header
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Header, _Mapping]] = ...) -> None: ...
    SECRET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    secret: Secret
    data: str
    redirect: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    headers: _containers.MessageMap[str, Header]
    def __init__(self, secret: _Optional[_Union[Secret, _Mapping]] = ..., data: _Optional[str] = ..., redirect: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ..., headers: _Optional[_Mapping[str, Header]] = ...) -> None: ...

class HandleRequestArgs(_message.Message):
    __slots__ = ("storage_id", "request")
    STORAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    storage_id: int
    request: Request
    def __init__(self, storage_id: _Optional[int] = ..., request: _Optional[_Union[Request, _Mapping]] = ...) -> None: ...

class HandleRequestReply(_message.Message):
    __slots__ = ("response", "err")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERR_FIELD_NUMBER: _ClassVar[int]
    response: Response
    err: ProtoError
    def __init__(self, response: _Optional[_Union[Response, _Mapping]] = ..., err: _Optional[_Union[ProtoError, _Mapping]] = ...) -> None: ...

class InitializeArgs(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InitializeReply(_message.Message):
    __slots__ = ("err",)
    ERR_FIELD_NUMBER: _ClassVar[int]
    err: ProtoError
    def __init__(self, err: _Optional[_Union[ProtoError, _Mapping]] = ...) -> None: ...

class SpecialPathsReply(_message.Message):
    __slots__ = ("paths",)
    PATHS_FIELD_NUMBER: _ClassVar[int]
    paths: Paths
    def __init__(self, paths: _Optional[_Union[Paths, _Mapping]] = ...) -> None: ...

class HandleExistenceCheckArgs(_message.Message):
    __slots__ = ("storage_id", "request")
    STORAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    storage_id: int
    request: Request
    def __init__(self, storage_id: _Optional[int] = ..., request: _Optional[_Union[Request, _Mapping]] = ...) -> None: ...

class HandleExistenceCheckReply(_message.Message):
    __slots__ = ("check_found", "exists", "err")
    CHECK_FOUND_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    ERR_FIELD_NUMBER: _ClassVar[int]
    check_found: bool
    exists: bool
    err: ProtoError
    def __init__(self, check_found: _Optional[bool] = ..., exists: _Optional[bool] = ..., err: _Optional[_Union[ProtoError, _Mapping]] = ...) -> None: ...

class SetupArgs(_message.Message):
    __slots__ = ("broker_id", "Config", "backendUUID")
    class ConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BROKER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    BACKENDUUID_FIELD_NUMBER: _ClassVar[int]
    broker_id: int
    Config: _containers.ScalarMap[str, str]
    backendUUID: str
    def __init__(self, broker_id: _Optional[int] = ..., Config: _Optional[_Mapping[str, str]] = ..., backendUUID: _Optional[str] = ...) -> None: ...

class SetupReply(_message.Message):
    __slots__ = ("err",)
    ERR_FIELD_NUMBER: _ClassVar[int]
    err: str
    def __init__(self, err: _Optional[str] = ...) -> None: ...

class TypeReply(_message.Message):
    __slots__ = ("type",)
    TYPE_FIELD_NUMBER: _ClassVar[int]
    type: int
    def __init__(self, type: _Optional[int] = ...) -> None: ...

class InvalidateKeyArgs(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class StorageEntry(_message.Message):
    __slots__ = ("key", "value", "seal_wrap")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SEAL_WRAP_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: bytes
    seal_wrap: bool
    def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ..., seal_wrap: _Optional[bool] = ...) -> None: ...

class StorageListArgs(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class StorageListReply(_message.Message):
    __slots__ = ("keys", "err")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    ERR_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    err: str
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., err: _Optional[str] = ...) -> None: ...

class StorageGetArgs(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class StorageGetReply(_message.Message):
    __slots__ = ("entry", "err")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    ERR_FIELD_NUMBER: _ClassVar[int]
    entry: StorageEntry
    err: str
    def __init__(self, entry: _Optional[_Union[StorageEntry, _Mapping]] = ..., err: _Optional[str] = ...) -> None: ...

class StoragePutArgs(_message.Message):
    __slots__ = ("entry",)
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    entry: StorageEntry
    def __init__(self, entry: _Optional[_Union[StorageEntry, _Mapping]] = ...) -> None: ...

class StoragePutReply(_message.Message):
    __slots__ = ("err",)
    ERR_FIELD_NUMBER: _ClassVar[int]
    err: str
    def __init__(self, err: _Optional[str] = ...) -> None: ...

class StorageDeleteArgs(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class StorageDeleteReply(_message.Message):
    __slots__ = ("err",)
    ERR_FIELD_NUMBER: _ClassVar[int]
    err: str
    def __init__(self, err: _Optional[str] = ...) -> None: ...

class TTLReply(_message.Message):
    __slots__ = ("TTL",)
    TTL_FIELD_NUMBER: _ClassVar[int]
    TTL: int
    def __init__(self, TTL: _Optional[int] = ...) -> None: ...
