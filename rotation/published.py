"""The published access token: the one JSON shape the publisher writes and consumers read.

``{"access_token", "token_type", "expires_at", "issued_at", "scope", "client_id"}``, with
epoch seconds. ``expires_at`` is ``issued_at + expires_in`` on the minting host's clock,
``issued_at`` taken *before* the token request, so it errs early, never late.
Shared by the publisher and the consumer; no store or HTTP import here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rotation.vgs.secret import Secret
from rotation.vgs.tokens import AccessToken

FIELDS = ("access_token", "token_type", "expires_at", "issued_at", "scope", "client_id")


class PublishedTokenError(ValueError):
    """A published value is not a token document. The message names the field, never a value."""


@dataclass(frozen=True)
class PublishedToken:
    access_token: Secret
    token_type: str
    expires_at: int
    issued_at: int
    scope: str
    client_id: str

    @classmethod
    def from_access_token(cls, token: AccessToken, client_id: str) -> PublishedToken:
        """``client_id`` is the credential that minted it (the document's), the publisher's
        source of truth for "which credential is published"."""
        return cls(
            access_token=token.access_token,
            token_type=token.token_type or "Bearer",
            expires_at=math.floor(token.expires_at),
            issued_at=math.floor(token.issued_at),
            scope=" ".join(token.scope),
            client_id=client_id,
        )

    def remaining(self, now: float | None = None) -> float:
        return self.expires_at - (time.time() if now is None else now)

    def is_fresh(self, now: float | None = None, skew: float = 0.0) -> bool:
        """True while more than ``skew`` seconds of life remain."""
        return self.remaining(now) > skew

    def as_dict(self) -> dict[str, Any]:
        """The published document, token included: only for the store write."""
        return {
            "access_token": self.access_token.reveal(),
            "token_type": self.token_type,
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "scope": self.scope,
            "client_id": self.client_id,
        }

    def public_dict(self) -> dict[str, Any]:
        """What may be printed or logged: everything but the token."""
        return {**self.as_dict(), "access_token": "***"}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    def custom_metadata(self) -> dict[str, str]:
        """KV v2 custom metadata (string values only): expiry and owner, readable without the data."""
        return {"expires_at": str(self.expires_at), "issued_at": str(self.issued_at), "client_id": self.client_id}

    @classmethod
    def parse(cls, raw: str | bytes | Mapping[str, Any]) -> PublishedToken:
        """Parse a published value; raise :class:`PublishedTokenError` naming the bad field."""
        if isinstance(raw, str | bytes):
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise PublishedTokenError("published token is not valid JSON") from None
        else:
            data = raw
        if not isinstance(data, Mapping):
            raise PublishedTokenError("published token must be a JSON object")
        for key in ("access_token", "token_type", "client_id"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise PublishedTokenError(f"published token: field '{key}' must be a non-empty string")
        scope = data.get("scope", "")
        if not isinstance(scope, str):
            raise PublishedTokenError("published token: field 'scope' must be a string")
        times: dict[str, int] = {}
        for key in ("expires_at", "issued_at"):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise PublishedTokenError(f"published token: field '{key}' must be epoch seconds")
            times[key] = math.floor(value)
        return cls(
            access_token=Secret(data["access_token"]),
            token_type=data["token_type"],
            expires_at=times["expires_at"],
            issued_at=times["issued_at"],
            scope=scope,
            client_id=data["client_id"],
        )
