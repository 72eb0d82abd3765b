"""Small test helpers shared by several test modules."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class VirtualClock:
    """A clock that only moves when told to. ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float | None = 1_800_000_000.0) -> None:
        """``start=None`` starts at the real time now (and ``reset`` returns to the real now)."""
        self._start = start
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def reset(self) -> None:
        with self._lock:
            self._now = time.time() if self._start is None else self._start
        self.sleeps.clear()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


def assert_completed(stages: dict[str, list[str]], token: str) -> None:
    """The rotation of ``token`` is complete: AWSCURRENT is on it and AWSPENDING is on no
    other version (it may stay on AWSCURRENT's, which AWS documents as complete)."""
    assert "AWSCURRENT" in stages.get(token, []), f"version {token} is not AWSCURRENT: {stages}"
    elsewhere = [v for v, labels in stages.items() if "AWSPENDING" in labels and v != token]
    assert not elsewhere, f"AWSPENDING is left on another version: {stages}"


def assert_no_secret(
    text: str, *secrets: str | tuple[str, str], tokens: Iterable[str] = (), emulator: Any = None
) -> None:
    """Fail if any secret or token appears in ``text`` in any form ``tests.faults.leaks``
    knows (raw, URL-encoded, base64, Basic auth of an ``(id, secret)`` pair, a fragment).
    ``emulator``: also everything that VGS issued since its last reset (every account's and
    credential's secret, every access token). The message describes, never shows."""
    from tests.faults.leaks import find_leaks, issued_by

    items = [*secrets, *(issued_by(emulator) if emulator is not None else ())]
    found = find_leaks(text, items, tokens=tokens)
    assert not found, f"leaked into the output: {found[:5]}"


@dataclass
class LambdaContext:
    """The parts of a Lambda context the handlers and Powertools read."""

    function_name: str = "vgs-rotation"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:vgs-rotation"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def powertools_logs_to_captured_stdout(logger: Any) -> None:
    """Powertools binds its handler to the ``sys.stdout`` of import time, and the product's
    set-up (``rotation.lambda_support.powertools``) copies it to the ``rotation`` loggers once,
    at import; redo both for this test's captured stdout (the ``rotation`` loggers are put back
    after each test: ``tests/conftest.py``)."""
    import sys

    from aws_lambda_powertools.logging import utils

    logger.registered_handler.stream = sys.stdout
    utils.copy_config_to_registered_loggers(source_logger=logger, include={"rotation"})


def emf_records(text: str) -> list[dict[str, Any]]:
    """CloudWatch EMF records printed by Powertools Metrics, values summed (a metric may be a list)."""
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "_aws" in record:
            out.append({k: sum(v) if isinstance(v, list) else v for k, v in record.items()})
    return out
