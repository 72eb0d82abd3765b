"""The one error boundary of ``vgs-rotate``: every failure becomes one line and an exit code.

Every command registered in :data:`rotation.cli.COMMANDS` runs inside :func:`boundary`
(applied once, in the root group's ``main``), so a command never prints its own errors and
never needs a decorator. Whatever escapes it is turned by :func:`classify` into exactly one
line on stderr, ``vgs-rotate: error: <what failed, and what to fix>``, and an exit code:

====  ===========  =============================================================================
code  name         classes
====  ===========  =============================================================================
0     ok           success (``--help`` and ``--version`` too)
1     FAILED       the operation ran and did not succeed: a rotation failed or could not be
                   verified, a check failed, not found (secret, VGS credential), a refused
                   ``adopt`` (its reason decides: "invalid" 2, "refused" 3, else 1), a VGS limit
                   reached (50 service accounts, 10 access credentials), a stale published token
2     USAGE        bad arguments: unknown option, missing or invalid value, unreadable file
3     REFUSED      credentials missing or refused: AWS access denied / no or invalid AWS
                   credentials, VGS 401/403 (names whose credential: "the manager credential in
                   <manager_secret_arn>"), Vault 403 / no ``VAULT_TOKEN``
4     UNAVAILABLE  could not reach or could not check: AWS endpoint unreachable or throttled,
                   VGS unreachable / 5xx / rate limited, Vault unreachable or sealed, a check
                   that could not see (``status``; ``cleanup`` refusing because it could not)
5     BAD          bad response or configuration: bad secret document, bad rotation event, bad
                   config file, no AWS region, no ``VAULT_ADDR`` when nothing answers at the
                   default, a VGS answer that is not what VGS sends, ``http://`` off loopback,
                   a secret not set up for rotation (``rotate``), a missing optional package
130   INTERRUPTED  Ctrl-C
====  ===========  =============================================================================

No traceback is printed unless the root option ``-vv`` was given (then it precedes the line).
A message comes only from the project's typed exceptions, whose texts are built without
secret values; an exception of another kind raised outside the project's code shows only its
type, because its text was not written by us and may quote a value.

How a command reports a failure (new commands included):

- Let the project's typed exceptions propagate: :class:`rotation.stores.StoreError`
  (Secrets Manager, Vault), :class:`rotation.vgs.errors.VGSError` and its subclasses,
  :class:`rotation.document.DocumentError`, :class:`rotation.core.EventError` /
  :class:`~rotation.core.RotationError`, :class:`rotation.issuers.CapacityError`,
  :class:`rotation.onboarding.request.AdoptError` / ``PartialAdoption``, raw botocore / hvac
  exceptions. They carry what the boundary needs to name the fix (the secret
  id, the endpoint, whose credential). Do not catch them to print them.
- For a failure of the command's own making, ``raise CommandError("what, and what to fix",
  EXIT_FAILED)`` (or call :func:`rotation.cli.common.fail`, which does exactly that).
- To say whose credential a VGS call used, wrap it in
  ``with rotation.vgs.errors.concerning("the client in VGS_CLIENT_SECRET"):``.
- Bad arguments: raise ``click.UsageError`` / ``click.BadParameter`` (exit 2, one line).

In tests, ``classify(exc)`` gives ``(exit_code, line)`` without running anything.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import click

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_UNAVAILABLE = 4
EXIT_BAD = 5
EXIT_INTERRUPTED = 130

PREFIX = "vgs-rotate: error: "
MAX_LINE = 1000
_OURS = ("rotation", "vault_plugin", "infra")
_VAULT_DEFAULT_ADDR = "http://127.0.0.1:8200"

# AWS error codes (or botocore exception names when AWS did not answer), by class.
_AWS_NOT_FOUND = {"ResourceNotFoundException"}
_AWS_DENIED = {
    "AccessDeniedException",
    "AccessDenied",
    "DecryptionFailure",
    "EncryptionFailure",
    "KMSAccessDenied",
    "KMSAccessDeniedException",
}
_AWS_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "UnauthorizedSSOTokenError",
    "SSOTokenLoadError",
    "TokenRetrievalError",
}
_AWS_NO_CREDENTIALS = {"NoCredentialsError"}
_AWS_NO_REGION = {"NoRegionError", "InvalidRegionError"}
_AWS_CONFIG = {"ProfileNotFound", "InvalidConfigError", "InvalidEndpointConfigurationError", "UnknownServiceError"}
_AWS_UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "SSLError",
    "HTTPClientError",
}
_AWS_THROTTLED = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
}
_AWS_USAGE = {"ParamValidationError"}

# What a missing optional module means for the user.
_EXTRAS = {
    "moto": "pip install 'vgs-rotation[demo]'",
    "grpclib": "pip install 'vgs-rotation[vault]'",
    "google": "pip install 'vgs-rotation[vault]'",
}

_verbosity = 0


class CommandError(Exception):
    """A failure a command detects itself. ``message`` says what failed and what to fix (no
    secret); ``exit_code`` is one of the ``EXIT_*`` codes."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def set_verbosity(level: int) -> None:
    """Called by the root group with the count of ``-v``; ``-vv`` shows tracebacks."""
    global _verbosity
    _verbosity = level


# --------------------------------------------------------------------------- classification


def classify(exc: BaseException) -> tuple[int, str]:
    """``(exit code, one line)`` for any exception. The line starts with ``vgs-rotate: error:``,
    holds no newline and names what to fix where the exception tells it."""
    code, message = _classify(exc)
    return code, one_line(message)


def one_line(message: str) -> str:
    text = " ".join(str(message).split()) or "failed (no detail)"
    if len(text) > MAX_LINE:
        text = text[: MAX_LINE - 3] + "..."
    return PREFIX + text


def _classify(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, CommandError):
        return exc.exit_code, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, click.exceptions.Abort):
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            return EXIT_INTERRUPTED, "interrupted"
        return EXIT_FAILED, "aborted"
    if isinstance(exc, click.UsageError):
        return EXIT_USAGE, _usage(exc)
    if isinstance(exc, click.ClickException):
        return exc.exit_code, exc.format_message()
    for handler in (_onboarding, _store, _vgs, _rotation, _aws_raw, _vault_raw, _missing_module, _file):
        verdict = handler(exc)
        if verdict is not None:
            return verdict
    if isinstance(exc, ValueError) and _raised_by_us(exc):
        return EXIT_BAD, str(exc)
    if _raised_by_us(exc) and not isinstance(exc, AssertionError | KeyError | AttributeError | TypeError):
        return EXIT_FAILED, str(exc) or type(exc).__name__
    return EXIT_FAILED, f"unexpected {type(exc).__name__} (a bug in vgs-rotate; rerun with -vv for the traceback)"


def _usage(exc: click.UsageError) -> str:
    where = exc.ctx.command_path if exc.ctx is not None else "vgs-rotate"
    return f"{exc.format_message().rstrip('.')} (see '{where} --help')"


def _raised_by_us(exc: BaseException) -> bool:
    """True when the innermost frame that raised ``exc`` is the project's code: only then is
    its text one we wrote (third-party texts may quote the values they were given)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.split(".")[0] in _OURS


def _host(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


# -- Secrets Manager and Vault (StoreError) ------------------------------------------------


def _store(exc: BaseException) -> tuple[int, str] | None:
    from rotation.stores import StoreError

    if not isinstance(exc, StoreError):
        return None
    if exc.service == "vault":
        return _vault(exc.code or "", exc.operation, exc.resource, exc.endpoint, str(exc))
    if exc.service == "secretsmanager":
        return _aws(exc.code or "", exc.operation, exc.resource, exc.endpoint, str(exc))
    return (EXIT_UNAVAILABLE if exc.retryable else EXIT_FAILED), str(exc)


def _region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or ""


def _aws(code: str, call: str, resource: str | None, endpoint: str | None, text: str) -> tuple[int, str]:
    what = f"secret {resource}" if resource else "the secret"
    region = _region()
    if code in _AWS_NOT_FOUND:
        where = f" in region {region}" if region else ""
        return EXIT_FAILED, (
            f"{what} not found in Secrets Manager{where} ({code}): check the secret name or ARN, and AWS_REGION"
        )
    if code in _AWS_DENIED:
        return EXIT_REFUSED, (
            f"AWS denied {call or 'the call'} on {what} ({code}): give this AWS identity that permission "
            "(IAM policy, and the KMS key policy for encrypted secrets)"
        )
    if code in _AWS_BAD_CREDENTIALS:
        return EXIT_REFUSED, (
            f"AWS refused the credentials ({code}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
            "AWS_SESSION_TOKEN or AWS_PROFILE"
        )
    if code in _AWS_NO_CREDENTIALS:
        return EXIT_REFUSED, (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, "
            "or run with an IAM role"
        )
    if code in _AWS_NO_REGION:
        return EXIT_BAD, f"no AWS region ({code}): set AWS_DEFAULT_REGION (or AWS_REGION, or a profile's region)"
    if code in _AWS_CONFIG:
        return EXIT_BAD, f"AWS configuration problem ({code}): check AWS_PROFILE and ~/.aws/config"
    if code in _AWS_UNREACHABLE:
        configured = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get("AWS_ENDPOINT_URL")
        at = _host(endpoint or configured)
        hint = "check AWS_ENDPOINT_URL and the network" if configured else "check the network and AWS_REGION"
        return EXIT_UNAVAILABLE, f"cannot reach Secrets Manager{' at ' + at if at else ''} ({code}): {hint}"
    if code in _AWS_THROTTLED:
        return EXIT_UNAVAILABLE, (f"Secrets Manager is throttling or unavailable ({code}) after retries: retry later")
    if code.isdigit():  # only the HTTP status is known
        status = int(code)
        if status in (401, 403):
            return EXIT_REFUSED, (
                f"AWS refused {call or 'the call'} on {what} (HTTP {status}): the credentials are invalid or lack "
                "permission; check AWS_ACCESS_KEY_ID / AWS_PROFILE and the IAM policy"
            )
        if status == 429 or status >= 500:
            return EXIT_UNAVAILABLE, f"Secrets Manager failed {call or 'the call'} (HTTP {status}): retry later"
    if code in _AWS_USAGE:
        return EXIT_USAGE, f"AWS refused the parameters of {call or 'a call'} for {what} ({code}): check the secret id"
    if code == "InvalidRequestException" and call == "rotate_secret":
        return EXIT_FAILED, (
            f"Secrets Manager refused to rotate {what} (InvalidRequestException): a rotation may be in progress "
            "(`vgs-rotate status`), or rotation is not configured"
        )
    if not call:
        return EXIT_FAILED, text
    return EXIT_FAILED, f"Secrets Manager {call} failed for {what}" + (f" ({code})" if code else "")


def _vault(code: str, call: str, path: str | None, url: str | None, text: str) -> tuple[int, str]:
    addr = _host(url) or "Vault"
    where = f" of {path}" if path else ""
    if code in {"Forbidden", "Unauthorized"}:
        if not (os.environ.get("VAULT_TOKEN") or os.environ.get("BAO_TOKEN")):
            return EXIT_REFUSED, (
                f"Vault at {addr} refused the {call or 'request'}{where} ({code}): VAULT_TOKEN is not set; "
                "set it to a token whose policy allows this path"
            )
        return EXIT_REFUSED, (
            f"Vault at {addr} refused the {call or 'request'}{where} ({code}): the token in VAULT_TOKEN is "
            "invalid, expired, or its policy does not allow this path"
        )
    if code in {"VaultDown", "VaultNotInitialized"}:
        return EXIT_UNAVAILABLE, f"Vault at {addr} is sealed or not ready ({code}): unseal it, or retry later"
    if code in {"InternalServerError", "BadGateway", "RateLimitExceeded"}:
        return EXIT_UNAVAILABLE, f"Vault at {addr} failed the {call or 'request'}{where} ({code}): retry later"
    if code in {"ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout", "SSLError", "ProxyError"}:
        if not os.environ.get("VAULT_ADDR") and (url or _VAULT_DEFAULT_ADDR).rstrip("/") == _VAULT_DEFAULT_ADDR:
            return EXIT_BAD, (
                f"VAULT_ADDR is not set and no Vault answers at the default {_VAULT_DEFAULT_ADDR} ({code}): "
                "set VAULT_ADDR (or pass --vault-addr)"
            )
        return EXIT_UNAVAILABLE, f"cannot reach Vault at {addr} ({code}): check VAULT_ADDR / --vault-addr"
    if code in {"InvalidPath", "UnsupportedOperation", "InvalidRequest"}:
        return EXIT_FAILED, (
            f"Vault at {addr} refused the {call or 'request'}{where} ({code}): check that the path's first "
            "segment is a KV version 2 mount"
        )
    return EXIT_FAILED, text


# -- VGS -------------------------------------------------------------------------------------


def _vgs(exc: BaseException) -> tuple[int, str] | None:
    from rotation.vgs import errors

    if isinstance(exc, errors.InsecureURL):
        return EXIT_BAD, str(exc)
    if not isinstance(exc, errors.VGSError):
        return None
    whose = exc.subject or "the credential"
    if isinstance(exc, errors.InvalidCredentials):
        return EXIT_REFUSED, f"VGS refused {whose} ({exc}): check or replace it"
    if isinstance(exc, errors.Forbidden):
        return EXIT_REFUSED, (
            f"VGS forbade the call to {whose} ({exc}): the service account lacks a scope or permission for it"
        )
    if isinstance(exc, errors.LimitExceeded):
        return EXIT_FAILED, (
            f"VGS limit reached ({exc}): delete unused credentials (`vgs-rotate status SECRET_ID` lists orphans)"
        )
    if isinstance(exc, errors.RateLimited):
        return EXIT_UNAVAILABLE, f"VGS is rate limiting ({exc}) after retries: retry later"
    if isinstance(exc, errors.Unavailable | errors.ServerError):
        return EXIT_UNAVAILABLE, f"VGS unavailable ({exc}): check the VGS hosts and the network, or retry later"
    if isinstance(exc, errors.BadResponse | errors.TokenValidationError):
        return EXIT_BAD, f"unexpected answer from VGS ({exc}): check that the hosts point at VGS"
    if isinstance(exc, errors.InvalidRequest):
        return EXIT_BAD, f"VGS refused the request ({exc}): check the secret document's name, scopes and vault_ids"
    if isinstance(exc, errors.NotFound):
        return EXIT_FAILED, f"not found at VGS ({exc})"
    return EXIT_FAILED, str(exc)


# -- the rotation's own errors ------------------------------------------------------------------


def _rotation(exc: BaseException) -> tuple[int, str] | None:
    from rotation.core import EventError, RotationError
    from rotation.document import DocumentError
    from rotation.driver import NotConfigured
    from rotation.issuers import CapacityError
    from rotation.status import CannotCheck

    if isinstance(exc, NotConfigured):
        return EXIT_BAD, str(exc)
    if isinstance(exc, CannotCheck):
        return EXIT_UNAVAILABLE, str(exc)
    if isinstance(exc, DocumentError):
        return EXIT_BAD, f"{exc}: fix the document"
    if isinstance(exc, EventError):
        return EXIT_BAD, f"bad rotation event: {exc}"
    if isinstance(exc, CapacityError):
        return EXIT_FAILED, str(exc)
    if isinstance(exc, RotationError):
        return EXIT_FAILED, str(exc)
    return None


# -- onboarding (``adopt``) ----------------------------------------------------------------------

_ADOPT_EXIT = {"invalid": EXIT_USAGE, "not-found": EXIT_FAILED, "refused": EXIT_REFUSED, "conflict": EXIT_FAILED}


def _onboarding(exc: BaseException) -> tuple[int, str] | None:
    """A refusal says that nothing was written; a failure after the first write says what
    was done, what failed (classified as its cause) and that the same command finishes it."""
    from rotation.onboarding.request import AdoptError, PartialAdoption

    if isinstance(exc, AdoptError):
        return _ADOPT_EXIT[exc.reason], f"not adopted, nothing written: {exc}"
    if not isinstance(exc, PartialAdoption):
        return None
    cause = exc.cause
    code, line = (_ADOPT_EXIT[cause.reason], str(cause)) if isinstance(cause, AdoptError) else classify(cause)
    return code, (
        f"adoption incomplete: {exc.step} failed ({line.removeprefix(PREFIX)}); already done: "
        f"{'; '.join(exc.done)}. Fix that and run the same command again to finish"
    )


def _module_of(exc: BaseException) -> str:
    return type(exc).__module__


# -- third-party exceptions that escaped a store ----------------------------------------------


def _aws_raw(exc: BaseException) -> tuple[int, str] | None:
    if not _module_of(exc).startswith("botocore"):
        return None
    response = getattr(exc, "response", None)
    code = ""
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code") or "")
    operation = str(getattr(exc, "operation_name", "") or "")
    kwargs: Any = getattr(exc, "kwargs", {})
    endpoint = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
    return _aws(code or type(exc).__name__, operation, None, endpoint, f"AWS call failed ({type(exc).__name__})")


def _vault_raw(exc: BaseException) -> tuple[int, str] | None:
    module, name = _module_of(exc), type(exc).__name__
    if module.startswith(("hvac", "requests")):
        return _vault(name, "", None, os.environ.get("VAULT_ADDR"), f"Vault call failed ({name})")
    return None


def _missing_module(exc: BaseException) -> tuple[int, str] | None:
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    fix = _EXTRAS.get(top, f"pip install {top}")
    return EXIT_BAD, f"this needs the Python package {top!r}, which is not installed: {fix}"


def _file(exc: BaseException) -> tuple[int, str] | None:
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        name = exc.filename if isinstance(exc.filename, str) else "a file"
        return EXIT_USAGE, f"cannot open {name}: {exc.strerror or type(exc).__name__}"
    return None


# --------------------------------------------------------------------------- the boundary


def boundary(run: Callable[[], Any]) -> int:
    """Run ``run`` (click's non-standalone ``main``) and return the process exit code,
    printing one line for any failure. ``SystemExit`` passes through unchanged."""
    try:
        result = run()
    except SystemExit:
        raise
    except BaseException as exc:
        code, line = classify(exc)
        if _verbosity >= 2 and not isinstance(exc, click.UsageError | KeyboardInterrupt):
            traceback.print_exception(exc, file=sys.stderr)
        _emit(line)
        return code
    return result if isinstance(result, int) else EXIT_OK


def _emit(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except OSError:  # stderr closed: the exit code still tells
        pass
