"""Plain request/response values between the HTTP plumbing (server.py) and the VGS logic (api.py).

Keeping sockets out of the API logic lets each be read, and changed, on its own.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
JSONAPI = "application/vnd.api+json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def bearer(self) -> str | None:
        """The token of ``Authorization: Bearer ...``, or None."""
        scheme, _, value = (self.header("authorization") or "").partition(" ")
        value = value.strip()
        return value if scheme.lower() == "bearer" and value else None

    def basic(self) -> tuple[str, str] | None:
        """(user, password) of ``Authorization: Basic ...``, or None when absent or malformed."""
        scheme, _, value = (self.header("authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None

    def json_body(self) -> Any:
        """The body parsed as JSON; ValueError when it is not."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    status: int, payload: Any, content_type: str = JSON, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": content_type, **(headers or {})})


def jsonapi(status: int, payload: Any) -> Response:
    return json_response(status, payload, JSONAPI)


def jsonapi_error(status: int, title: str, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON:API error document, the shape of VGS's Accounts, vault-management and CMP APIs."""
    payload = {"errors": [{"status": str(status), "title": title, "detail": detail}]}
    return json_response(status, payload, JSONAPI, headers)


def oauth_error(status: int, error: str, description: str) -> Response:
    """A Keycloak token-endpoint error."""
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    return json_response(status, {"error": error, "error_description": description}, JSON, headers)


def html_error(status: int, reason: str) -> Response:
    """What a load balancer in front of VGS answers when the service behind it is down."""
    page = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, page.encode(), {"Content-Type": "text/html"})


def no_content() -> Response:
    return Response(204)
