"""Backends for the schedules: in-memory (bench) and moto's server + the emulator over HTTP (CI)."""

from __future__ import annotations

from typing import Any

import httpx

from rotation.emulator import Emulator
from tests.faults.inproc import InProcTransport
from tests.faults.memstore import MemorySecretStore


class MemoryBackend:
    """``MemorySecretStore`` and the emulator served in-process: no sockets at all.

    A fresh store per schedule (``reset``); the emulator is reused (a new one costs an RSA key)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.store = MemorySecretStore()
        self._transport = InProcTransport(emulator)

    def reset(self) -> None:
        self.store = MemorySecretStore()

    def transport(self) -> httpx.BaseTransport:
        return self._transport

    def create_secret(self, name: str, value: str) -> str:
        return self.store.create_secret(name, value)

    def enable_rotation(self, arn: str) -> None:
        self.store.enable_rotation(arn)

    def start_rotation(self, arn: str, token: str) -> None:
        """RotateSecret's first act; StoreError(InvalidRequestException) while AWSPENDING is elsewhere."""
        self.store.start_rotation(arn, token)

    def puts(self) -> list[tuple[str, str | None, str | None]]:
        """(secret, ClientRequestToken, RotationToken) of every PutSecretValue the store received."""
        return [(r.arn, r.version_id, r.rotation_token) for r in self.store.put_log]

    def all_values(self, arn: str) -> dict[str, str]:
        return self.store.values(arn)

    def end_state(self, arn: str) -> list[tuple[str, tuple[str, ...], str | None]]:
        return self.store.snapshot(arn)


class MotoBackend:
    """moto's Secrets Manager over HTTP (boto3 through ``AwsSecretStore``) and the emulator
    over loopback HTTP: the CI configuration, as close to the real services as runs offline.
    Delay faults are real sleeps here (``real_delays``): the client's socket times out."""

    real_delays = True

    def __init__(self, emulator: Emulator) -> None:
        from rotation.aws_store import AwsSecretStore
        from tests.rotation_harness import sm

        self.emulator = emulator
        self.store = AwsSecretStore(client=sm())
        self._transport = httpx.HTTPTransport()

    def reset(self) -> None:
        return None

    def transport(self) -> httpx.BaseTransport:
        return self._transport

    def create_secret(self, name: str, value: str) -> str:
        from tests.rotation_harness import sm

        return str(sm().create_secret(Name=name, SecretString=value)["ARN"])

    def enable_rotation(self, arn: str) -> None:
        from tests.rotation_harness import enable_rotation

        enable_rotation(arn)

    def start_rotation(self, arn: str, token: str) -> None:
        """RotateSecret's first act, with AWS's refusal (moto's own test is inverted)."""
        from rotation.stores import StoreError
        from tests.rotation_harness import RotationInProgress, start_rotation

        try:
            start_rotation(arn, token)
        except RotationInProgress:
            raise StoreError("Secrets Manager rotate_secret failed (InvalidRequestException)",
                             code="InvalidRequestException", retryable=False) from None  # fmt: skip

    def puts(self) -> list[tuple[str, str | None, str | None]]:
        """What the test client sent in each PutSecretValue (moto ignores RotationToken)."""
        from tests.rotation_harness import PUT_LOG

        return list(PUT_LOG)

    def all_values(self, arn: str) -> dict[str, str]:
        from tests.rotation_harness import backend

        secret: Any = backend().secrets[arn]
        return {vid: v["secret_string"] for vid, v in secret.versions.items() if v.get("secret_string")}

    def end_state(self, arn: str) -> list[tuple[str, tuple[str, ...], str | None]]:
        from tests.rotation_harness import backend

        secret: Any = backend().secrets[arn]
        return [
            (vid, tuple(sorted(v.get("version_stages", []))), v.get("secret_string"))
            for vid, v in secret.versions.items()
        ]
