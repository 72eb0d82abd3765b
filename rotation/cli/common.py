"""What every command shares: one-line errors without secrets, and exit codes.

Exit codes: 0 ok, 1 failure (rotation failed, check failed), 2 usage error,
3 credentials refused (401/403), 4 VGS or AWS unavailable / rate limited,
5 bad response or bad configuration.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from rotation.vgs import errors

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_UNAVAILABLE = 4
EXIT_BAD = 5

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One clear line on stderr, then exit. Callers pass messages that hold no secret."""
    click.echo(f"vgs-rotate: error: {message}", err=True)
    sys.exit(code)


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, errors.InvalidCredentials | errors.Forbidden):
        return EXIT_REFUSED
    if isinstance(exc, errors.Unavailable | errors.RateLimited):
        return EXIT_UNAVAILABLE
    if isinstance(exc, errors.BadResponse | errors.InsecureURL | ValueError):
        return EXIT_BAD
    return EXIT_FAILED


def handle_errors(func: F) -> F:
    """Turn expected failures into one line on stderr and an exit code; never a traceback
    (a traceback can carry local variables' values into logs that collect stderr)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except (errors.VGSError, errors.InsecureURL, ValueError, KeyError, OSError) as exc:
            fail(str(exc) if not isinstance(exc, KeyError) else f"missing {exc}", exit_code_for(exc))

    return wrapper  # type: ignore[return-value]


def secret_from_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        fail(f"set the client secret in the environment variable {name} (it is never read from arguments)", EXIT_USAGE)
    return value
