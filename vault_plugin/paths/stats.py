"""``stats``: the engine's counters since the plugin process started (no secret in them).

Operators read it to see the token cache working (hits, mints) and how often the engine
reaches the host's storage: a ``token/NAME`` read served from memory makes no storage call.
"""

from __future__ import annotations

from vault_plugin.framework import FieldData, Operation, Path, Request, Response
from vault_plugin.interface import Engine

STORAGE_OPS = ("get", "put", "delete", "list")
TOKEN_COUNTERS = ("token_reads", "token_cache_hits", "token_mints")


def paths(b: Engine) -> list[Path]:
    async def read(req: Request, d: FieldData) -> Response | None:
        return Response(
            data={
                "storage_calls": {op: b.stats[f"storage_{op}"] for op in STORAGE_OPS},
                **{name: b.stats[name] for name in TOKEN_COUNTERS},
            }
        )

    return [
        Path(
            pattern="stats",
            synopsis="Counters of this plugin process: storage calls and the token cache.",
            description=(
                "storage_calls counts the calls the engine made to the host's storage (get, put, delete, list) "
                "since the plugin process started; token_reads, token_cache_hits and token_mints show the "
                "token cache at work. Config, roles and cached tokens are held in memory (written through to "
                "storage, dropped when the host invalidates them), so a token read served from the cache "
                "makes no storage call. The counters restart with the plugin process."
            ),
            operations={Operation.READ: read},
        )
    ]
