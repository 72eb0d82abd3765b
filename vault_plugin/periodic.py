"""How periodic work (the host's minute ``rollback``: WAL rollback, tidy, due rotations)
reports a failure. The host only ever sees the rollback succeed, so the log is the only
witness: an expected failure is a warning, anything else an ERROR with a marker the fault
schedules scan for. A module of its own so that the paths and the backend share it without
importing each other."""

from __future__ import annotations

import logging

from vault_plugin.framework import LogicalError
from vault_plugin.storage import StorageError

log = logging.getLogger("vault_plugin.vgs")

PERIODIC_FAILED = "periodic task failed"
PERIODIC_UNEXPECTED = "periodic task failed unexpectedly"


def log_periodic_failure(task: str, exc: Exception, **extra: str) -> None:
    """Log a failed piece of periodic work; it is retried at the next rollback.

    A caller-facing error (VGS refused or unavailable) or a storage error answered by the
    host is an expected failure: a warning.
    Anything else is a bug and is logged at ERROR with :data:`PERIODIC_UNEXPECTED`, a
    marker the fault schedules scan for (the host only ever sees the rollback succeed).
    """
    expected = isinstance(exc, LogicalError | StorageError)
    log.log(
        logging.WARNING if expected else logging.ERROR,
        PERIODIC_FAILED if expected else PERIODIC_UNEXPECTED,
        extra={"task": task, "error_type": type(exc).__name__, "reason": str(exc) if expected else "", **extra},
    )
