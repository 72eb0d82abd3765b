"""The plugin on a real OpenBao, seen from outside: what its mounts reference, through the
HTTP API and OpenBao's own lease list, for the oracle in ``plugin_oracle``.

Referenced accounts: ``config``'s manager, each static role's current and previous account
(``static-creds/NAME``), the account each token role's token was issued to (the token's
``azp``), and the accounts of the ``creds/`` leases OpenBao lists under ``sys/leases``
(mapped to accounts by the reads that returned them: OpenBao does not show a lease's data).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
from dataclasses import dataclass, field
from typing import Any

from rotation.vgs import AccessToken, CMPProbe, RetryPolicy, Secret, VGSHttp, errors
from tests.faults.plugin_oracle import Referenced, token_owner
from tests.vault_fixtures import Bao


class OffsetClock:
    """Real time plus an offset the test moves: the emulator's clock, kept in step with the
    plugin's test-hook clock (``tidy advance_clock``), so VGS refuses a token the engine
    served past its expiry."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class MountSpec:
    path: str
    token_roles: tuple[str, ...] = ()
    creds_roles: tuple[str, ...] = ()
    static_roles: tuple[str, ...] = ()


@dataclass
class View:
    """One mount as its API and its host show it, plus what could not be decided."""

    ref: Referenced
    problems: list[str] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)  # accounts of leases past expiry, revocation pending
    unknown_leases: int = 0  # listed by OpenBao, never returned to us (an answer lost in a restart)
    secrets: set[str] = field(default_factory=set)


def data(bao: Bao, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """The ``data`` of an API answer; an AssertionError naming the path and status otherwise."""
    r = bao.api(method, path, body)
    if r.status_code == 204:
        return {}
    if r.status_code != 200:
        raise AssertionError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return dict(r.json().get("data") or {})


def lease_ids(bao: Bao, mount: str, role: str) -> list[str]:
    r = bao.api("LIST", f"sys/leases/lookup/{mount}/creds/{role}/")
    if r.status_code == 404:
        return []
    if r.status_code != 200:
        raise AssertionError(f"list leases of {mount}/creds/{role}: {r.status_code} {r.text[:300]}")
    return [f"{mount}/creds/{role}/{key}" for key in r.json()["data"]["keys"]]


def lease_expiry(bao: Bao, lease_id: str) -> float | None:
    """When OpenBao will expire the lease (epoch seconds); None if it is gone."""
    r = bao.api("PUT", "sys/leases/lookup", {"lease_id": lease_id})
    if r.status_code == 400:
        return None
    if r.status_code != 200:
        raise AssertionError(f"lookup {lease_id}: {r.status_code} {r.text[:200]}")
    text = r.json()["data"]["expire_time"]
    return _epoch(text) if text else None


def _epoch(text: str) -> float:
    """RFC 3339 with nanoseconds (Go's format) to epoch seconds."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", text)
    if m is None:
        raise AssertionError(f"unexpected time format from OpenBao: {text!r}")
    zone = "+00:00" if m[3] == "Z" else m[3]
    return dt.datetime.fromisoformat(m[1] + zone).timestamp() + float(m[2] or 0)


@functools.cache
def checker_http() -> VGSHttp:
    """One keep-alive client for the checks' own VGS calls (no retries: a check sees what is)."""
    return VGSHttp(timeout=10.0, retry=RetryPolicy.none())


def probe(cmp_url: str, raw: str) -> str | None:
    """Does VGS accept this token now? None if it does, else why not."""
    tok = AccessToken(access_token=Secret(raw), token_type="Bearer", expires_in=60, issued_at=time.time())
    try:
        CMPProbe(cmp_url, http=checker_http()).check(tok)
    except errors.VGSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def view(bao: Bao, spec: MountSpec, known: dict[str, str], cmp_url: str) -> View:
    """Read the mount's references through the API (faults off; this may mint a token)."""
    out = View(Referenced())
    label = spec.path
    out.ref.manager = data(bao, "GET", f"{spec.path}/config").get("client_id")
    for role in spec.static_roles:
        creds = data(bao, "GET", f"{spec.path}/static-creds/{role}")
        out.ref.static[role] = (creds.get("client_id"), creds.get("previous_client_id"))
        out.secrets.add(creds["client_secret"])
    for role in spec.token_roles:
        raw = str(data(bao, "GET", f"{spec.path}/token/{role}").get("access_token", ""))
        out.secrets.add(raw)
        problem = probe(cmp_url, raw)
        if problem:
            out.problems.append(f"{label}: VGS refuses the token token/{role} serves: {problem}")
        owner = token_owner(raw)
        if owner:
            out.ref.tokens[role] = owner
    now = time.time()
    for role in spec.creds_roles:
        for lease_id in lease_ids(bao, spec.path, role):
            cid = known.get(lease_id)
            expires = lease_expiry(bao, lease_id)
            if cid is None:
                out.unknown_leases += 1
            elif expires is not None and expires <= now + 1:
                out.expired.add(cid)  # its revocation may be under way or retried later
            elif expires is not None:
                out.ref.leases[lease_id] = cid
    return out
