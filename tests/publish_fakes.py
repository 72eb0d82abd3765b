"""In-memory doubles for the publisher and consumer unit tests: a Secrets Manager store,
a KV v2 store, and a token client, all on a virtual clock and counting their calls."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from rotation.stores import CasConflict, KVEntry, SecretDescription, SecretVersion, StoreError
from rotation.vgs import AccessToken, ClientCredentials, Secret, errors

EMULATOR_HOSTS = {
    "token_url": "http://127.0.0.1:9/auth/realms/vgs/protocol/openid-connect/token",
    "accounts_url": "http://127.0.0.1:9/accounts",
    "vault_management_url": "http://127.0.0.1:9/vault-management",
}
MANAGER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf"


def credential_document(client_id: str = "ACabcdefg-app-11111", secret: str = "client-secret-0123456789abcdef") -> str:
    return json.dumps(
        {
            "kind": "service-account",
            "client_id": client_id,
            "client_secret": secret,
            "organization_id": "ACabcdefghijk",
            "vault_ids": ["tntabc"],
            "scopes": ["cards:write"],
            "token_lifespan": 1200,
            "manager_secret_arn": MANAGER_ARN,
            "hosts": EMULATOR_HOSTS,
        }
    )


class FakeSecrets:
    """Secrets Manager: one AWSCURRENT value per secret, counting reads and writes."""

    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}
        self.puts: dict[str, int] = {}
        self.failing: set[str] = set()
        self.lock = threading.Lock()

    def describe(self, secret_id: str) -> SecretDescription:  # pragma: no cover - unused
        return SecretDescription(arn=secret_id, name=secret_id, rotation_enabled=False)

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        assert stage == "AWSCURRENT" and version_id is None, "always read AWSCURRENT by explicit stage"
        if secret_id in self.failing:
            raise StoreError("Secrets Manager get_secret_value failed (AccessDeniedException)", code="AccessDenied")
        return self.values.get(secret_id)

    def get_version(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> SecretVersion | None:
        """A version id that changes with the value (Secrets Manager's changes with every write)."""
        value = self.get_value(secret_id, version_id=version_id, stage=stage)
        if value is None:
            return None
        return SecretVersion(hashlib.sha256(value.encode()).hexdigest()[:16], value)

    def put_value(self, secret_id: str, value: str) -> None:
        if secret_id in self.failing:
            raise StoreError("Secrets Manager put_secret_value failed (AccessDeniedException)", code="AccessDenied")
        with self.lock:
            self.values[secret_id] = value
            self.puts[secret_id] = self.puts.get(secret_id, 0) + 1

    def put_pending(self, *a: Any, **k: Any) -> None:  # pragma: no cover - unused
        raise AssertionError("the publisher never writes pending versions")

    def move_stage(self, *a: Any, **k: Any) -> None:  # pragma: no cover - unused
        raise AssertionError("the publisher never moves stages")


class FakeKV:
    def __init__(self) -> None:
        self.entries: dict[str, KVEntry] = {}
        self.writes: dict[str, int] = {}
        self.race_next: set[str] = set()
        self.lock = threading.Lock()

    def read(self, path: str) -> KVEntry | None:
        return self.entries.get(path)

    def write(
        self, path: str, data: Mapping[str, object], *, custom_metadata: Mapping[str, str] | None, cas: int | None
    ) -> int:
        with self.lock:
            current = self.entries.get(path)
            version = current.version if current else 0
            if path in self.race_next:
                self.race_next.discard(path)
                raise CasConflict("Vault write: check-and-set lost a race", code="cas")
            if cas is not None and cas != version:
                raise CasConflict("Vault write: check-and-set lost a race", code="cas")
            self.entries[path] = KVEntry(dict(data), version + 1, dict(custom_metadata or {}))
            self.writes[path] = self.writes.get(path, 0) + 1
            return version + 1


def fake_jwt(claims: Mapping[str, Any]) -> str:
    def seg(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'none'})}.{seg(dict(claims))}.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


class FakeTokens:
    """A token client: numbered tokens of ``lifetime`` seconds, issued to the asking client.

    ``throttle[client_id]`` lists how that client's next requests are throttled, one entry
    per request: a number is a 429 with that ``Retry-After``, None a 429 without one,
    ``"unavailable"`` a 503. ``attempts`` records every request as (client id, clock time)."""

    token_url = EMULATOR_HOSTS["token_url"]

    def __init__(self, clock: Callable[[], float], lifetime: int = 1200) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.mints = 0
        self.refuse: set[str] = set()
        self.throttle: dict[str, list[float | str | None]] = {}
        self.attempts: list[tuple[str, float]] = []
        self.on_mint: Callable[[ClientCredentials], None] | None = None
        self.lock = threading.Lock()

    def mint(self, credentials: ClientCredentials, *, scope: Any = None) -> AccessToken:
        with self.lock:
            self.attempts.append((credentials.client_id, self.clock()))
        if self.on_mint:
            self.on_mint(credentials)
        if credentials.client_id in self.refuse:
            raise errors.InvalidCredentials("credentials refused (HTTP 401 invalid_client)", operation="mint token")
        plan = self.throttle.get(credentials.client_id)
        if plan:
            answer = plan.pop(0)
            if answer == "unavailable":
                raise errors.Unavailable("VGS unavailable (HTTP 503)", operation="mint token", status=503)
            retry_after = None if answer is None else float(answer)
            raise errors.RateLimited(
                "rate limited (HTTP 429 slow_down)", retry_after=retry_after, operation="mint token", status=429
            )
        with self.lock:
            self.mints += 1
            n = self.mints
        now = self.clock()
        raw = fake_jwt({"azp": credentials.client_id, "n": n, "iat": int(now), "exp": int(now) + self.lifetime})
        return AccessToken(
            access_token=Secret(raw),
            token_type="Bearer",
            expires_in=self.lifetime,
            issued_at=now,
            scope=("cards:write",),
            claims={"azp": credentials.client_id},
        )
