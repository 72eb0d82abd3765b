"""What ``adopt`` is asked to do, checked before anything is read or written."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rotation.document import KINDS, MAX_BASE_NAME, REVOKE_POLICIES
from rotation.onboarding.schedule import check_schedule
from rotation.vgs.secret import Secret

Reason = Literal["invalid", "not-found", "refused", "conflict"]
HOST_KEYS = ("token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url", "jwks_url")
NAME_RULE = f"1-{MAX_BASE_NAME} letters, digits or dashes, starting with a letter or digit"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$"
)


class AdoptError(Exception):
    """A refusal: nothing was written (not at AWS, not at VGS). The message says what is
    wrong and what to do, never a secret; ``reason`` is its class (the CLI's exit code)."""

    def __init__(self, message: str, reason: Reason = "conflict") -> None:
        super().__init__(message)
        self.reason = reason


class PartialAdoption(Exception):
    """The document was written, then a later step failed. ``done`` lists what was written,
    ``step`` what failed, ``cause`` why. Running the same adopt again completes it: every
    step first checks whether it is already done."""

    def __init__(self, step: str, done: Sequence[str], cause: BaseException) -> None:
        super().__init__(f"{step} failed after: {'; '.join(done)}")
        self.step = step
        self.done = tuple(done)
        self.cause = cause


def check_new_secret_name(name: str, what: str = "secret") -> None:
    """Refuse, before anything is written, a name Secrets Manager would refuse to create."""
    if name.startswith("arn:"):
        raise AdoptError(f"{what} {name} does not exist; give a name to have it created", "not-found")
    if not _SECRET_NAME.match(name):
        raise AdoptError(
            f"{what} name {name!r} is not one Secrets Manager accepts: 1-512 letters, digits and /_+=.@-", "invalid"
        )


def valid_base_name(name: str) -> bool:
    """A name the rotation can suffix (``<name>-<8 hex>``) within VGS's 20 characters."""
    return bool(_NAME.match(name)) and len(name) <= MAX_BASE_NAME


def suggest_name(name: str) -> str:
    """A base name close to ``name`` that fits, for the refusal's hint."""
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-")[:MAX_BASE_NAME].strip("-")
    return slug or "app"


@dataclass(frozen=True)
class AdoptRequest:
    """``secret_id``: the secret to create or write (name or ARN). ``credential``: the client
    id (kind ``service-account``) or the access credential's id (``access-credentials``);
    ``secret``: its client secret or password, read from ``secret_source`` (a name shown in
    messages, e.g. ``VGS_CLIENT_SECRET``). Fields left None are inherited from a document the
    secret already holds, else take the documented defaults."""

    secret_id: str
    manager_secret: str
    kind: str
    credential: str
    secret: Secret = field(repr=False)
    secret_source: str = "the environment"
    organization_id: str | None = None
    vault_id: str | None = None
    hosts: Mapping[str, Any] | None = None
    name: str | None = None
    revoke: str | None = None
    cmp_probe: bool | None = None
    kms_key_id: str | None = None
    rotation_function: str | None = None
    schedule: str | None = None
    rotate_immediately: bool = False
    publish_to: tuple[str, ...] = ()
    publisher_config: str | None = None
    force: bool = False

    @property
    def secret_subject(self) -> str:
        what = "client secret" if self.kind == "service-account" else "password"
        return f"the {what} given in {self.secret_source}"

    def check(self) -> None:
        """Refuse what is wrong whatever AWS and VGS hold. Raises :class:`AdoptError` ("invalid")."""
        if self.kind not in KINDS:
            raise AdoptError(f"kind must be one of {', '.join(KINDS)}", "invalid")
        if not self.secret_id.strip():
            raise AdoptError("give the name (or ARN) of the secret to write", "invalid")
        if not self.credential.strip():
            raise AdoptError("give --client-id or --credential-id", "invalid")
        if not self.secret:
            raise AdoptError(f"{self.secret_subject} is empty", "invalid")
        if self.revoke is not None and self.revoke not in REVOKE_POLICIES:
            raise AdoptError(f"--revoke must be one of {', '.join(REVOKE_POLICIES)}", "invalid")
        if self.name is not None:
            if self.kind != "service-account":
                raise AdoptError(
                    "--name names the service accounts a rotation creates: not for access credentials", "invalid"
                )
            if not valid_base_name(self.name):
                raise AdoptError(
                    f"--name {self.name!r} is not usable: {NAME_RULE} (a rotation adds a 9-character suffix "
                    "within VGS's 20)",
                    "invalid",
                )
        self._check_rotation()
        if self.publish_to and self.kind != "service-account":
            raise AdoptError(
                "--publish-to publishes access tokens, which only service accounts mint: not for access credentials",
                "invalid",
            )
        if self.publisher_config and not self.publish_to:
            raise AdoptError("--publisher-config needs --publish-to (the destination to add)", "invalid")
        for key in self.hosts or {}:
            if key not in (*HOST_KEYS, "allow_insecure_http"):
                raise AdoptError(f"unknown host {key!r}: use one of {', '.join(HOST_KEYS)}", "invalid")

    def _check_rotation(self) -> None:
        if bool(self.rotation_function) != bool(self.schedule):
            raise AdoptError("--rotation-function and --schedule go together", "invalid")
        if self.rotate_immediately and not self.rotation_function:
            raise AdoptError("--rotate-immediately needs --rotation-function and --schedule", "invalid")
        if self.rotation_function and not _FUNCTION_ARN.match(self.rotation_function):
            raise AdoptError(
                "--rotation-function must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                "invalid",
            )
        if self.schedule is not None:
            verdict = check_schedule(self.schedule)
            if not verdict:
                raise AdoptError(
                    f"--schedule {self.schedule!r} is not a schedule Secrets Manager accepts: {verdict.reason} "
                    "(use rate(N hours) with N >= 4, rate(N days), or cron(0 H ...) at least 4 hours apart)",
                    "invalid",
                )
