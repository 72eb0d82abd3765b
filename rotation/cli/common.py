"""What every command shares: exit codes, one-line failures, a secret from the environment
or stdin, a JSON file, and the transports (Secrets Manager, VGS, the rotation's issuers).

Exit codes: 0 ok, 1 failure (rotation failed, check failed), 2 usage error,
3 credentials refused (401/403), 4 VGS or AWS unavailable / rate limited / could not check,
5 bad response or bad configuration. The mapping of every failure class to a code and a
line lives in :mod:`rotation.cli.errors`, the one error boundary.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

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
    from rotation.aws_store import AwsSecretStore
    from rotation.issuers import IssuerFactory
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
    "issuers",
    "read_json_object",
    "secret_from_env",
    "secret_from_stdin",
    "secret_store",
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


def issuers(timeout: float, attempts: int = 5) -> IssuerFactory:
    """The rotation's issuers over :func:`vgs_http` (``VGS_MAX_ATTEMPTS`` checked now, before
    anything is asked)."""
    from rotation.issuers import default_issuer_factory

    tries = vgs_attempts(attempts)
    return default_issuer_factory(http_timeout=timeout, http_factory=lambda: vgs_http(timeout, tries))


def secret_store() -> AwsSecretStore:
    """Secrets Manager as every command reaches it: ``AWS_MAX_ATTEMPTS`` tries per call, each
    retry one progress line (:mod:`rotation.aws_retries`)."""
    from rotation.aws_store import AwsSecretStore

    return AwsSecretStore()


def secret_from_env(name: str, what: str = "client secret", alternative: str = "") -> str:
    """The value of environment variable ``name``; a usage error naming it when unset.
    ``alternative`` (e.g. "or pipe it in with --secret-stdin") is offered in that error."""
    value = os.environ.get(name, "")
    if not value:
        also = f", {alternative}" if alternative else ""
        raise click.UsageError(
            f"set the {what} in the environment variable {name}{also} (it is never read from arguments)"
        )
    return value


def secret_from_stdin(what: str, option: str) -> str:
    """One line from stdin (a pipe), or typed at a hidden prompt when stdin is a terminal."""
    if sys.stdin.isatty():
        typed: str = click.prompt(f"{what} (not echoed)", hide_input=True, err=True)
        return typed
    value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if "\n" in value or "\r" in value:
        raise click.UsageError(f"{option}: stdin holds more than one line; give the {what} alone")
    if not value:
        raise click.UsageError(f"{option}: stdin is empty; pipe the {what} in")
    return value


def read_json_object(path: str, option: str) -> dict[str, Any]:
    """The JSON object in file ``path`` (given with ``option``); a usage error otherwise."""
    with open(path, encoding="utf-8") as fh:
        raw = fh.read()
    try:
        data = json.loads(raw)
    except ValueError:
        raise click.UsageError(f"{option} {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{option} {path} must hold a JSON object")
    return data
