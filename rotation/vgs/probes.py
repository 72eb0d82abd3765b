"""Cheap calls that prove a fresh credential works where it will be used."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from rotation.vgs.endpoints import check_url
from rotation.vgs.errors import NotFound
from rotation.vgs.http import VGSHttp
from rotation.vgs.secret import Secret
from rotation.vgs.tokens import AccessToken, bearer_header


class CMPProbe:
    """``GET {cmp}/cards/{unknown id}``: 404 means authenticated and authorised.

    401 raises :class:`InvalidCredentials` (token refused), 403 :class:`Forbidden`
    (scope missing); 502/503/504 are retried by the transport, 500 is not.
    """

    def __init__(self, cmp_url: str, *, http: VGSHttp | None = None, allow_insecure_http: bool = False) -> None:
        self.base = check_url(cmp_url, allow_insecure_http=allow_insecure_http, what="cmp_url").rstrip("/")
        self.http = http or VGSHttp()

    def check(self, token: AccessToken) -> None:
        card = "CRDprobe" + secrets.token_hex(6)
        headers = {"Accept": "application/vnd.api+json", **bearer_header(token)}
        try:
            self.http.request("CMP probe", "GET", f"{self.base}/cards/{card}", expected=(200,), headers=headers)
        except NotFound:
            return


class VaultApiProbe:
    """An HTTP Basic call to the vault API with an access credential: 404 means accepted."""

    def __init__(self, vault_api_url: str, *, http: VGSHttp | None = None, allow_insecure_http: bool = False) -> None:
        self.base = check_url(vault_api_url, allow_insecure_http=allow_insecure_http, what="vault_api_url").rstrip("/")
        self.http = http or VGSHttp()

    def check(self, username: str, password: Secret) -> None:
        alias = "tok_probe_" + secrets.token_hex(6)
        try:
            self.http.request(
                "vault API probe",
                "GET",
                f"{self.base}/aliases/{quote(alias)}",
                expected=(200,),
                auth=(username, password.reveal()),
                headers={"Accept": "application/json"},
            )
        except NotFound:
            return
