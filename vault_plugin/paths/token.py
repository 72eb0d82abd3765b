"""``token/NAME``: a short-lived VGS access token for the role's own service account."""

from __future__ import annotations

import asyncio
from typing import Any

from rotation.vgs import ClientCredentials, Secret, errors
from vault_plugin.framework import (
    Field,
    FieldData,
    FieldType,
    LeaseSecret,
    Operation,
    Path,
    Request,
    Response,
    SecretType,
)
from vault_plugin.interface import Engine
from vault_plugin.paths.roles import NAME_RE, get_role
from vault_plugin.vgs_access import vgs_error

SECRET_TYPE = "vgs_token"


def refresh_margin(lifetime: float) -> float:
    """Re-mint when less than this much life remains: a quarter of the lifetime, 30 s..5 min."""
    return max(30.0, min(300.0, lifetime / 4))


async def role_account(b: Engine, name: str, role: dict[str, Any], crash: str | None = None) -> dict[str, Any]:
    """The role's token account, created at first use (caller holds the role's token lock;
    the periodic tidy leaves a role's accounts alone while that lock is held)."""
    acct = await b.storage.get(f"role-accounts/{name}")
    if acct is None:
        created = await b.create_account("token", name, role)
        b.crash_point("token-after-create", crash)
        acct = {
            "client_id": created.client_id,
            "client_secret": created.client_secret.reveal(),
            "created_at": b.clock(),
        }
        await b.storage.put(f"role-accounts/{name}", acct)
    return acct


def _mint_raw(tokens: Any, creds: ClientCredentials) -> Any:
    """Mint, turning a refused credential into :class:`_Retryable` so the caller can replace
    an account that was deleted behind the engine's back (instead of a generic VGS error)."""
    try:
        return tokens.mint(creds)
    except errors.InvalidCredentials as exc:
        raise _Retryable(exc) from None


class _Retryable(Exception):
    def __init__(self, exc: errors.InvalidCredentials) -> None:
        self.exc = exc


def refresh_at(cached: dict[str, Any]) -> float:
    """When the engine stops serving this token and mints a fresh one."""
    return float(cached["expires_at"]) - refresh_margin(float(cached["expires_at"]) - float(cached["issued_at"]))


def token_data(cached: dict[str, Any], now: float, hit: bool) -> dict[str, Any]:
    """The read's data, shaped like Vault's rotating static credentials: ``ttl`` (seconds until
    the engine serves a fresh token) and ``rotation_period`` (the token's lifespan) make Vault
    Agent and consul-template read again right after the refresh, without a lease."""
    lifetime = float(cached["expires_at"]) - float(cached["issued_at"])
    return {
        "access_token": cached["access_token"],
        "token_type": cached["token_type"],
        "client_id": cached["client_id"],
        "issued_at": int(cached["issued_at"]),
        "expires_at": int(cached["expires_at"]),
        "ttl": max(0, int(refresh_at(cached) - now)),
        "rotation_period": round(lifetime),
        "cached": hit,
    }


def paths(b: Engine) -> list[Path]:
    async def read(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        role = await get_role(b, name)
        key = f"token-cache/{name}"
        # The hot path: config, role and token are in memory, so a fresh token is served
        # without a storage call and without waiting for the refresh lock.
        cached = await b.storage.get(key)
        now = b.clock()
        hit = cached is not None and now < refresh_at(cached)
        if not hit:
            async with b.lock(f"token/{name}"):  # single-flight refresh per role
                cached = await b.storage.get(key)
                now = b.clock()
                hit = cached is not None and now < refresh_at(cached)
                if not hit:
                    cached = await _mint_with_replace(b, name, role, d.get("crash_at") if b.test_hooks else None)
                    await b.storage.put(key, cached)
                    b.stats["token_mints"] += 1
        assert cached is not None
        b.stats["token_reads"] += 1
        b.stats["token_cache_hits"] += hit
        if not role.get("token_leases"):
            return Response(data=token_data(cached, now, hit))
        ttl = max(1.0, cached["expires_at"] - now)
        return Response(
            data=token_data(cached, now, hit),
            secret=LeaseSecret(SECRET_TYPE, {"role": name}, ttl=ttl, max_ttl=ttl, renewable=False, issue_time=now),
        )

    fields = {"name": Field(FieldType.NAME, "Name of the role.", required=True, pattern=NAME_RE)}
    if b.test_hooks:
        fields["crash_at"] = Field(FieldType.STRING, "Test hook.", allowed=("token-after-create",))
    return [
        Path(
            pattern=rf"token/(?P<name>{NAME_RE})",
            synopsis="Get a short-lived VGS access token for a role.",
            description=(
                "Returns access_token, token_type, issued_at and expires_at for the role's own service account "
                "(created on first use, annotated with this mount and role, stored seal-wrapped). The token is "
                "cached and reused until a quarter of its life (30 s to 5 min) remains; refreshes are "
                "single-flight per role ('cached' says whether this read was served from the cache). "
                "No lease is created: like Vault's rotating static credentials, 'ttl' is the number of seconds "
                "until the engine serves a fresh token and 'rotation_period' the token's lifespan, so Vault "
                "Agent and consul-template read again right after the refresh. A role with token_leases=true "
                "gets a non-renewable lease per read instead (TTL: the token's remaining life; revoking it does "
                "not revoke the token at VGS, which has no such API)."
            ),
            fields=fields,
            operations={Operation.READ: read},
        )
    ]


FRESH_ACCOUNT_RETRY_DELAYS = (0.5, 1.0, 2.0)  # a new account may take a moment to be usable


async def _mint_with_replace(b: Engine, name: str, role: dict[str, Any], crash: str | None = None) -> dict[str, Any]:
    """Mint for the role's account. A brand-new account that is refused is retried briefly
    (propagation); an old one that is refused was deleted behind our back: it is replaced once."""
    c = await b.clients()
    for attempt in (1, 2):
        known = await b.storage.get(f"role-accounts/{name}")
        acct = known or await role_account(b, name, role, crash)
        creds = ClientCredentials(acct["client_id"], Secret(acct["client_secret"]))
        delays = () if known else FRESH_ACCOUNT_RETRY_DELAYS
        for delay in (*delays, None):
            try:
                tok = await b.call("mint a token for the role", _mint_raw, c.tokens, creds)
                return {
                    "access_token": tok.access_token.reveal(),
                    "token_type": tok.token_type,
                    "issued_at": tok.issued_at,
                    "expires_at": tok.expires_at,
                    "client_id": acct["client_id"],
                }
            except _Retryable as exc:
                if delay is None:
                    if not known or attempt == 2:
                        raise b_error(exc) from None
                    break
                await asyncio.sleep(delay)
        # refused although it worked before: delete it (if still there) and create a new one
        await b.delete_account(acct["client_id"])
        await b.storage.delete(f"role-accounts/{name}")
    raise AssertionError("unreachable")  # pragma: no cover


def b_error(exc: _Retryable) -> Exception:
    return vgs_error(exc.exc, "mint a token for the role")


def secret_types(b: Engine) -> list[SecretType]:
    async def revoke(req: Request) -> Response | None:
        return None  # VGS has no token revocation: the token expires by itself

    return [SecretType(SECRET_TYPE, revoke=revoke)]
