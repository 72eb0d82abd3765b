"""The engine's paths, secret types and periodic tasks, one module per area."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from vault_plugin.framework import Path, SecretType
from vault_plugin.paths import config, creds, roles, static, token, wal

if TYPE_CHECKING:
    from vault_plugin.backend import VGSBackend


def all_paths(b: VGSBackend) -> list[Path]:
    return [
        *config.paths(b),
        *roles.paths(b),
        *token.paths(b),
        *creds.paths(b),
        *static.paths(b),
        *wal.paths(b),
    ]


def secret_types(b: VGSBackend) -> list[SecretType]:
    return [*token.secret_types(b), *creds.secret_types(b)]


def periodic_tasks(b: VGSBackend) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
    return [
        ("wal rollback", lambda: wal.rollback_all(b)),
        ("creds tidy", lambda: creds.tidy(b)),
        ("static rotation", lambda: static.rotate_due(b)),
    ]
