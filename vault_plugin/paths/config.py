"""``config`` and ``config/rotate-root``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from rotation.vgs import ClientCredentials, Secret, TokenClient, VGSEndpoints, check_url, errors
from vault_plugin.framework import (
    Field,
    FieldData,
    FieldType,
    LogicalError,
    Operation,
    Path,
    Request,
    Response,
    bad_request,
)
from vault_plugin.interface import Engine
from vault_plugin.vgs_access import EngineConfig, VGSClients, vgs_error

URL_FIELDS = ("token_url", "accounts_url", "vault_management_url")
CRASH_POINTS = ("after-wal", "after-create", "after-validate", "after-store", "after-delete-old")


def _defaults() -> dict[str, Any]:
    live = VGSEndpoints.live()
    return {
        "token_url": live.token_url,
        "accounts_url": live.accounts_url,
        "vault_management_url": live.vault_management_url,
        "allow_insecure_http": False,
    }


CONFIG_FIELDS = {
    "client_id": Field(FieldType.STRING, "Client id of the manager service account (may manage service accounts)."),
    "client_secret": Field(FieldType.STRING, "Client secret of the manager account. Never returned.", sensitive=True),
    "organization_id": Field(FieldType.STRING, "VGS organization id (AC...)."),
    "token_url": Field(FieldType.STRING, "OAuth2 token endpoint.", default=_defaults()["token_url"]),
    "accounts_url": Field(FieldType.STRING, "Accounts API base URL.", default=_defaults()["accounts_url"]),
    "vault_management_url": Field(
        FieldType.STRING, "Vault-management API base URL.", default=_defaults()["vault_management_url"]
    ),
    "allow_insecure_http": Field(
        FieldType.BOOL, "Allow plain http:// to non-loopback hosts (never in production).", default=False
    ),
}


async def mint_check(b: Engine, token_url: str, creds: ClientCredentials, insecure: bool, action: str) -> None:
    """Mint a token with ``creds``; refuse with a clear error if VGS does not accept them."""
    try:
        tokens = TokenClient(token_url, http=b.http, allow_insecure_http=insecure, clock=b.clock)
        tok = await asyncio.to_thread(tokens.mint, creds)
        if tok.client_id:
            tok.check(client_id=creds.client_id)
    except (errors.InvalidCredentials, errors.TokenValidationError) as exc:
        raise bad_request(f"{action}: VGS refused the client credentials ({exc})") from None
    except (errors.VGSError, ValueError) as exc:
        raise vgs_error(exc, action) from None


async def check_manager(b: Engine, cfg: EngineConfig) -> None:
    """The manager must be able to list the organization's service accounts."""
    clients = VGSClients(cfg, b.http, clock=b.clock)
    try:
        await asyncio.to_thread(clients.accounts.list)
    except (errors.Forbidden, errors.InvalidCredentials, errors.NotFound) as exc:
        raise bad_request(
            f"the credentials are valid but cannot manage the organization's service accounts ({exc})"
        ) from None
    except (errors.VGSError, ValueError) as exc:
        raise vgs_error(exc, "list the organization's service accounts") from None


def paths(b: Engine) -> list[Path]:
    async def read(req: Request, d: FieldData) -> Response | None:
        cfg = await b.load_config()
        return None if cfg is None else Response(data=cfg.public())

    async def write(req: Request, d: FieldData) -> Response | None:
        async with b.lock("config"):
            existing = await b.storage.get("config")
            merged: dict[str, Any] = dict(existing) if existing else _defaults()
            for name in CONFIG_FIELDS:
                if d.provided(name):
                    merged[name] = d.get(name)
            for name in ("client_id", "client_secret", "organization_id"):
                if not merged.get(name):
                    raise bad_request(f"field {name!r} is required")
            for name in URL_FIELDS:
                try:
                    check_url(merged[name], allow_insecure_http=bool(merged["allow_insecure_http"]), what=name)
                except errors.InsecureURL as exc:
                    raise bad_request(f"field {name!r}: {exc}") from None
            creds = ClientCredentials(merged["client_id"], Secret(merged["client_secret"]))
            await mint_check(
                b, merged["token_url"], creds, bool(merged["allow_insecure_http"]), "validate the manager credentials"
            )
            await check_manager(b, EngineConfig.from_storage(merged))
            await b.storage.put("config", merged)
            b.invalidate("config")
        return None

    async def delete(req: Request, d: FieldData) -> Response | None:
        async with b.lock("config"):
            await b.storage.delete("config")
            b.invalidate("config")
        return None

    rotate_fields = {
        "scopes": Field(
            FieldType.COMMA_LIST,
            "Scopes for the new manager account; default: copied from the current manager account.",
        )
    }
    if b.test_hooks:
        rotate_fields["crash_at"] = Field(FieldType.STRING, "Test hook: crash at this step.", allowed=CRASH_POINTS)

    async def rotate_root(req: Request, d: FieldData) -> Response | None:
        crash = d.get("crash_at") if b.test_hooks else None
        async with b.lock("config"):
            cfg = await b.load_config()
            if cfg is None:
                raise bad_request("the engine is not configured: write its credentials to config first")
            c = await b.clients()
            scopes = d.get("scopes")
            vaults: list[str] = []
            lifespan = None
            if not scopes:
                current = await b.call("look up the manager account", c.accounts.get, cfg.client_id)
                if current is None or not current.scopes:
                    raise bad_request(
                        "the manager account is not listed by the Accounts API; give the new account's 'scopes'"
                    )
                scopes, vaults, lifespan = list(current.scopes), list(current.vaults), current.access_token_lifespan
            wal_id = str(uuid.uuid4())
            await b.storage.put(
                f"wal/{wal_id}", {"kind": "rotate-root", "created_at": b.clock(), "old_client_id": cfg.client_id}
            )
            b.crash_point("after-wal", crash)
            new = await b.create_account(
                "root", "root", {"scopes": scopes, "vaults": vaults, "token_lifespan": lifespan}, wal=wal_id
            )
            b.crash_point("after-create", crash)
            try:
                await mint_check(b, cfg.token_url, new.credentials, cfg.allow_insecure_http, "validate the new account")
            except LogicalError:
                await b.delete_account(new.client_id)
                await b.storage.delete(f"wal/{wal_id}")
                raise
            b.crash_point("after-validate", crash)
            stored = cfg.to_storage() | {"client_id": new.client_id, "client_secret": new.client_secret.reveal()}
            await b.storage.put("config", stored)
            b.invalidate("config")
            b.crash_point("after-store", crash)
            try:
                await b.delete_account(cfg.client_id)
            except LogicalError as exc:
                # The WAL stays: the periodic rollback finishes the deletion later.
                return Response(
                    data={"client_id": new.client_id},
                    warnings=[f"the old manager account is not deleted yet ({exc}); rollback will retry"],
                )
            b.crash_point("after-delete-old", crash)
            await b.storage.delete(f"wal/{wal_id}")
        return Response(data={"client_id": new.client_id, "previous_client_id": cfg.client_id})

    return [
        Path(
            pattern="config",
            synopsis="Manager credentials and VGS hosts of this engine.",
            description=(
                "Write the manager service account (one allowed to manage service accounts) and, optionally, "
                "the VGS hosts (defaults: VGS live). The credentials are validated by minting a token before "
                "anything is stored; bad credentials are refused. Reading never returns client_secret. "
                "The entry is stored seal-wrapped. http:// is accepted only for loopback hosts unless "
                "allow_insecure_http is true."
            ),
            fields=CONFIG_FIELDS,
            operations={Operation.READ: read, Operation.UPDATE: write, Operation.DELETE: delete},
        ),
        Path(
            pattern="config/rotate-root",
            synopsis="Replace the manager service account with a new one.",
            description=(
                "Creates a new manager account with the same scopes (annotated with a write-ahead-log id), "
                "validates it by minting a token, stores it, then deletes the old account. A crash at any "
                "step is finished or undone by the periodic rollback, so working credentials are never lost "
                "and no account is orphaned."
            ),
            fields=rotate_fields,
            operations={Operation.UPDATE: rotate_root},
        ),
    ]
