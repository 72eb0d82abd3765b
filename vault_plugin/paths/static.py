"""``static-roles/NAME``, ``static-creds/NAME`` and ``rotate-role/NAME``: a long-lived account
rotated every ``rotation_period`` and on demand; the previous one stays valid until the next rotation."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from vault_plugin.framework import (
    Field,
    FieldData,
    FieldType,
    Operation,
    Path,
    Request,
    Response,
    bad_request,
)
from vault_plugin.interface import Engine
from vault_plugin.paths.roles import NAME_RE
from vault_plugin.periodic import log_periodic_failure

log = logging.getLogger("vault_plugin.static")
NAME_FIELD = Field(FieldType.NAME, "Name of the static role.", required=True, pattern=NAME_RE)

STATIC_FIELDS = {
    "name": NAME_FIELD,
    "scopes": Field(FieldType.COMMA_LIST, "VGS scopes of the account (at least one).", default=[]),
    "vaults": Field(FieldType.COMMA_LIST, "VGS vault ids the account may use.", default=[]),
    "token_lifespan": Field(
        FieldType.DURATION, "Access token lifespan (>= 60s; VGS default if unset).", default=0, minimum=0
    ),
    "rotation_period": Field(FieldType.DURATION, "Rotate every this long (>= 60s).", default=86400, minimum=60),
}
SPEC_KEYS = ("scopes", "vaults", "token_lifespan", "rotation_period")


async def rotate(b: Engine, name: str, *, crash: str | None = None) -> dict[str, Any]:
    """Create a new account, make it current, keep the old one as previous, delete the one before."""
    async with b.lock(f"static/{name}"):
        entry = await b.storage.get(f"static-roles/{name}")
        if entry is None:
            raise bad_request(f"static role {name!r} does not exist")
        retired = (entry.get("previous") or {}).get("client_id")
        wal_id = str(uuid.uuid4())
        await b.storage.put(
            f"wal/{wal_id}", {"kind": "static-rotate", "created_at": b.clock(), "role": name, "retire": retired}
        )
        new = await b.create_account("static", name, entry, wal=wal_id)
        b.crash_point("static-after-create", crash)
        now = b.clock()
        entry["previous"] = entry.get("current")
        entry["current"] = {"client_id": new.client_id, "client_secret": new.client_secret.reveal(), "created_at": now}
        entry["last_rotated"] = now
        entry["next_rotation"] = now + float(entry["rotation_period"])
        await b.storage.put(f"static-roles/{name}", entry)
        if retired:
            await b.delete_account(retired)
        await b.storage.delete(f"wal/{wal_id}")
        log.info("static role rotated", extra={"role": name, "client_id": new.client_id})
        return entry


def _public(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        **{k: entry[k] for k in SPEC_KEYS},
        "client_id": (entry.get("current") or {}).get("client_id"),
        "previous_client_id": (entry.get("previous") or {}).get("client_id"),
        "last_rotated": int(entry.get("last_rotated") or 0),
        "next_rotation": int(entry.get("next_rotation") or 0),
    }


async def rotate_due(b: Engine) -> None:
    now = b.clock()
    for name in await b.storage.list("static-roles/"):
        entry = await b.storage.get(f"static-roles/{name}")
        if entry is not None and now >= float(entry.get("next_rotation") or 0):
            try:
                await rotate(b, name)
            except Exception as exc:  # one failing role must not stop the others
                log_periodic_failure("static rotation", exc, role=name)


def paths(b: Engine) -> list[Path]:
    async def read_role(req: Request, d: FieldData) -> Response | None:
        entry = await b.storage.get(f"static-roles/{d.get('name')}")
        return None if entry is None else Response(data=_public(d.get("name"), entry))

    async def write_role(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        async with b.lock(f"static/{name}"):
            existing = await b.storage.get(f"static-roles/{name}")
            entry: dict[str, Any] = dict(existing) if existing else {k: d.get(k) for k in SPEC_KEYS}
            for key in SPEC_KEYS:
                if d.provided(key):
                    entry[key] = d.get(key)
            if not entry["scopes"]:
                raise bad_request("field 'scopes' is required: give at least one VGS scope")
            if entry["token_lifespan"] and entry["token_lifespan"] < 60:
                raise bad_request("field 'token_lifespan': must be at least 60 seconds")
            if existing and existing.get("last_rotated"):
                entry["next_rotation"] = float(existing["last_rotated"]) + float(entry["rotation_period"])
            await b.storage.put(f"static-roles/{name}", entry)
        if existing is None:
            entry = await rotate(b, name)
            return Response(data=_public(name, entry))
        return None

    async def delete_role(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        async with b.lock(f"static/{name}"):
            entry = await b.storage.get(f"static-roles/{name}")
            if entry is None:
                return None
            for slot in ("current", "previous"):
                client_id = (entry.get(slot) or {}).get("client_id")
                if client_id:
                    await b.delete_account(client_id)
            await b.storage.delete(f"static-roles/{name}")
        return None

    async def list_roles(req: Request, d: FieldData) -> Response | None:
        return Response(data={"keys": await b.storage.list("static-roles/")})

    async def read_creds(req: Request, d: FieldData) -> Response | None:
        name = d.get("name")
        entry = await b.storage.get(f"static-roles/{name}")
        if entry is None or not entry.get("current"):
            raise bad_request(f"static role {name!r} does not exist")
        now = b.clock()
        return Response(
            data={
                "client_id": entry["current"]["client_id"],
                "client_secret": entry["current"]["client_secret"],
                "last_rotated": int(entry["last_rotated"]),
                "next_rotation": int(entry["next_rotation"]),
                "ttl": max(0, int(entry["next_rotation"] - now)),
                "previous_client_id": (entry.get("previous") or {}).get("client_id"),
                "previous_valid_until": int(entry["next_rotation"]) if entry.get("previous") else None,
            }
        )

    async def rotate_now(req: Request, d: FieldData) -> Response | None:
        entry = await rotate(b, d.get("name"), crash=d.get("crash_at") if b.test_hooks else None)
        return Response(data=_public(d.get("name"), entry))

    rotate_fields = {"name": NAME_FIELD}
    if b.test_hooks:
        rotate_fields["crash_at"] = Field(FieldType.STRING, "Test hook.", allowed=("static-after-create",))

    return [
        Path(
            pattern="static-roles/?",
            synopsis="List the static roles.",
            description="Lists static role names.",
            operations={Operation.LIST: list_roles},
        ),
        Path(
            pattern=rf"static-roles/(?P<name>{NAME_RE})",
            synopsis="Manage a static role: one long-lived VGS service account, rotated periodically.",
            description=(
                "Creating a static role creates its service account at once. The engine rotates it every "
                "'rotation_period' (checked by the periodic rollback, every minute) and on demand through "
                "rotate-role/NAME. After a rotation the previous account stays valid until the next rotation "
                "(the overlap window), then it is deleted. Deleting the role deletes both accounts."
            ),
            fields=STATIC_FIELDS,
            operations={Operation.READ: read_role, Operation.UPDATE: write_role, Operation.DELETE: delete_role},
        ),
        Path(
            pattern=rf"static-creds/(?P<name>{NAME_RE})",
            synopsis="Read the current credentials of a static role.",
            description=(
                "Returns client_id and client_secret of the current account, when it was rotated, when it "
                "will be rotated next ('ttl' seconds from now) and the previous client id, valid until then."
            ),
            fields={"name": NAME_FIELD},
            operations={Operation.READ: read_creds},
        ),
        Path(
            pattern=rf"rotate-role/(?P<name>{NAME_RE})",
            synopsis="Rotate a static role now.",
            description="Creates a new account for the static role; the previous one stays valid until the "
            "next rotation.",
            fields=rotate_fields,
            operations={Operation.UPDATE: rotate_now},
        ),
    ]
