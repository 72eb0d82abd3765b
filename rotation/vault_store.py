"""Vault/OpenBao KV v2 with hvac: the only hvac user in ``rotation``.

Reads the latest version (data, version number, custom metadata) and writes a new
version with check-and-set, then the custom metadata. Connection settings follow the
Vault CLI's environment (``VAULT_ADDR``, ``VAULT_TOKEN``, ``VAULT_NAMESPACE``) unless
given. Errors are :class:`StoreError` built from the status only: hvac's messages carry
the server's text, which is not ours to vet.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from rotation.stores import CasConflict, KVEntry, StoreError, split_kv_path


def _error(call: str, path: str, exc: Exception, url: str) -> StoreError:
    import hvac.exceptions as hx

    where: dict[str, Any] = {"service": "vault", "operation": call, "resource": path, "endpoint": url}
    if isinstance(exc, hx.VaultError):
        text = f"Vault {call} of {path} failed ({type(exc).__name__})"
        is_cas = isinstance(exc, hx.InvalidRequest) and "check-and-set" in str(exc)
        if is_cas:
            return CasConflict(f"Vault {call} of {path}: check-and-set lost a race", code="cas", **where)
        retryable = isinstance(exc, hx.VaultDown | hx.InternalServerError | hx.BadGateway | hx.RateLimitExceeded)
        return StoreError(text, code=type(exc).__name__, retryable=retryable, **where)
    # Not an answer from Vault: the connection failed (requests' ConnectionError, Timeout, ...).
    return StoreError(
        f"Vault {call} of {path} failed ({type(exc).__name__})", code=type(exc).__name__, retryable=True, **where
    )


class VaultKV:
    """KV v2 at ``MOUNT/PATH`` paths. One hvac client per thread (requests sessions are not
    documented as thread-safe), created lazily with the same settings."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        namespace: str | None = None,
        timeout: float = 5.0,
        verify: bool | str = True,
        client: Any | None = None,
    ) -> None:
        self.url = url or os.environ.get("VAULT_ADDR") or "http://127.0.0.1:8200"
        self._token = token if token is not None else os.environ.get("VAULT_TOKEN")
        self.namespace = namespace or os.environ.get("VAULT_NAMESPACE") or None
        self.timeout = timeout
        self.verify = verify
        self._fixed = client
        self._local = threading.local()
        self.calls = 0

    def __repr__(self) -> str:
        return f"VaultKV(url={self.url!r})"

    def _client(self) -> Any:
        if self._fixed is not None:
            return self._fixed
        client = getattr(self._local, "client", None)
        if client is None:
            import hvac

            client = hvac.Client(
                url=self.url, token=self._token, namespace=self.namespace, timeout=self.timeout, verify=self.verify
            )
            self._local.client = client
        return client

    def read(self, path: str) -> KVEntry | None:
        """None when the path was never written; empty ``data`` when its latest version is
        deleted (its version number is still needed for a check-and-set write)."""
        import hvac.exceptions as hx

        mount, rest = split_kv_path(path)
        self.calls += 1
        try:
            out = self._client().secrets.kv.v2.read_secret_version(
                path=rest, mount_point=mount, raise_on_deleted_version=False
            )
        except hx.InvalidPath:
            return None
        except Exception as exc:
            raise _error("read", path, exc, self.url) from None
        body = out.get("data") or {}
        data = body.get("data")
        metadata = body.get("metadata") or {}
        custom = metadata.get("custom_metadata") or {}
        return KVEntry(
            data=dict(data or {}),  # {} when the latest version is deleted or destroyed
            version=int(metadata.get("version") or 0),
            custom_metadata={str(k): str(v) for k, v in custom.items()},
        )

    def write(
        self, path: str, data: Mapping[str, object], *, custom_metadata: Mapping[str, str] | None, cas: int | None
    ) -> int:
        mount, rest = split_kv_path(path)
        kv = self._client().secrets.kv.v2
        self.calls += 1
        try:
            out = kv.create_or_update_secret(path=rest, secret=dict(data), cas=cas, mount_point=mount)
        except Exception as exc:
            raise _error("write", path, exc, self.url) from None
        version = int((out.get("data") or {}).get("version") or 0)
        if custom_metadata is not None:
            self.calls += 1
            # Only custom_metadata is sent: hvac's update_metadata always sends
            # delete_version_after too, which would clobber what an operator configured.
            from hvac import utils

            url = utils.format_url("/v1/{mount}/metadata/{path}", mount=mount, path=rest)
            try:
                self._client().adapter.post(url=url, json={"custom_metadata": dict(custom_metadata)})
            except Exception as exc:
                raise _error("metadata update", path, exc, self.url) from None
        return version

    def missing_write_capabilities(self, path: str, *, new: bool) -> list[str]:
        """What this token lacks to write ``path`` as the publisher does, now and on every
        refresh: ``update`` (and ``create`` for a ``new`` path) on its data, ``update`` on its
        metadata. Asks Vault (``sys/capabilities-self``, which every token may call); changes
        nothing."""
        mount, rest = split_kv_path(path)
        wanted = {
            f"{mount}/data/{rest}": ("create", "update") if new else ("update",),
            f"{mount}/metadata/{rest}": ("update",),
        }
        self.calls += 1
        try:
            out = self._client().sys.get_capabilities(paths=list(wanted))
        except Exception as exc:
            raise _error("capabilities check", path, exc, self.url) from None
        answer: Any = out if isinstance(out, dict) else {}
        answer = answer.get("data") or answer  # newer servers also nest the answer under "data"
        missing: list[str] = []
        for where, needs in wanted.items():
            held = set(answer.get(where) or ())
            if "root" in held:
                continue
            missing += [f"{need} on {where}" for need in needs if need not in held]
        return missing
