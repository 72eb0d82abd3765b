"""The emulator's in-memory VGS: one organization, one vault, service accounts and access credentials.

Every rule VGS enforces (name length, 50 accounts, 10 credentials, immutable scopes, secrets
shown once) lives here, away from HTTP, so that it is enforced the same way whichever route
or admin call reaches it. All public methods take one lock: the server is multi-threaded.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

MAX_NAME_LENGTH = 20
MAX_ACCOUNTS_PER_ORGANIZATION = 50
MAX_CREDENTIALS_PER_VAULT = 10
MIN_TOKEN_LIFESPAN = 60
MANAGER_NAME = "rotation-manager"
MANAGER_SCOPES = ("service-accounts:write", "credentials:write", "cards:read")

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_SCOPE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$")


def random_chars(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _slug(name: str) -> str:
    """The name as it appears inside a client id: lowercase, URL-safe."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "sa"


class ApiError(Exception):
    """A refusal with the HTTP status and text VGS would answer; the server renders it."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def _unprocessable(detail: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", detail)


@dataclass(frozen=True)
class Scope:
    name: str
    optional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "optional": self.optional}


@dataclass
class ServiceAccount:
    """A service account. ``subject`` (the JWT ``sub``) tells a re-created client id from the old one."""

    client_id: str
    client_secret: str
    name: str
    scopes: tuple[Scope, ...]
    vaults: tuple[str, ...]
    annotations: dict[str, str]
    access_token_lifespan: int | None
    created_at: str
    subject: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def default_scopes(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.scopes if not s.optional)

    @property
    def all_scopes(self) -> frozenset[str]:
        return frozenset(s.name for s in self.scopes)

    def public(self) -> dict[str, Any]:
        """Everything but the secret: what VGS lists."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "annotations": dict(self.annotations),
            "vaults": list(self.vaults),
            "scopes": [s.as_dict() for s in self.scopes],
            "access_token_lifespan": self.access_token_lifespan,
            "created_at": self.created_at,
        }


@dataclass
class AccessCredential:
    """A vault's proxy username/password pair."""

    id: str
    vault_id: str
    username: str
    password: str
    annotations: dict[str, str]
    created_at: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vault_id": self.vault_id,
            "key": self.username,
            "created_at": self.created_at,
            "active": True,
            "annotations": dict(self.annotations),
        }


def _annotations(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise _unprocessable("annotations must be an object of string values")
    return dict(raw)


def _name(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise _unprocessable("name is required")
    if len(raw) > MAX_NAME_LENGTH:
        raise _unprocessable(f"name must be at most {MAX_NAME_LENGTH} characters long (got {len(raw)})")
    return raw


def _lifespan(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _unprocessable("access_token_lifespan must be an integer number of seconds or null")
    if raw < MIN_TOKEN_LIFESPAN:
        raise _unprocessable(f"access_token_lifespan must be at least {MIN_TOKEN_LIFESPAN} seconds")
    return raw


def _scopes(raw: Any) -> tuple[Scope, ...]:
    if not isinstance(raw, list) or not raw:
        raise _unprocessable("at least one scope is required")
    scopes: list[Scope] = []
    for item in raw:
        if isinstance(item, str):  # tolerated shorthand for a non-optional scope
            item = {"name": item}
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise _unprocessable('each scope must be {"name": ..., "optional": false}')
        name, optional = item["name"], item.get("optional", False)
        if not _SCOPE_NAME.match(name):
            raise _unprocessable(f"invalid scope name {name!r}")
        if not isinstance(optional, bool):
            raise _unprocessable("scope optional must be true or false")
        if any(s.name == name for s in scopes):
            raise _unprocessable(f"scope {name!r} is listed twice")
        scopes.append(Scope(name, optional))
    return tuple(scopes)


class State:
    """One organization with one vault. ``reset`` returns to the bootstrap state."""

    def __init__(
        self, clock: Callable[[], float], *, organization_id: str | None = None, vault_id: str | None = None
    ) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.organization_id = organization_id or "AC" + random_chars(_BASE58, 22)
        self.vault_id = vault_id or "tnt" + random_chars(_LOWER_ALNUM, 8)
        self.accounts: dict[str, ServiceAccount] = {}
        self.credentials: dict[str, AccessCredential] = {}
        # The admin record of everything secret VGS handed out since the last reset: (id,
        # secret) pairs of accounts and credentials, and every access token. Only the admin
        # view reads it (tests scan for leaks of what VGS issued, even once deleted).
        self.issued_pairs: list[tuple[str, str]] = []
        self.issued_tokens: list[str] = []
        self._manager_template = self._new_account(
            name=MANAGER_NAME,
            scopes=tuple(Scope(s) for s in MANAGER_SCOPES),
            vaults=(self.vault_id,),
            annotations={"vgs-emulator/role": "manager"},
            access_token_lifespan=None,
        )
        self.manager = self._manager_template
        self.reset()

    # -- helpers -------------------------------------------------------------------------

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def _new_account(self, **fields: Any) -> ServiceAccount:
        client_id = f"{self.organization_id[:9]}-{_slug(fields['name'])}-{random_chars(_LOWER_ALNUM, 5)}"
        return ServiceAccount(
            client_id=client_id,
            client_secret=secrets.token_urlsafe(32),
            created_at=self.now_iso(),
            **fields,
        )

    def reset(self) -> None:
        """Forget every account and credential but the bootstrap manager (same id and secret)."""
        with self.lock:
            # A copy, so that a PATCH of the manager (name, annotations) is undone too.
            template = self._manager_template
            self.manager = replace(template, annotations=dict(template.annotations))
            self.accounts = {self.manager.client_id: self.manager}
            self.credentials = {}
            self.issued_pairs = [(self.manager.client_id, self.manager.client_secret)]
            self.issued_tokens = []

    def check_org(self, organization_id: str) -> None:
        if organization_id != self.organization_id:
            raise ApiError(404, "Not Found", f"organization {organization_id} not found")

    def check_vault(self, vault_id: str) -> None:
        if vault_id != self.vault_id:
            raise ApiError(404, "Not Found", f"vault {vault_id} not found")

    # -- clients and tokens --------------------------------------------------------------

    def authenticate_client(self, client_id: str, client_secret: str) -> ServiceAccount | None:
        """The account whose id and secret these are, compared in constant time, or None."""
        with self.lock:
            account = self.accounts.get(client_id)
        if account is None:
            hmac.compare_digest(client_secret.encode(), b"x" * 43)  # same work either way
            return None
        return account if hmac.compare_digest(client_secret.encode(), account.client_secret.encode()) else None

    def record_token(self, token: str) -> None:
        with self.lock:
            self.issued_tokens.append(token)

    def account_for_token(self, client_id: str, subject: str) -> ServiceAccount | None:
        """The live account a token was issued to; None once deleted (its tokens die with it)."""
        with self.lock:
            account = self.accounts.get(client_id)
        return account if account is not None and account.subject == subject else None

    # -- service accounts ----------------------------------------------------------------

    def create_account(self, attributes: Mapping[str, Any]) -> ServiceAccount:
        name = _name(attributes.get("name"))
        scopes = _scopes(attributes.get("scopes"))
        lifespan = _lifespan(attributes.get("access_token_lifespan"))
        annotations = _annotations(attributes.get("annotations"))
        vaults = self._vaults(attributes.get("vaults"))
        with self.lock:
            if len(self.accounts) >= MAX_ACCOUNTS_PER_ORGANIZATION:
                raise ApiError(
                    403,
                    "Forbidden",
                    f"Maximum number of service accounts ({MAX_ACCOUNTS_PER_ORGANIZATION}) "
                    "reached for this organization",
                )
            account = self._new_account(
                name=name, scopes=scopes, vaults=vaults, annotations=annotations, access_token_lifespan=lifespan
            )
            self.accounts[account.client_id] = account
            self.issued_pairs.append((account.client_id, account.client_secret))
            return account

    def _vaults(self, raw: Any) -> tuple[str, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise _unprocessable("vaults must be a list of vault ids")
        unknown = [v for v in raw if v != self.vault_id]
        if unknown:
            raise _unprocessable(f"unknown vault(s): {', '.join(unknown)}")
        return tuple(dict.fromkeys(raw))

    def update_account(self, client_id: str, attributes: Mapping[str, Any]) -> ServiceAccount:
        """PATCH: name, annotations, vaults and lifespan may change; scopes may not."""
        with self.lock:
            account = self.accounts.get(client_id)
            if account is None:
                raise ApiError(404, "Not Found", f"service account {client_id} not found")
            if "scopes" in attributes and _scopes(attributes["scopes"]) != account.scopes:
                raise _unprocessable("scopes can't be changed after creation")
            for read_only in ("client_id", "client_secret", "created_at"):
                if read_only in attributes and attributes[read_only] != getattr(account, read_only):
                    raise _unprocessable(f"{read_only} can't be changed")
            name = _name(attributes["name"]) if "name" in attributes else account.name
            annotations = (
                _annotations(attributes["annotations"]) if "annotations" in attributes else account.annotations
            )
            vaults = self._vaults(attributes["vaults"]) if "vaults" in attributes else account.vaults
            lifespan = (
                _lifespan(attributes["access_token_lifespan"])
                if "access_token_lifespan" in attributes
                else account.access_token_lifespan
            )
            account.name, account.annotations, account.vaults = name, annotations, vaults
            account.access_token_lifespan = lifespan
            return account

    def delete_account(self, client_id: str) -> None:
        with self.lock:
            if self.accounts.pop(client_id, None) is None:
                raise ApiError(404, "Not Found", f"service account {client_id} not found")

    def list_accounts(self) -> list[ServiceAccount]:
        with self.lock:
            return list(self.accounts.values())

    # -- access credentials --------------------------------------------------------------

    def create_credential(self, vault_id: str, annotations: Any) -> AccessCredential:
        checked = _annotations(annotations)
        with self.lock:
            self.check_vault(vault_id)
            if sum(1 for c in self.credentials.values() if c.vault_id == vault_id) >= MAX_CREDENTIALS_PER_VAULT:
                raise ApiError(
                    403,
                    "Forbidden",
                    f"Maximum number of access credentials ({MAX_CREDENTIALS_PER_VAULT}) reached for this vault",
                )
            credential = AccessCredential(
                id=str(uuid.uuid4()),
                vault_id=vault_id,
                username="US" + random_chars(_BASE58, 22),
                password=str(uuid.uuid4()),
                annotations=checked,
                created_at=self.now_iso(),
            )
            self.credentials[credential.id] = credential
            self.issued_pairs.append((credential.username, credential.password))
            return credential

    def list_credentials(self, vault_id: str | None = None) -> list[AccessCredential]:
        with self.lock:
            return [c for c in self.credentials.values() if vault_id is None or c.vault_id == vault_id]

    def delete_credential(self, vault_id: str, credential_id: str) -> None:
        with self.lock:
            credential = self.credentials.get(credential_id)
            if credential is None or credential.vault_id != vault_id:
                raise ApiError(404, "Not Found", f"credential {credential_id} not found")
            del self.credentials[credential_id]

    def authenticate_credential(self, username: str, password: str) -> AccessCredential | None:
        with self.lock:
            found = next((c for c in self.credentials.values() if c.username == username), None)
        if found is None or not hmac.compare_digest(password.encode(), found.password.encode()):
            return None
        return found
