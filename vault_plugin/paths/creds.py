"""``creds/NAME``: a new VGS service account per lease; revoke deletes it; tidy removes orphans."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any

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
    bad_request,
)
from vault_plugin.interface import Engine
from vault_plugin.paths.roles import NAME_RE, get_role
from vault_plugin.vgs_access import A_KIND, A_MOUNT, A_ROLE, account_name

log = logging.getLogger("vault_plugin.creds")
SECRET_TYPE = "vgs_creds"
LEASE_GRACE = 300.0


async def _ttls(b: Engine, role: dict[str, Any]) -> tuple[float, float]:
    assert b.system is not None
    default_ttl, max_ttl = await b.system.default_lease_ttl(), await b.system.max_lease_ttl()
    mx = float(role.get("max_ttl") or max_ttl)
    if max_ttl:
        mx = min(mx, float(max_ttl))
    ttl = float(role.get("ttl") or default_ttl)
    return (min(ttl, mx) if mx else ttl), mx


def paths(b: Engine) -> list[Path]:
    async def read(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        role = await get_role(b, name)
        ttl, max_ttl = await _ttls(b, role)
        marker = str(uuid.uuid4())
        b.in_flight.add(marker)
        try:
            c = await b.clients()
            acct = await b.call(
                "create service account",
                c.accounts.create,
                name=_name(name),
                scopes=list(role["scopes"]),
                vaults=list(role.get("vaults") or []),
                annotations=b.annotations("creds", name, issue=marker),
                access_token_lifespan=role.get("token_lifespan") or None,
            )
            b.crash_point("creds-after-create", d.get("crash_at") if b.test_hooks else None)
            now = b.clock()
            await b.storage.put(
                f"leases/{acct.client_id}",
                {"role": name, "client_id": acct.client_id, "issued_at": now, "max_ttl": max_ttl},
            )
        finally:
            b.in_flight.discard(marker)
        return Response(
            data={
                "client_id": acct.client_id,
                "client_secret": acct.client_secret.reveal(),
                "scopes": list(role["scopes"]),
                "vaults": list(role.get("vaults") or []),
            },
            secret=LeaseSecret(
                SECRET_TYPE,
                {"client_id": acct.client_id, "role": name},
                ttl=ttl,
                max_ttl=max_ttl,
                renewable=True,
                issue_time=now,
            ),
        )

    fields = {"name": Field(FieldType.NAME, "Name of the role.", required=True, pattern=NAME_RE)}
    if b.test_hooks:
        fields["crash_at"] = Field(FieldType.STRING, "Test hook.", allowed=("creds-after-create",))
    return [
        Path(
            pattern=rf"creds/(?P<name>{NAME_RE})",
            synopsis="Create a VGS service account for this lease.",
            description=(
                "Each read creates a new VGS service account with the role's scopes and vaults and returns "
                "client_id and client_secret under a lease. Revoking (or letting expire) the lease deletes the "
                "account at VGS. Leases renew up to the role's max_ttl. A periodic tidy deletes accounts this "
                "mount created whose lease record is gone (after crashes)."
            ),
            fields=fields,
            operations={Operation.READ: read},
        )
    ]


def _name(role: str) -> str:
    return account_name("creds", role)


def secret_types(b: Engine) -> list[SecretType]:
    async def revoke(req: Request) -> Response | None:
        assert req.secret is not None
        client_id = str(req.secret.internal_data.get("client_id") or "")
        if not client_id:
            raise bad_request("lease has no client_id")
        await b.delete_account(client_id)  # already gone counts as deleted
        await b.storage.delete(f"leases/{client_id}")
        log.info("revoked service account lease", extra={"client_id": client_id})
        return None

    async def renew(req: Request) -> Response | None:
        assert req.secret is not None
        client_id = str(req.secret.internal_data.get("client_id") or "")
        record = await b.storage.get(f"leases/{client_id}")
        if record is None:
            raise bad_request("this lease's service account is no longer known to the engine")
        role = await b.storage.get(f"roles/{record['role']}") or {}
        ttl, _ = await _ttls(b, role)
        now = b.clock()
        issued = req.secret.issue_time or record["issued_at"]
        want = req.secret.increment or ttl
        max_ttl = float(record.get("max_ttl") or 0)
        if max_ttl:
            left = issued + max_ttl - now
            if left <= 0:
                raise bad_request("lease has reached its max_ttl and cannot be renewed")
            want = min(want, left)
        return Response(
            secret=LeaseSecret(
                SECRET_TYPE,
                dict(req.secret.internal_data),
                ttl=want,
                max_ttl=max_ttl,
                renewable=True,
                issue_time=issued,
            )
        )

    return [SecretType(SECRET_TYPE, revoke=revoke, renew=renew)]


def _age(created_at: str | None, now: float) -> float | None:
    if not created_at:
        return None
    try:
        return now - dt.datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def _referenced(b: Engine, client_id: str, ann: Mapping[str, str]) -> bool:
    """Whether the engine holds this account now: decided after listing VGS, not from a
    snapshot taken before, or an account made and recorded while the list was under way
    looks orphaned. In flight is checked before storage: an issue stores its record before
    it stops being in flight, so one of the two sees it."""
    if ann.get(A_KIND) == "creds":
        if ann.get("vgs-rotation/issue") in b.in_flight:
            return True
        return await b.storage.get(f"leases/{client_id}") is not None
    role = ann.get(A_ROLE, "")
    if b.lock(f"token/{role}").locked():  # the role's account may be being replaced right now
        return True
    entry = await b.storage.get(f"role-accounts/{role}")
    return entry is not None and entry.get("client_id") == client_id


async def tidy(b: Engine) -> None:
    """Delete accounts of this mount that nothing refers to: creds accounts without a lease
    record, token accounts that are not their role's current one; and lease records long past
    their max_ttl."""
    c = await b.clients()
    now = b.clock()
    accounts = await b.call("list service accounts", c.accounts.list)
    for acct in accounts:
        ann = acct.annotations
        if ann.get(A_MOUNT) != b.mount_id or ann.get(A_KIND) not in ("creds", "token"):
            continue
        age = _age(acct.created_at, now)
        if age is not None and age < b.orphan_min_age:
            continue
        if await _referenced(b, acct.client_id, ann):
            continue
        log.info("tidy: deleting orphaned service account", extra={"client_id": acct.client_id})
        await b.delete_account(acct.client_id)
    for client_id in await b.storage.list("leases/"):
        rec = await b.storage.get(f"leases/{client_id}")
        if rec and rec.get("max_ttl") and now > rec["issued_at"] + rec["max_ttl"] + LEASE_GRACE:
            log.info("tidy: deleting account past its lease", extra={"client_id": client_id})
            await b.delete_account(client_id)
            await b.storage.delete(f"leases/{client_id}")
