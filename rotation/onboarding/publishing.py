"""The publisher destination adopt sets up (``--publish-to``).

"Set up" means, concretely: the token secret is created when it does not exist (same KMS
key as the rotated secret, tagged ``vgs-rotation:role=token``; never the ``kind`` tag, which
marks rotated secrets); after the document is written one publisher run writes a first token
there (and/or to the KV v2 path), so consumers can read one at once; the publisher target is
printed, and merged into ``--publisher-config FILE`` when given, for the publisher's schedule
(the Lambda's ``PublisherConfig`` or ``vgs-rotate publish --config``) to keep it fresh.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rotation.onboarding.existing import KIND_TAG, ROLE_TAG, AdoptStore
from rotation.onboarding.request import AdoptError, check_new_secret_name
from rotation.published import PublishedToken, PublishedTokenError
from rotation.publisher import ConfigError, PublishConfig
from rotation.stores import CURRENT, KVStore, SecretSettings, split_kv_path

TOKEN_ROLE = "token"


@dataclass(frozen=True)
class Destinations:
    secret: str | None = None  # Secrets Manager name or ARN
    kv_path: str | None = None  # MOUNT/PATH

    def labels(self) -> list[str]:
        return [*([f"sm:{self.secret}"] if self.secret else []), *([f"kv:{self.kv_path}"] if self.kv_path else [])]


def parse_destinations(values: Sequence[str]) -> Destinations:
    """``kv:MOUNT/PATH`` is a Vault/OpenBao KV v2 path; anything else (optionally ``sm:``) a
    Secrets Manager secret. At most one of each, as a publisher target holds."""
    secret = kv = None
    for value in values:
        if value.startswith("kv:"):
            path = value.removeprefix("kv:")
            try:
                split_kv_path(path)
            except ValueError as exc:
                raise AdoptError(f"--publish-to {value!r}: {exc}", "invalid") from None
            if kv is not None:
                raise AdoptError("--publish-to: give at most one kv: path", "invalid")
            kv = path
        else:
            name = value.removeprefix("sm:")
            if not name.strip():
                raise AdoptError("--publish-to: empty secret name", "invalid")
            if secret is not None:
                raise AdoptError("--publish-to: give at most one Secrets Manager secret", "invalid")
            secret = name
    return Destinations(secret, kv)


@dataclass(frozen=True)
class TokenSecret:
    """The destination secret: ``settings`` None when adopt is to create it."""

    name: str
    settings: SecretSettings | None

    @property
    def ref(self) -> str:
        return self.settings.arn if self.settings else self.name


def check_token_secret(store: AdoptStore, name: str, rotated: str, rotated_arn: str | None) -> TokenSecret:
    """Refuse a destination that is the rotated secret, another rotated or manager secret,
    or a secret holding something other than a published token (the publisher would
    overwrite it)."""
    settings = store.settings(name)
    if name == rotated or (settings is not None and settings.arn == rotated_arn):
        raise AdoptError(
            "--publish-to must not be the rotated secret: writing tokens into it would abandon its rotations",
            "invalid",
        )
    if settings is None:
        check_new_secret_name(name, "token secret")
        return TokenSecret(name, None)
    if settings.scheduled_for_deletion:
        raise AdoptError(f"token secret {settings.name} is scheduled for deletion: restore it or use another name")
    role = settings.tags.get(ROLE_TAG)
    if KIND_TAG in settings.tags or settings.rotation_lambda_arn or role not in (None, TOKEN_ROLE):
        raise AdoptError(
            f"--publish-to {settings.name} is a rotated or manager secret, not a token secret: give another name",
            "conflict",
        )
    if settings.version_with(CURRENT):
        raw = store.get_value(settings.arn, stage=CURRENT)
        if raw is not None:
            try:
                PublishedToken.parse(raw)
            except PublishedTokenError:
                raise AdoptError(
                    f"token secret {settings.name} holds a value that is not a published token; the publisher would "
                    "overwrite it. Give another name",
                    "conflict",
                ) from None
    return TokenSecret(name, settings)


class KVDestination(KVStore, Protocol):
    """A KV v2 store that can also say what its token lacks to write a path."""

    def missing_write_capabilities(self, path: str, *, new: bool) -> list[str]: ...


def check_kv_destination(kv: KVDestination, path: str) -> None:
    """Refuse, before anything is written, a ``kv:`` destination the publisher could not
    write: Vault unreachable, sealed or refusing the token (the store's error, which names
    VAULT_ADDR / VAULT_TOKEN), a token without write capabilities there, or a path holding
    something other than a published token (the publisher would overwrite it)."""
    entry = kv.read(path)
    if entry is not None and entry.data:
        try:
            PublishedToken.parse(dict(entry.data))
        except PublishedTokenError:
            raise AdoptError(
                f"kv:{path} holds a value that is not a published token; the publisher would overwrite it. Give "
                "another path",
                "conflict",
            ) from None
    missing = kv.missing_write_capabilities(path, new=entry is None)
    if missing:
        raise AdoptError(
            f"the Vault token (VAULT_TOKEN) may not publish to kv:{path}: it lacks {', '.join(missing)}. Give its "
            "policy those capabilities, or use another token",
            "refused",
        )


def target(credential_secret: str, token_secret: str | None, kv_path: str | None) -> dict[str, str]:
    """The publisher target, in the configuration's own format."""
    out = {"credential_secret_id": credential_secret}
    if token_secret:
        out["token_secret_id"] = token_secret
    if kv_path:
        out["vault_path"] = kv_path
    return out


def merged_config(path: str, new: Mapping[str, str], *, replaces: Sequence[str] = ()) -> dict[str, Any]:
    """The publisher configuration in ``path`` (or a new one) with ``new`` added, replacing a
    target for the same credential secret (its id, or any of ``replaces``). Validated as the
    publisher validates it; refused (nothing written) when the file is not a configuration."""
    data: dict[str, Any] = {"targets": []}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                loaded = json.load(fh)
        except (OSError, ValueError) as exc:
            raise AdoptError(
                f"--publisher-config {path} cannot be read as JSON ({type(exc).__name__})", "invalid"
            ) from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("targets", []), list):
            raise AdoptError(f"--publisher-config {path} is not a publisher configuration", "invalid")
        data = loaded
    same = {new["credential_secret_id"], *replaces}
    targets = [
        t for t in data.get("targets", []) if not (isinstance(t, dict) and t.get("credential_secret_id") in same)
    ]
    data["targets"] = [*targets, dict(new)]
    try:
        PublishConfig.from_mapping(data)
    except ConfigError as exc:
        raise AdoptError(f"--publisher-config {path}: with the new target, {exc}", "invalid") from None
    return data


def write_config(path: str, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically (a crash leaves the old file or the new one)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".publisher-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
