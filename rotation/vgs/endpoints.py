"""Where VGS lives: hosts and paths, with presets for live and for the local emulator."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from rotation.vgs.errors import InsecureURL

LIVE_AUTH = "https://auth.verygoodsecurity.com"
TOKEN_PATH = "/auth/realms/vgs/protocol/openid-connect/token"
JWKS_PATH = "/auth/realms/vgs/protocol/openid-connect/certs"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure_http: bool = False, what: str = "url") -> str:
    """Return ``url`` if it is safe to send credentials to, else raise :class:`InsecureURL`.

    ``https://`` is always accepted; ``http://`` only for loopback hosts (the emulator)
    unless ``allow_insecure_http`` says otherwise. Anything else is refused.
    """
    if not isinstance(url, str) or not url:
        raise InsecureURL(f"{what} must be a non-empty URL")
    return _check_url(url, bool(allow_insecure_http), str(what))


@functools.lru_cache(maxsize=1024)
def _check_url(url: str, allow_insecure_http: bool, what: str) -> str:
    """A pure function, remembered: a publisher run checks the same hosts for every document."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        if allow_insecure_http or _is_loopback(parts.hostname):
            return url
        raise InsecureURL(
            f"{what} uses plain http:// to a non-loopback host ({parts.hostname}); "
            "use https:// or allow insecure HTTP explicitly"
        )
    raise InsecureURL(f"{what} is not an http(s) URL with a host")


@dataclass(frozen=True)
class VGSEndpoints:
    """The URLs the client layer talks to. Every one is configurable."""

    token_url: str
    accounts_url: str
    vault_management_url: str
    cmp_url: str | None = None
    jwks_url: str | None = None
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "allow_insecure_http" and value is not None:
                check_url(value, allow_insecure_http=self.allow_insecure_http, what=f.name)

    @classmethod
    def live(cls, *, environment: str = "live") -> VGSEndpoints:
        """VGS production hosts. ``environment`` picks the CMP and vault-management host."""
        env = environment if environment in {"live", "sandbox"} else "live"
        return cls(
            token_url=LIVE_AUTH + TOKEN_PATH,
            accounts_url="https://accounts.apps.verygoodsecurity.com",
            vault_management_url=f"https://api.{env}.verygoodsecurity.com",
            cmp_url="https://vgsapi.com" if env == "live" else "https://sandbox.vgsapi.com",
            jwks_url=LIVE_AUTH + JWKS_PATH,
        )

    @classmethod
    def emulator(cls, base_url: str) -> VGSEndpoints:
        """The layout of ``vgs-rotate emulator`` served at ``base_url``."""
        base = base_url.rstrip("/")
        return cls(
            token_url=base + TOKEN_PATH,
            accounts_url=base + "/accounts",
            vault_management_url=base + "/vault-management",
            cmp_url=base + "/cmp",
            jwks_url=base + JWKS_PATH,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, allow_insecure_http: bool = False) -> VGSEndpoints:
        """Build from a mapping such as the emulator's bootstrap file or a secret's hosts."""
        return cls(
            token_url=data["token_url"],
            accounts_url=data["accounts_url"],
            vault_management_url=data["vault_management_url"],
            cmp_url=data.get("cmp_url"),
            jwks_url=data.get("jwks_url"),
            allow_insecure_http=bool(data.get("allow_insecure_http", allow_insecure_http)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
