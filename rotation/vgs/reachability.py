"""Does a VGS host answer at all? One unauthenticated GET, for preflight checks.

Any HTTP answer proves DNS, routing, the TLS handshake (verified against the system's CA
bundle, as every other VGS call) and a server behind it; what the answer says is the
business of the calls that use the host. No credential is sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rotation.vgs.endpoints import check_url
from rotation.vgs.errors import BadResponse
from rotation.vgs.http import VGSHttp, json_object, safe_url


@dataclass(frozen=True)
class HostAnswer:
    """What a host answered: the HTTP status, how long it took, and whether TLS was used."""

    url: str  # without query or userinfo
    status: int
    seconds: float
    tls: bool

    @property
    def unavailable(self) -> bool:
        """A gateway or overload answer: the host is there, the service behind it is not (now)."""
        return self.status == 429 or self.status >= 500


def probe_host(url: str, *, http: VGSHttp, allow_insecure_http: bool = False, what: str = "url") -> HostAnswer:
    """GET ``url`` once and return whatever status came back. Raises
    :class:`rotation.vgs.errors.Unavailable` when nothing answered (refused, DNS, TLS
    verification, timeout) and :class:`rotation.vgs.errors.InsecureURL` for a refused URL."""
    check_url(url, allow_insecure_http=allow_insecure_http, what=what)
    began = time.perf_counter()
    response = http.request(f"reach {what}", "GET", url, expected=range(100, 600), headers={"Accept": "*/*"})
    return HostAnswer(safe_url(url), response.status_code, time.perf_counter() - began, urlsplit(url).scheme == "https")


def fetch_jwks(url: str, *, http: VGSHttp, allow_insecure_http: bool = False) -> int:
    """The number of keys the JWKS at ``url`` serves; :class:`BadResponse` when it serves none."""
    check_url(url, allow_insecure_http=allow_insecure_http, what="jwks_url")
    response = http.request("fetch JWKS", "GET", url, headers={"Accept": "application/json"})
    keys: Any = json_object(response, "fetch JWKS").get("keys")
    if not isinstance(keys, list) or not keys:
        raise BadResponse("JWKS has no keys", operation="fetch JWKS", status=response.status_code)
    return len(keys)
