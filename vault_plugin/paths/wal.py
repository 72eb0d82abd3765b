"""Write-ahead log entries (``wal/<uuid>``) and their rollback, plus the ``tidy`` path.

An entry is written before an account is created; the account carries the entry's id in an
annotation. The periodic ``rollback`` looks at entries older than a minimum age: if the new
account made it into storage the operation is finished (old account deleted), otherwise it is
undone (accounts annotated with the id deleted). Then the entry is removed.
"""

from __future__ import annotations

import logging
from typing import Any

from vault_plugin.framework import Field, FieldData, FieldType, Operation, Path, Request, Response
from vault_plugin.interface import Engine
from vault_plugin.vgs_access import A_KIND, A_MOUNT, A_WAL

log = logging.getLogger("vault_plugin.wal")


async def _listed(b: Engine) -> list[Any]:
    c = await b.clients()
    return list(await b.call("list service accounts", c.accounts.list))


async def _made_by(b: Engine, wal_id: str) -> list[str]:
    return [a.client_id for a in await _listed(b) if a.annotations.get(A_WAL) == wal_id]


async def _rollback_root(b: Engine, wal_id: str, entry: dict[str, Any]) -> None:
    async with b.lock("config"):
        cfg = await b.load_config()
        if cfg is None:
            await b.storage.delete(f"wal/{wal_id}")
            return
        listed = await _listed(b)
        made = [a.client_id for a in listed if a.annotations.get(A_WAL) == wal_id]
        # The rotation took effect if the configured manager is the one it made, or one a
        # later rotate-root of this mount made (that one replaced ours, which is then gone).
        ours = {a.client_id for a in listed if a.annotations.get(A_KIND) == "root" and a.annotations.get(A_MOUNT)
                == b.mount_id}  # fmt: skip
        old = entry.get("old_client_id")
        done = cfg.client_id in made or (cfg.client_id in ours and old != cfg.client_id)
        doomed = [cid for cid in made if cid != cfg.client_id]
        if done and old and old != cfg.client_id:
            doomed.append(old)
        for client_id in doomed:
            await b.delete_account(client_id)
        log.info(
            "rollback: finished root rotation" if done else "rollback: undid root rotation",
            extra={"wal": wal_id, "deleted": len(doomed)},
        )
        await b.storage.delete(f"wal/{wal_id}")


async def _rollback_static(b: Engine, wal_id: str, entry: dict[str, Any]) -> None:
    name = entry.get("role", "")
    async with b.lock(f"static/{name}"):
        role = await b.storage.get(f"static-roles/{name}")
        # What the role holds now stays: a later rotation may have made this entry's account
        # the role's previous one (its overlap window), or kept the one it was to retire.
        keep = {((role or {}).get(slot) or {}).get("client_id") for slot in ("current", "previous")}
        made = await _made_by(b, wal_id)
        doomed = [cid for cid in made if cid not in keep]
        if entry.get("retire") and entry["retire"] not in keep and entry["retire"] not in doomed:
            doomed.append(entry["retire"])
        for client_id in doomed:
            await b.delete_account(client_id)
        await b.storage.delete(f"wal/{wal_id}")


async def rollback_all(b: Engine) -> None:
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


def paths(b: Engine) -> list[Path]:
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
