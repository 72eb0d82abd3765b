"""A tiny path router in the spirit of Vault's Go ``framework`` package, without protobuf.

Paths are regular expressions with named groups; each declares typed fields (validated,
with errors that name the field), the operations it serves, help text and an optional
existence check. Leased secrets are declared as :class:`SecretType` with renew/revoke
callbacks and dispatched by ``internal_data["secret_type"]`` like the Go framework does.
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Protocol

from vault_plugin.storage import Storage


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    LIST = "list"
    HELP = "help"
    RENEW = "renew"
    REVOKE = "revoke"
    ROLLBACK = "rollback"


class ErrorKind(Enum):
    BAD_REQUEST = 400
    PERMISSION_DENIED = 403
    UNSUPPORTED_PATH = -1
    UNSUPPORTED_OPERATION = -2
    UPSTREAM = 502
    UNAVAILABLE = 503
    INTERNAL = 500


class LogicalError(Exception):
    """An error answered to the caller; ``str(self)`` must never contain a secret."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.BAD_REQUEST) -> None:
        super().__init__(message)
        self.kind = kind


def bad_request(message: str) -> LogicalError:
    return LogicalError(message, ErrorKind.BAD_REQUEST)


class FieldType(Enum):
    STRING = "string"
    INT = "int"
    BOOL = "bool"
    DURATION = "duration (seconds or Go-style like 90s, 15m, 1h)"
    COMMA_LIST = "comma-separated list of strings"
    NAME = "name"


_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int:
    """Seconds from an int, a numeric string or a Go-style duration ("1h30m")."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            seconds = float(text)
        elif _DURATION_RE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(text))
        else:
            raise ValueError("not a duration")
    else:
        raise ValueError("not a duration")
    if seconds < 0:
        raise ValueError("negative duration")
    return int(seconds)


@dataclass(frozen=True)
class Field:
    type: FieldType
    description: str
    default: Any = None
    required: bool = False
    minimum: int | None = None
    maximum: int | None = None
    allowed: Sequence[str] | None = None
    pattern: str | None = None
    sensitive: bool = False

    def parse(self, name: str, raw: Any) -> Any:
        try:
            value = self._convert(raw)
        except (TypeError, ValueError):
            raise bad_request(f"field {name!r}: expected {self.type.value}") from None
        if isinstance(value, int) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise bad_request(f"field {name!r}: must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise bad_request(f"field {name!r}: must be at most {self.maximum}")
        if self.allowed is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item not in self.allowed:
                    raise bad_request(f"field {name!r}: {item!r} is not one of {', '.join(self.allowed)}")
        if self.pattern is not None and isinstance(value, str) and value and not re.fullmatch(self.pattern, value):
            raise bad_request(f"field {name!r}: invalid value (must match {self.pattern})")
        return value

    def _convert(self, raw: Any) -> Any:
        t = self.type
        if t in (FieldType.STRING, FieldType.NAME):
            if isinstance(raw, bool | dict | list) or raw is None:
                raise TypeError
            return str(raw)
        if t is FieldType.INT:
            if isinstance(raw, bool):
                raise TypeError
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw)
        if t is FieldType.BOOL:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in {"true", "1", "t", "yes"}:
                return True
            if isinstance(raw, str) and raw.lower() in {"false", "0", "f", "no", ""}:
                return False
            raise ValueError
        if t is FieldType.DURATION:
            return parse_duration(raw)
        if t is FieldType.COMMA_LIST:
            if isinstance(raw, str):
                return [p.strip() for p in raw.split(",") if p.strip()]
            if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
                return [p.strip() for p in raw if p.strip()]
            raise TypeError
        raise TypeError  # pragma: no cover


class FieldData:
    """Request data checked against a path's schema: unknown fields and bad values are refused."""

    def __init__(self, schema: Mapping[str, Field], raw: Mapping[str, Any]) -> None:
        unknown = sorted(set(raw) - set(schema))
        if unknown:
            raise bad_request(f"unknown field(s): {', '.join(unknown)}; valid fields: {', '.join(sorted(schema))}")
        self._schema = schema
        self._raw = dict(raw)
        self._parsed = {name: schema[name].parse(name, value) for name, value in raw.items()}

    def provided(self, name: str) -> bool:
        return name in self._parsed

    def get(self, name: str) -> Any:
        if name in self._parsed:
            return self._parsed[name]
        spec = self._schema[name]
        if spec.required:
            raise bad_request(f"field {name!r} is required")
        return list(spec.default) if isinstance(spec.default, list) else spec.default

    def require(self, *names: str) -> None:
        for name in names:
            if name not in self._parsed or self._parsed[name] in ("", []):
                raise bad_request(f"field {name!r} is required")


@dataclass
class LeaseInfo:
    """What the host sends back with renew/revoke: the internal data and lease timing."""

    internal_data: dict[str, Any]
    ttl: float = 0.0
    increment: float = 0.0
    issue_time: float | None = None
    lease_id: str = ""


@dataclass
class LeaseSecret:
    """A secret to be leased by the host (TTLs in seconds; the host caps them to mount limits)."""

    secret_type: str
    internal_data: dict[str, Any]
    ttl: float
    max_ttl: float = 0.0
    renewable: bool = False
    issue_time: float = field(default_factory=time.time)


@dataclass
class Request:
    operation: Operation
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    mount_point: str = ""
    mount_accessor: str = ""
    request_id: str = ""
    display_name: str = ""
    secret: LeaseInfo | None = None


@dataclass
class Response:
    data: dict[str, Any] = field(default_factory=dict)
    secret: LeaseSecret | None = None
    warnings: list[str] = field(default_factory=list)


Handler = Callable[[Request, FieldData], Awaitable[Response | None]]
ExistenceCheck = Callable[[Request, FieldData], Awaitable[bool]]
LeaseHandler = Callable[[Request], Awaitable[Response | None]]


@dataclass
class Path:
    pattern: str
    synopsis: str
    description: str
    operations: Mapping[Operation, Handler]
    fields: Mapping[str, Field] = field(default_factory=dict)
    existence: ExistenceCheck | None = None

    def __post_init__(self) -> None:
        self._regex = re.compile(self.pattern)

    def match(self, path: str) -> dict[str, str] | None:
        m = self._regex.fullmatch(path)
        return None if m is None else {k: v for k, v in m.groupdict().items() if v is not None}

    def help_text(self) -> str:
        lines = [self.synopsis, "", self.description.strip(), "", "Operations: " + ", ".join(sorted(self.operations))]
        if self.fields:
            lines += ["", "Fields:"]
            for name, spec in self.fields.items():
                extra = " (required)" if spec.required else ""
                if spec.default not in (None, "", []):
                    extra += f" (default: {spec.default})"
                lines.append(f"  {name} ({spec.type.value}){extra}: {spec.description}")
        return "\n".join(lines)


@dataclass
class SecretType:
    name: str
    revoke: LeaseHandler
    renew: LeaseHandler | None = None


class Router:
    """Dispatches a :class:`Request` to a path handler, a lease callback, help or rollback."""

    def __init__(
        self,
        *,
        help_text: str,
        paths: Sequence[Path],
        secrets: Sequence[SecretType] = (),
        periodic: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.help = help_text
        self.paths = list(paths)
        self.secrets = {s.name: s for s in secrets}
        self.periodic = periodic

    def route(self, path: str, *, kind: ErrorKind = ErrorKind.UNSUPPORTED_PATH) -> tuple[Path, dict[str, str]]:
        for p in self.paths:
            captured = p.match(path)
            if captured is not None:
                return p, captured
        raise LogicalError(f"unsupported path: {path!r} (see `path-help` on the mount for the paths)", kind)

    def _field_data(self, p: Path, captured: dict[str, str], req: Request) -> FieldData:
        raw = dict(req.data)
        for key in captured:
            raw.pop(key, None)
        raw.update(captured)
        return FieldData(p.fields, raw)

    async def exists(self, req: Request) -> tuple[bool, bool]:
        """(check_found, exists) for the host's existence check."""
        try:
            p, captured = self.route(req.path)
        except LogicalError:
            return False, False
        if p.existence is None:
            return False, False
        return True, await p.existence(req, FieldData(p.fields, captured))

    async def handle(self, req: Request) -> Response | None:
        op = req.operation
        if op is Operation.ROLLBACK:
            if self.periodic is not None:
                await self.periodic()
            return None
        if op in (Operation.RENEW, Operation.REVOKE):
            if req.secret is None:
                raise bad_request(f"{op.value} request without a secret")
            kind = str(req.secret.internal_data.get("secret_type", ""))
            secret_type = self.secrets.get(kind)
            if secret_type is None:
                raise bad_request(f"unknown secret type {kind!r}")
            if op is Operation.REVOKE:
                return await secret_type.revoke(req)
            if secret_type.renew is None:
                raise LogicalError("this lease is not renewable", ErrorKind.UNSUPPORTED_OPERATION)
            return await secret_type.renew(req)
        if op is Operation.HELP:
            if req.path in ("", "/"):
                return Response(data={"help": self.help, "see_also": []})
            p, _ = self.route(req.path)
            return Response(data={"help": p.help_text(), "see_also": []})
        # A 400 with the path named: a 404 would read as "No value found" in the CLI.
        p, captured = self.route(req.path, kind=ErrorKind.BAD_REQUEST)
        handler = p.operations.get(op)
        if handler is None and op is Operation.CREATE:
            handler = p.operations.get(Operation.UPDATE)
        if handler is None:
            raise LogicalError(
                f"operation {op.value!r} is not supported on {req.path!r} "
                f"(supported: {', '.join(sorted(p.operations))})",
                ErrorKind.UNSUPPORTED_OPERATION,
            )
        return await handler(req, self._field_data(p, captured, req))


class SystemView(Protocol):
    """The host's view of mount limits (seconds)."""

    async def default_lease_ttl(self) -> int: ...
    async def max_lease_ttl(self) -> int: ...


class LogicalBackend(abc.ABC):
    """What the transport needs from an engine: lifecycle hooks, special paths and a router."""

    router: Router
    seal_wrap_storage: tuple[str, ...] = ()

    @abc.abstractmethod
    async def setup(self, storage: Storage, system: SystemView, config: Mapping[str, str], backend_uuid: str) -> None:
        """Called once per mount with the host's storage and system view."""

    async def initialize(self) -> None:
        return None

    async def cleanup(self) -> None:
        return None

    def invalidate(self, key: str) -> None:
        return None
