"""What the Lambda adapters share: Powertools set-up, the invocation context, and a VGS
transport whose timeouts and retries fit the time the invocation has left."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

    from rotation.vgs import VGSHttp

F = TypeVar("F", bound=Callable[..., Any])

SAFETY_MARGIN = 5.0  # seconds kept free at the end of an invocation to report a failure


def powertools(default_service: str) -> tuple[str, Logger, Metrics]:
    """The service name, a structured logger that also formats the ``rotation`` loggers'
    records, and metrics. Nothing here logs the event."""
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.logging import utils as logging_utils

    service = os.environ.get("POWERTOOLS_SERVICE_NAME", default_service)
    logger = Logger(service=service, log_uncaught_exceptions=False)
    logging_utils.copy_config_to_registered_loggers(source_logger=logger, include={"rotation"})
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "VGSRotation"), service=service)
    return service, logger, metrics


def bind_context(logger: Logger, context: Any) -> float | None:
    """Tag the logs with the request id; return the seconds the invocation has left."""
    if context is not None and hasattr(context, "aws_request_id"):
        logger.append_keys(request_id=context.aws_request_id)
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        return float(context.get_remaining_time_in_millis()) / 1000.0
    return None


def budgeted_http(remaining_seconds: float | None, *, default_budget: float) -> VGSHttp:
    """A VGS transport from ``VGS_HTTP_TIMEOUT_SECONDS`` and ``VGS_HTTP_MAX_ATTEMPTS``,
    capped so that timeouts and retries end before the invocation does."""
    from rotation.vgs import RetryPolicy, VGSHttp

    budget = default_budget if remaining_seconds is None else max(1.0, remaining_seconds - SAFETY_MARGIN)
    timeout = min(float(os.environ.get("VGS_HTTP_TIMEOUT_SECONDS", "10")), budget)
    attempts = int(os.environ.get("VGS_HTTP_MAX_ATTEMPTS", "4"))
    return VGSHttp(timeout=timeout, retry=RetryPolicy(max_attempts=attempts, max_total=min(30.0, budget / 2)))


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
