"""``roles/NAME``: scopes, vaults and TTLs for ``token/NAME`` and ``creds/NAME``."""

from __future__ import annotations

from typing import Any

from vault_plugin.framework import Field, FieldData, FieldType, Operation, Path, Request, Response, bad_request
from vault_plugin.interface import Engine

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"

ROLE_FIELDS = {
    "name": Field(FieldType.NAME, "Name of the role.", required=True, pattern=NAME_RE),
    "scopes": Field(FieldType.COMMA_LIST, "VGS scopes of the role's service accounts (at least one).", default=[]),
    "vaults": Field(FieldType.COMMA_LIST, "VGS vault ids the accounts may use.", default=[]),
    "token_lifespan": Field(
        FieldType.DURATION,
        "Access token lifespan of the role's accounts (>= 60s; VGS default if unset).",
        default=0,
        minimum=0,
    ),
    "ttl": Field(FieldType.DURATION, "Lease TTL of creds/NAME (mount default if unset).", default=0, minimum=0),
    "max_ttl": Field(
        FieldType.DURATION, "Maximum lease life of creds/NAME (mount max if unset).", default=0, minimum=0
    ),
    "token_leases": Field(
        FieldType.BOOL,
        "Give every token/NAME read its own (non-renewable) lease. Off by default: tokens are returned "
        "without a lease, with 'ttl' and 'rotation_period' like Vault's rotating static credentials.",
        default=False,
    ),
}

ACCOUNT_SHAPE = ("scopes", "vaults", "token_lifespan")


async def get_role(b: Engine, name: str) -> dict[str, Any]:
    role = await b.storage.get(f"roles/{name}")
    if role is None:
        raise bad_request(f"role {name!r} does not exist")
    return role


async def drop_role_account(b: Engine, name: str) -> None:
    """Forget (and delete at VGS) the service account behind token/NAME."""
    acct = await b.storage.get(f"role-accounts/{name}")
    await b.storage.delete(f"token-cache/{name}")
    if acct is not None:
        await b.delete_account(acct["client_id"])
        await b.storage.delete(f"role-accounts/{name}")


def paths(b: Engine) -> list[Path]:
    async def read(req: Request, d: FieldData) -> Response | None:
        role = await b.storage.get(f"roles/{d.get('name')}")
        return None if role is None else Response(data=role)

    async def write(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        async with b.lock(f"role/{name}"):
            existing = await b.storage.get(f"roles/{name}")
            role: dict[str, Any] = dict(existing) if existing else {k: d.get(k) for k in ROLE_FIELDS if k != "name"}
            for key in ROLE_FIELDS:
                if key != "name" and d.provided(key):
                    role[key] = d.get(key)
            if not role["scopes"]:
                raise bad_request("field 'scopes' is required: give at least one VGS scope")
            if role["token_lifespan"] and role["token_lifespan"] < 60:
                raise bad_request("field 'token_lifespan': must be at least 60 seconds")
            if role["ttl"] and role["max_ttl"] and role["ttl"] > role["max_ttl"]:
                raise bad_request("field 'ttl': must not exceed max_ttl")
            await b.storage.put(f"roles/{name}", role)
            if existing and any(existing.get(k) != role[k] for k in ACCOUNT_SHAPE):
                # VGS cannot change an account's scopes: the token account is replaced on next use.
                async with b.lock(f"token/{name}"):
                    await drop_role_account(b, name)
        return None

    async def delete(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        async with b.lock(f"role/{name}"), b.lock(f"token/{name}"):
            if await b.storage.get(f"roles/{name}") is not None:
                await drop_role_account(b, name)
                await b.storage.delete(f"roles/{name}")
        return None

    async def list_roles(req: Request, d: FieldData) -> Response | None:
        return Response(data={"keys": await b.storage.list("roles/")})

    return [
        Path(
            pattern="roles/?",
            synopsis="List the roles.",
            description="Lists the names of the roles of this engine.",
            operations={Operation.LIST: list_roles},
        ),
        Path(
            pattern=rf"roles/(?P<name>{NAME_RE})",
            synopsis="Manage a role: the scopes, vaults and TTLs of the credentials it issues.",
            description=(
                "A role describes VGS service accounts: 'scopes' (comma list, at least one, cannot change on an "
                "existing VGS account, so changing them replaces the role's token account), 'vaults', "
                "'token_lifespan' of their access tokens, the lease 'ttl'/'max_ttl' of creds/NAME, and whether "
                "token/NAME reads are leased ('token_leases', off by default)."
            ),
            fields=ROLE_FIELDS,
            operations={Operation.READ: read, Operation.UPDATE: write, Operation.DELETE: delete},
            existence=lambda req, d: _exists(b, d.get("name")),
        ),
    ]


async def _exists(b: Engine, name: str) -> bool:
    return await b.storage.get(f"roles/{name}") is not None
