"""One check's result and a checklist's verdict: the vocabulary every health module speaks.

A check is ``ok`` (✓), ``failed`` (✗, with what to do), ``unknown`` (?, it could not look,
with why) or ``skipped`` (-, it does not apply, e.g. AWSPREVIOUS before the first
rotation). A check that cannot see never says ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rotation.document import DocumentError
from rotation.published import PublishedTokenError
from rotation.stores import StoreError
from rotation.vgs import errors

Status = Literal["ok", "failed", "unknown", "skipped"]
OK: Status = "ok"
FAILED: Status = "failed"
UNKNOWN: Status = "unknown"
SKIPPED: Status = "skipped"
SYMBOLS: Mapping[Status, str] = {OK: "✓", FAILED: "✗", UNKNOWN: "?", SKIPPED: "-"}

# What a look can fail with. These messages are built by the project from names and codes,
# never from values; anything else is a bug and propagates to the CLI's error boundary.
LOOK_ERRORS: tuple[type[Exception], ...] = (
    errors.VGSError,
    errors.InsecureURL,
    StoreError,
    DocumentError,
    PublishedTokenError,
)
# A credential's test may also raise ValueError (a document without the host it needs).
TEST_ERRORS: tuple[type[Exception], ...] = (*LOOK_ERRORS, ValueError)

# Secrets Manager error codes meaning "could not ask" rather than "asked and was refused".
_AWS_CANNOT_ASK = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ThrottlingException",
    "InternalServiceError",
    "ServiceUnavailable",
    "RequestTimeout",
    "ConnectionError",
    "Timeout",
    "VaultDown",
    "InternalServerError",
    "BadGateway",
    "RateLimitExceeded",
}


@dataclass(frozen=True)
class Check:
    """One line of the checklist. ``data`` holds machine-readable values (``None`` where
    not known); ``fix`` says what to do for a failed or unknown check."""

    id: str
    title: str
    status: Status
    detail: str
    fix: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
            "data": dict(self.data),
        }


def ok(cid: str, title: str, detail: str, /, **data: Any) -> Check:
    return Check(cid, title, OK, detail, None, data)


def failed(cid: str, title: str, detail: str, fix: str, /, **data: Any) -> Check:
    return Check(cid, title, FAILED, detail, fix, data)


def unknown(cid: str, title: str, detail: str, fix: str | None = None, /, **data: Any) -> Check:
    return Check(cid, title, UNKNOWN, detail, fix, data)


def skipped(cid: str, title: str, detail: str, /, **data: Any) -> Check:
    return Check(cid, title, SKIPPED, detail, None, data)


def could_not_look(exc: BaseException) -> bool:
    """True when ``exc`` means the look did not happen (unreachable, throttled, 5xx) rather
    than that it happened and found a problem (refused, not found, malformed)."""
    if isinstance(exc, errors.Unavailable | errors.RateLimited | errors.ServerError):
        return True
    if isinstance(exc, StoreError):
        return exc.retryable or (exc.code or "") in _AWS_CANNOT_ASK
    return False


def from_error(cid: str, title: str, exc: BaseException, fix: str, *, unknown_fix: str | None = None) -> Check:
    """A check that raised: unknown when the look did not happen, else failed with ``fix``."""
    if could_not_look(exc):
        return unknown(cid, title, f"could not check: {exc}", unknown_fix or "retry when the service answers")
    return failed(cid, title, str(exc), fix)


FIX_ABOVE = "fix the check above first"


def blocked(cid: str, title: str, because: str) -> Check:
    """A check that could not run because an earlier one did not pass."""
    return unknown(cid, title, f"not checked: {because}", FIX_ABOVE)


def naming(check: Check, secret: str) -> Check:
    """``check`` with the placeholder ``SECRET_ID`` in its fix replaced by the secret's name."""
    if not check.fix or "SECRET_ID" not in check.fix:
        return check
    return Check(check.id, check.title, check.status, check.detail, check.fix.replace("SECRET_ID", secret), check.data)


def verdict(checks: Iterable[Check]) -> Status:
    """``failed`` if any check failed, else ``unknown`` if any could not look, else ``ok``.
    A failure wins over an unknown: it is certain and says what to do."""
    statuses = {c.status for c in checks}
    if FAILED in statuses:
        return FAILED
    if UNKNOWN in statuses:
        return UNKNOWN
    return OK


def counts(checks: Iterable[Check]) -> dict[str, int]:
    out: dict[str, int] = {OK: 0, FAILED: 0, UNKNOWN: 0, SKIPPED: 0}
    for c in checks:
        out[c.status] += 1
    return out
