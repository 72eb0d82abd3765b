"""The published token (what the publisher wrote for consumers) is fresh and was minted
by AWSCURRENT's client: after a rotation the publisher must have caught up.

"Fresh" means more than ``min_remaining`` seconds of life left: a publisher running on
schedule never lets a token fall below its margin (120 s by default), so less means it
is not running, or failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from rotation.document import SecretDocument
from rotation.health import checks
from rotation.published import PublishedToken, PublishedTokenError
from rotation.publisher import DEFAULT_MARGIN_SECONDS, PublishConfig
from rotation.stores import CURRENT, KVStore, SecretStore

DEFAULT_MIN_REMAINING = float(DEFAULT_MARGIN_SECONDS)
State = Literal["fresh", "stale", "expired", "other-client", "missing", "unparseable"]


@dataclass(frozen=True)
class Destination:
    kind: Literal["sm", "kv"]
    ref: str

    @property
    def label(self) -> str:
        return f"secret {self.ref}" if self.kind == "sm" else f"Vault path {self.ref}"


def from_config(config: PublishConfig, secret_ids: Iterable[str]) -> list[Destination]:
    """Where the publisher configuration sends the tokens of the secret known by ``secret_ids``
    (its name and ARN: a configuration may use either)."""
    ids = set(secret_ids)
    out: list[Destination] = []
    for target in config.targets:
        if target.credential_secret_id in ids:
            if target.token_secret_id:
                out.append(Destination("sm", target.token_secret_id))
            if target.vault_path:
                out.append(Destination("kv", target.vault_path))
    return out


@dataclass(frozen=True)
class Published:
    """What one destination holds, judged against AWSCURRENT's client. No token inside."""

    destination: Destination
    state: State
    client_id: str | None = None
    expires_in: int | None = None

    @property
    def ok(self) -> bool:
        return self.state == "fresh"

    def describe(self, expected_client: str) -> str:
        where = self.destination.label
        if self.state == "missing":
            return f"{where} holds no token"
        if self.state == "unparseable":
            return f"{where} holds something that is not a published token"
        if self.state == "other-client":
            return f"{where} holds a token of {self.client_id}, not of AWSCURRENT's {expected_client}"
        assert self.expires_in is not None
        if self.state == "expired":
            return f"{where}: the token of {self.client_id} expired {-self.expires_in} s ago"
        if self.state == "stale":
            return f"{where}: the token of {self.client_id} expires in {self.expires_in} s"
        return f"{where}: token of {self.client_id}, expires in {self.expires_in // 60} min"

    def as_dict(self) -> dict[str, Any]:
        return {
            "destination": f"{self.destination.kind}:{self.destination.ref}",
            "state": self.state,
            "client_id": self.client_id,
            "expires_in": self.expires_in,
        }


def read(
    dest: Destination,
    client_id: str,
    *,
    secrets: SecretStore | None,
    kv: Callable[[], KVStore] | None,
    min_remaining: float = DEFAULT_MIN_REMAINING,
    now: float | None = None,
) -> Published:
    """Read and judge one destination. Store errors propagate (the caller decides)."""
    raw: Any
    if dest.kind == "sm":
        if secrets is None:
            raise ValueError("no Secrets Manager store to read the published token from")
        raw = secrets.get_value(dest.ref, stage=CURRENT)
    else:
        if kv is None:
            raise ValueError("no Vault to read the published token from")
        entry = kv().read(dest.ref)
        raw = dict(entry.data) if entry and entry.data else None
    if raw is None:
        return Published(dest, "missing")
    try:
        token = PublishedToken.parse(raw)
    except PublishedTokenError:
        return Published(dest, "unparseable")
    left = int(token.remaining(time.time() if now is None else now))
    if token.client_id != client_id:
        return Published(dest, "other-client", token.client_id, left)
    state: State = "fresh" if left > min_remaining else ("expired" if left <= 0 else "stale")
    return Published(dest, state, token.client_id, left)


def check(
    destinations: list[Destination],
    doc: SecretDocument,
    *,
    secrets: SecretStore | None,
    kv: Callable[[], KVStore] | None,
    min_remaining: float = DEFAULT_MIN_REMAINING,
) -> list[checks.Check]:
    """One check per destination."""
    title = "published token"
    if not destinations:
        return [
            checks.skipped(
                "published", title, "no publisher destination given (--token-secret, --vault-path or --publish-config)"
            )
        ]
    if doc.kind != "service-account" or not doc.client_id:
        return [checks.skipped("published", title, "access credentials mint no token: nothing is published")]
    out: list[checks.Check] = []
    for dest in destinations:
        cid = f"published:{dest.kind}:{dest.ref}"
        try:
            seen = read(dest, doc.client_id, secrets=secrets, kv=kv, min_remaining=min_remaining)
        except checks.TEST_ERRORS as exc:
            out.append(checks.from_error(cid, title, exc, f"let this identity read {dest.label}"))
            continue
        text = seen.describe(doc.client_id)
        if seen.ok:
            out.append(checks.ok(cid, title, text, **seen.as_dict()))
            continue
        flag = "--token-secret" if dest.kind == "sm" else "--vault-path"
        fix = (
            "the publisher is not running or failing: check its schedule and logs (docs/PUBLISHER.md), or run "
            f"`vgs-rotate publish --credential-secret SECRET_ID {flag} {dest.ref}`"
        )
        if seen.state == "other-client":
            fix = "the publisher has not caught up with the last rotation: " + fix
        out.append(checks.failed(cid, title, text, fix, **seen.as_dict()))
    return out
