"""AWS Lambda entry point for the token publisher, run by an EventBridge Scheduler schedule.

The configuration is the schedule's input (the event, when it has ``targets``) or the
``VGS_PUBLISH_CONFIG`` environment variable (JSON, format in docs/ARCHITECTURE.md). Each
target's outcome is logged (never a token, never the event) and counted in metrics; the
invocation raises :class:`PublishError` if any target failed, so the schedule's retry
policy and dead-letter queue see it. HTTP timeouts and retries fit the time left.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from rotation.lambda_support import bind_context, budgeted_http, powertools, traced
from rotation.publisher import FAILED, PUBLISHED, SKIPPED, ConfigError, PublishConfig, PublishError, RunResult

SERVICE, logger, metrics = powertools("vgs-publisher")
_METRIC_NAMES: dict[str, str] = {PUBLISHED: "TokensPublished", SKIPPED: "TokensFresh", FAILED: "TargetsFailed"}


def load_config(event: Any) -> PublishConfig:
    """The schedule's input if it carries ``targets``, else ``VGS_PUBLISH_CONFIG``."""
    if isinstance(event, dict) and "targets" in event:
        return PublishConfig.from_mapping(event)
    raw = os.environ.get("VGS_PUBLISH_CONFIG", "")
    if not raw:
        raise ConfigError("no publish config: give 'targets' in the schedule's input or set VGS_PUBLISH_CONFIG")
    return PublishConfig.from_json(raw)


_secrets_store: Any = None  # kept across warm invocations: a boto3 client costs ~50 ms to build


def _secrets(config: PublishConfig) -> Any:
    global _secrets_store
    if not config.uses_aws:
        return None
    if _secrets_store is None:
        from rotation.aws_store import AwsSecretStore, secretsmanager_client
        from rotation.publisher import MAX_CONCURRENCY

        _secrets_store = AwsSecretStore(secretsmanager_client(pool=MAX_CONCURRENCY))
    return _secrets_store


_tokens: Any = None  # minted tokens, reused by warm invocations while fresh enough (TokenCache)


def run(config: PublishConfig, remaining_seconds: float | None = None) -> RunResult:
    """Build the publisher with the real stores, budgeted to the time left, and run it."""
    global _tokens
    from rotation.publish_stores import build_publisher
    from rotation.publisher import MAX_TARGETS
    from rotation.vgs import TokenCache

    if _tokens is None:
        _tokens = TokenCache(max_entries=MAX_TARGETS)
    with budgeted_http(remaining_seconds, default_budget=60.0) as http:
        return build_publisher(config, http=http, secrets=_secrets(config), tokens=_tokens).run(config.targets)


@metrics.log_metrics(capture_cold_start_metric=True)
@traced(SERVICE)
def handler(event: Any, context: Any) -> dict[str, Any]:
    remaining = bind_context(logger, context)
    started = time.perf_counter()
    try:
        config = load_config(event)
    except ConfigError as exc:
        logger.error("publish config refused", extra={"error": str(exc)})
        metrics.add_metric(name="ConfigErrors", unit=MetricUnit.Count, value=1)
        raise
    result = run(config, remaining)
    for outcome in result.outcomes:
        log = logger.error if outcome.outcome == FAILED else logger.info
        log("publish target", extra=outcome.as_dict())
    for name, count in result.counts().items():
        metrics.add_metric(name=_METRIC_NAMES[name], unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="RunDuration", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000)
    summary = {k: v for k, v in result.as_dict().items() if k != "targets"}
    if not result.ok:
        logger.error("publish run failed", extra=summary)
        raise PublishError(result)
    logger.info("publish run finished", extra=summary)
    return summary
