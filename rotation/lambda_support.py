"""What the Lambda adapters share."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    return os.environ.get("VGS_TRACING", "false").lower() in {"1", "true", "yes"}


def traced(service: str) -> Callable[[F], F]:
    """Powertools' Tracer around a handler, without capturing responses or errors (they
    could carry credentials), when ``VGS_TRACING`` is on (the SAM template turns it on
    with ``Tracing: Active``). Off, the X-Ray SDK is not even imported: it costs about
    0.3 s of every cold start."""
    if not tracing_enabled():
        return lambda func: func
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=service)

    def decorate(func: F) -> F:
        return tracer.capture_lambda_handler(capture_response=False, capture_error=False)(func)  # type: ignore[no-any-return]

    return decorate
