"""The assembled engine: a :class:`~vault_plugin.backend.VGSBackend` with the VGS paths
registered on it. The one place that knows both the backend and the paths."""

from __future__ import annotations

import time
from collections.abc import Callable

from vault_plugin import paths
from vault_plugin.backend import VGSBackend


def new_backend(*, clock: Callable[[], float] = time.time) -> VGSBackend:
    """A VGS secrets engine ready to serve (what the plugin process runs)."""
    backend = VGSBackend(clock=clock)
    paths.register(backend)
    return backend
