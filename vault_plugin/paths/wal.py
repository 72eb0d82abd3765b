"""Write-ahead log entries (``wal/<uuid>``) and their rollback, plus the ``tidy`` path.

An entry is written before an account is created; the account carries the entry's id in an
annotation. The periodic ``rollback`` looks at entries older than a minimum age: if the new
account made it into storage the operation is finished (old account deleted), otherwise it is
undone (accounts annotated with the id deleted). Then the entry is removed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vault_plugin.framework import Field, FieldData, FieldType, Operation, Path, Request, Response

if TYPE_CHECKING:
    from vault_plugin.backend import VGSBackend

log = logging.getLogger("vault_plugin.wal")


async def _made_by(b: VGSBackend, wal_id: str) -> list[str]:
    from vault_plugin.backend import A_WAL

    c = await b.clients()
    return [
        a.client_id
        for a in await b.call("list service accounts", c.accounts.list)
        if a.annotations.get(A_WAL) == wal_id
    ]


async def _rollback_root(b: VGSBackend, wal_id: str, entry: dict[str, Any]) -> None:
    async with b.lock("config"):
        cfg = await b.load_config()
        if cfg is None:
            await b.storage.delete(f"wal/{wal_id}")
            return
        made = await _made_by(b, wal_id)
        if cfg.client_id in made:
            if entry.get("old_client_id") and entry["old_client_id"] != cfg.client_id:
                await b.delete_account(entry["old_client_id"])
            log.info("rollback: finished root rotation", extra={"wal": wal_id})
        else:
            for client_id in made:
                await b.delete_account(client_id)
            log.info("rollback: undid root rotation", extra={"wal": wal_id, "deleted": len(made)})
        await b.storage.delete(f"wal/{wal_id}")


async def _rollback_static(b: VGSBackend, wal_id: str, entry: dict[str, Any]) -> None:
    name = entry.get("role", "")
    async with b.lock(f"static/{name}"):
        role = await b.storage.get(f"static-roles/{name}")
        current = ((role or {}).get("current") or {}).get("client_id")
        made = await _made_by(b, wal_id)
        if current in made:
            if entry.get("retire"):
                await b.delete_account(entry["retire"])
        else:
            for client_id in made:
                await b.delete_account(client_id)
        await b.storage.delete(f"wal/{wal_id}")


async def rollback_all(b: VGSBackend) -> None:
    now = b.clock()
    for wal_id in await b.storage.list("wal/"):
        entry = await b.storage.get(f"wal/{wal_id}")
        if entry is None or now - float(entry.get("created_at", 0)) < b.wal_min_age:
            continue
        if entry.get("kind") == "rotate-root":
            await _rollback_root(b, wal_id, entry)
        elif entry.get("kind") == "static-rotate":
            await _rollback_static(b, wal_id, entry)
        else:
            await b.storage.delete(f"wal/{wal_id}")


def paths(b: VGSBackend) -> list[Path]:
    async def tidy(req: Request, d: FieldData) -> Response | None:
        if b.test_hooks and d.provided("advance_clock"):
            b.clock_offset += d.get("advance_clock")
        await b.periodic()
        return Response(
            data={"wal_entries": len(await b.storage.list("wal/")), "leases": len(await b.storage.list("leases/"))}
        )

    fields = {}
    if b.test_hooks:
        fields["advance_clock"] = Field(FieldType.DURATION, "Test hook: move the engine's clock forward.")
    return [
        Path(
            pattern="tidy",
            synopsis="Run the periodic maintenance now.",
            description=(
                "The host sends a rollback every minute; it finishes or undoes write-ahead-log entries older "
                "than the minimum age, deletes service accounts of this mount whose lease is gone, and rotates "
                "static roles that are due. Writing to tidy runs the same work immediately."
            ),
            operations={Operation.UPDATE: tidy},
            fields=fields,
        )
    ]
