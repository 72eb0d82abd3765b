"""What can go wrong when speaking to VGS, as a small taxonomy callers can act on.

Every message is built from the status, the error code and a short, sanitised detail:
never from request bodies or headers, so no secret or token can reach an exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class VGSError(Exception):
    """Base class of every error raised by the VGS client layer.

    ``subject`` says whose credential the call used when the caller knows it better than
    the HTTP layer (e.g. "the manager credential in arn:...", set with :func:`concerning`),
    so an operator is told which credential to fix.
    """

    retryable: bool = False
    subject: str | None = None

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        status: int | None = None,
        error_code: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.error_code = error_code
        prefix = f"{operation}: " if operation else ""
        super().__init__(f"{prefix}{message}")


class InvalidCredentials(VGSError):
    """401 or ``invalid_client``: the client id or secret is wrong, or the account is gone."""


class Forbidden(VGSError):
    """403: the credential is valid but lacks the scope or permission for the call."""


class NotFound(VGSError):
    """404: the addressed resource (account, credential, card) does not exist."""


class InvalidRequest(VGSError):
    """400/409/422: VGS refused what was sent (a name too long, a scope unknown, ...)."""


class LimitExceeded(VGSError):
    """An organisation or vault limit is reached: 50 service accounts, 10 access credentials."""


class RateLimited(VGSError):
    """429: slow down. ``retry_after`` holds the server's ``Retry-After`` in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Unavailable(VGSError):
    """502/503/504, connect or read timeouts, dropped connections: worth retrying.

    ``request_sent`` is False when the request surely never reached VGS (the connection
    was refused), which makes even a non-idempotent write safe to retry.
    """

    retryable = True

    def __init__(self, message: str, *, request_sent: bool = True, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.request_sent = request_sent


class ServerError(VGSError):
    """500: VGS failed on this request. Not retried: the outcome of a write is unknown."""


class BadResponse(VGSError):
    """A response that is not what VGS sends: not JSON, an HTML page, a missing field."""


class InsecureURL(ValueError):
    """A plain ``http://`` URL to a host that is not loopback, without explicit permission."""


class TokenValidationError(VGSError):
    """A minted token is not what was asked for: wrong ``azp``, missing scopes, bad signature."""


@contextmanager
def concerning(subject: str) -> Iterator[None]:
    """Label VGS errors raised inside with ``subject`` (whose credential was used), unless a
    deeper caller already did. The message is unchanged; the CLI's error boundary reads it."""
    try:
        yield
    except VGSError as exc:
        if exc.subject is None:
            exc.subject = subject
        raise
