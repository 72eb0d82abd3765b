"""Helpers for the emulator tests: a virtual clock and a small HTTP client speaking to the emulator.

Kept out of tests/conftest.py (shared with other work); each test module declares its two
fixtures with ``running_emulator`` and ``EmuHTTP``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from rotation.emulator import Emulator
from tests.helpers import VirtualClock

JSONAPI = "application/vnd.api+json"


@contextmanager
def running_emulator(**kwargs: Any) -> Iterator[tuple[Emulator, VirtualClock]]:
    clock = VirtualClock(start=None)
    with Emulator(port=0, clock=clock, **kwargs) as emu:
        yield emu, clock


class EmuHTTP:
    """Raw HTTP calls to the emulator, so tests see statuses, headers and bodies as they are."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.b = emu.bootstrap
        self.http = httpx.Client(timeout=10)

    def close(self) -> None:
        self.http.close()

    # tokens
    def mint(
        self,
        client_id: str | None = None,
        secret: str | None = None,
        *,
        scope: str | None = None,
        basic: bool = False,
        grant_type: str | None = "client_credentials",
    ) -> httpx.Response:
        client_id = client_id or self.b["client_id"]
        secret = secret or self.b["client_secret"]
        form: dict[str, str] = {}
        if grant_type is not None:
            form["grant_type"] = grant_type
        if scope is not None:
            form["scope"] = scope
        if basic:
            return self.http.post(self.b["token_url"], data=form, auth=(client_id, secret))
        form.update(client_id=client_id, client_secret=secret)
        return self.http.post(self.b["token_url"], data=form)

    def token(self, client_id: str | None = None, secret: str | None = None, scope: str | None = None) -> str:
        response = self.mint(client_id, secret, scope=scope)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    @staticmethod
    def bearer(token: str | None) -> dict[str, str]:
        return {"Accept": JSONAPI, **({"Authorization": f"Bearer {token}"} if token else {})}

    # Accounts API
    def sa_url(self, suffix: str = "", org: str | None = None) -> str:
        org = org or self.b["organization_id"]
        return f"{self.b['accounts_url']}/organizations/{org}/service-accounts{suffix}"

    def create_account(
        self,
        token: str | None = None,
        name: str = "svc",
        scopes: Sequence[str | dict[str, Any]] = ("cards:read",),
        org: str | None = None,
        **attributes: Any,
    ) -> httpx.Response:
        token = token if token is not None else self.token()
        scope_list = [s if isinstance(s, dict) else {"name": s, "optional": False} for s in scopes]
        body = {"data": {"attributes": {"name": name, "scopes": scope_list, **attributes}}}
        return self.http.post(self.sa_url(org=org), headers=self.bearer(token), json=body)

    def new_account(
        self, name: str = "svc", scopes: Sequence[str | dict[str, Any]] = ("cards:read",), **kw: Any
    ) -> dict[str, Any]:
        response = self.create_account(name=name, scopes=scopes, **kw)
        assert response.status_code == 201, response.text
        attributes: dict[str, Any] = response.json()["data"]["attributes"]
        return attributes

    # vault-management API
    def creds(
        self, method: str, token: str | None, suffix: str = "", tenant: str | None = "default", **kw: Any
    ) -> httpx.Response:
        headers = self.bearer(token)
        if tenant is not None:
            headers["VGS-Tenant"] = self.b["vault_id"] if tenant == "default" else tenant
        return self.http.request(method, f"{self.b['vault_management_url']}/credentials{suffix}", headers=headers, **kw)

    # probes
    def cmp(self, token: str | None, card: str = "CRDunknown") -> httpx.Response:
        return self.http.get(f"{self.b['cmp_url']}/cards/{card}", headers=self.bearer(token))

    def vault_api(self, username: str, password: str, alias: str = "tok_unknown") -> httpx.Response:
        return self.http.get(f"{self.b['vault_api_url']}/aliases/{alias}", auth=(username, password))
