"""AWS Lambda entry point for Secrets Manager rotation: a thin Powertools adapter.

Logs are structured and hold no secret value and never the event's ``RotationToken``
(the event itself is not logged). Metrics count each step by outcome, with its duration.
The tracer does not capture responses. HTTP timeouts and retry budgets are derived from
the function's remaining time so a slow VGS fails the step instead of the function.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from rotation.core import EventError, Rotation, RotationEvent
from rotation.document import DocumentError
from rotation.lambda_support import bind_context, budgeted_http, powertools, traced

if TYPE_CHECKING:
    from rotation.aws_store import AwsSecretStore
    from rotation.vgs import TokenCache

SERVICE, logger, metrics = powertools("vgs-rotation")


def build_rotation(remaining_seconds: float | None = None) -> Rotation:
    """The rotation with the boto3 store and real VGS issuers, budgeted to the time left."""
    from rotation.aws_store import AwsSecretStore
    from rotation.issuers import default_issuer_factory
    from rotation.vgs import TokenCache, VGSHttp

    def http() -> VGSHttp:
        return budgeted_http(remaining_seconds, default_budget=30.0)

    global _STORE, _TOKENS
    if _STORE is None:  # one boto3 client per container: building it costs ~0.1 s
        _STORE = AwsSecretStore()
    if _TOKENS is None:  # the manager's token, reused across steps and warm invocations
        _TOKENS = TokenCache()
    issuers = default_issuer_factory(http_factory=http, tokens=_TOKENS, token_min_life=remaining_seconds or 0.0)
    return Rotation(_STORE, issuers)


_STORE: AwsSecretStore | None = None
_TOKENS: TokenCache | None = None


def _safe_keys(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        return {}
    keys = {
        "step": event.get("Step"),
        "secret_id": event.get("SecretId"),
        "version_id": event.get("ClientRequestToken"),
    }
    return {k: v for k, v in keys.items() if isinstance(v, str) and len(v) <= 2048}


@metrics.log_metrics(capture_cold_start_metric=True)
@traced(SERVICE)
def handler(event: Any, context: Any) -> None:
    logger.append_keys(**_safe_keys(event))
    remaining = bind_context(logger, context)
    started = time.perf_counter()
    step = event.get("Step") if isinstance(event, dict) and isinstance(event.get("Step"), str) else "invalid"
    outcome = "success"
    try:
        RotationEvent.parse(event)  # fail fast, before building any client
        build_rotation(remaining).handle(event)
    except (EventError, DocumentError) as exc:
        outcome = "bad_input"
        logger.error("rotation step refused", extra={"error": str(exc), "error_type": type(exc).__name__})
        raise
    except Exception as exc:
        outcome = "failure"
        logger.error("rotation step failed", extra={"error": str(exc), "error_type": type(exc).__name__})
        raise
    finally:
        metrics.add_dimension(
            name="step",
            value=step if step in {"createSecret", "setSecret", "testSecret", "finishSecret"} else "invalid",
        )
        metrics.add_dimension(name="outcome", value=outcome)
        metrics.add_metric(name="StepInvocations", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="StepDuration", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
        logger.info("rotation step finished", extra={"outcome": outcome})
