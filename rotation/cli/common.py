"""What every command shares: exit codes, one-line failures, the client secret from the
environment.

Exit codes: 0 ok, 1 failure (rotation failed, check failed), 2 usage error,
3 credentials refused (401/403), 4 VGS or AWS unavailable / rate limited / could not check,
5 bad response or bad configuration. The mapping of every failure class to a code and a
line lives in :mod:`rotation.cli.errors`, the one error boundary.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from rotation.cli.errors import (
    EXIT_BAD,
    EXIT_FAILED,
    EXIT_REFUSED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    classify,
)

if TYPE_CHECKING:
    from rotation.vgs import VGSHttp

__all__ = [
    "EXIT_BAD",
    "EXIT_FAILED",
    "EXIT_REFUSED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "CommandError",
    "exit_code_for",
    "fail",
    "handle_errors",
    "secret_from_env",
    "vgs_attempts",
    "vgs_http",
]

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Stop the command: the boundary prints ``vgs-rotate: error: <message>`` and exits with
    ``code``. Callers pass messages that hold no secret and say what to fix."""
    raise CommandError(message, code)


def exit_code_for(exc: BaseException) -> int:
    """The exit code the boundary gives ``exc`` (kept for callers of the old helper)."""
    return classify(exc)[0]


def handle_errors(func: F) -> F:
    """No longer needed: every command runs inside the boundary of :mod:`rotation.cli.errors`.
    Kept as a no-op so that code written against the old decorator still imports."""
    return func


def vgs_attempts(default: int) -> int:
    """Tries per VGS call: ``default``, or ``VGS_MAX_ATTEMPTS`` (like ``AWS_MAX_ATTEMPTS`` for AWS)."""
    raw = os.environ.get("VGS_MAX_ATTEMPTS", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 20:
        fail("VGS_MAX_ATTEMPTS must be a whole number from 1 to 20", EXIT_BAD)
    return int(raw)


def vgs_http(timeout: float, attempts: int) -> VGSHttp:
    """The VGS transport of a command: :func:`vgs_attempts` tries per call, bounded in time."""
    from rotation.vgs import RetryPolicy, VGSHttp

    retry = RetryPolicy(max_attempts=vgs_attempts(attempts), max_total=max(timeout * 3, 30.0))
    return VGSHttp(timeout=timeout, retry=retry)


def secret_from_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        fail(f"set the client secret in the environment variable {name} (it is never read from arguments)", EXIT_USAGE)
    return value
