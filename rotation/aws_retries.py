"""Secrets Manager retries, made visible: botocore retries throttled and unanswered calls
silently (its only trace is a DEBUG line without the call or the attempt). :func:`watch`
makes each retry one WARNING record on ``rotation.aws`` with the same fields the VGS
transport logs (``operation``, ``attempt``, ``max_attempts``, ``wait_seconds``,
``detail``), which the CLI shows as one progress line each."""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("rotation.aws")
_BOTOCORE = logging.getLogger("botocore.retries.standard")
_last = threading.local()  # what the latest needs-retry event in this thread was about
_installed = threading.Lock()


class _RetryRecords(logging.Filter):
    """On botocore's retry logger: turns "Retry needed ... delay of: X" into a record of ours,
    and lets through only what the logger's own level allowed before it was lowered to see
    that DEBUG line (so botocore's logging is otherwise unchanged)."""

    def __init__(self, passes: int) -> None:
        super().__init__()
        self.passes = passes

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Retry needed, retrying request after delay of"):
            about = getattr(_last, "about", None)
            wait = record.args[0] if isinstance(record.args, tuple) and record.args else None
            if about is not None and isinstance(wait, int | float):
                log.warning("secretsmanager call failed, retrying", extra={**about, "wait_seconds": round(wait, 3)})
        return record.levelno >= self.passes


def _observe(attempts: int = 0, caught_exception: Any = None, response: Any = None, **kwargs: Any) -> None:
    operation = getattr(kwargs.get("operation"), "name", "call")
    code = None
    if response is not None and isinstance(response, tuple) and len(response) > 1:
        code = (response[1] or {}).get("Error", {}).get("Code")
    error = code or (type(caught_exception).__name__ if caught_exception is not None else "error")
    _last.about = {
        "operation": f"Secrets Manager {operation}",
        "attempt": attempts,
        "error": error,
        "detail": f"Secrets Manager {operation} failed ({error})",
    }


def watch(client: Any, max_attempts: int) -> None:
    """Report ``client``'s retries (one record each) on ``rotation.aws``."""

    def observe(**kwargs: Any) -> None:
        _observe(**kwargs)
        _last.about["max_attempts"] = max_attempts

    client.meta.events.register_first("needs-retry.secretsmanager", observe)
    with _installed:
        if not any(isinstance(f, _RetryRecords) for f in _BOTOCORE.filters):
            _BOTOCORE.addFilter(_RetryRecords(passes=_BOTOCORE.getEffectiveLevel()))
            _BOTOCORE.setLevel(logging.DEBUG)
