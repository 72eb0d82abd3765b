"""The engine's paths, secret types and periodic tasks, one module per area.

:func:`register` puts them on a backend (anything that is an :class:`~vault_plugin.interface.Engine`
and can ``register``); the backend itself never imports this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vault_plugin.framework import Path, SecretType
from vault_plugin.interface import Engine, PeriodicTask
from vault_plugin.paths import config, creds, roles, static, stats, token, wal


class Registrable(Engine, Protocol):
    def register(
        self, paths: Sequence[Path], secrets: Sequence[SecretType] = (), periodic: Sequence[PeriodicTask] = ()
    ) -> None: ...


def all_paths(b: Engine) -> list[Path]:
    return [
        *config.paths(b),
        *roles.paths(b),
        *token.paths(b),
        *creds.paths(b),
        *static.paths(b),
        *wal.paths(b),
        *stats.paths(b),
    ]


def secret_types(b: Engine) -> list[SecretType]:
    return [*token.secret_types(b), *creds.secret_types(b)]


def periodic_tasks(b: Engine) -> list[PeriodicTask]:
    return [
        ("wal rollback", lambda: wal.rollback_all(b)),
        ("creds tidy", lambda: creds.tidy(b)),
        ("static rotation", lambda: static.rotate_due(b)),
    ]


def register(b: Registrable) -> None:
    """Serve every path, lease type and periodic task of the VGS engine on ``b``."""
    b.register(all_paths(b), secret_types(b), periodic_tasks(b))
