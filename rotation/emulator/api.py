"""The emulated VGS endpoints: token server, JWKS, Accounts API, vault-management API and probes.

Each handler turns a :class:`Request` into a :class:`Response`; the rules themselves live in
``state``. Error bodies copy the shapes real VGS uses (Keycloak for the token server,
JSON:API elsewhere) so that client error mapping is exercised for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from rotation.emulator.keys import SigningKey, TokenRejected
from rotation.emulator.messages import (
    FORM,
    JSON,
    JSONAPI,
    Request,
    Response,
    json_response,
    jsonapi,
    jsonapi_error,
    no_content,
    oauth_error,
)
from rotation.emulator.state import ApiError, ServiceAccount, State

REALM_PATH = "/auth/realms/vgs"
AUDIENCE = "account"  # Keycloak's default audience for a service account's token

INVALID_CLIENT = "Invalid client or Invalid client credentials"


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class VGSApi:
    """Handlers for the VGS routes. ``base_url`` is a callable: the port is known only once bound."""

    def __init__(
        self,
        state: State,
        key: SigningKey,
        *,
        clock: Callable[[], float],
        base_url: Callable[[], str],
        default_token_lifespan: int,
    ) -> None:
        self.state = state
        self.key = key
        self.clock = clock
        self.base_url = base_url
        self.default_token_lifespan = default_token_lifespan

    @property
    def issuer(self) -> str:
        return self.base_url() + REALM_PATH

    # -- token server ----------------------------------------------------------------------

    def token(self, req: Request, params: Mapping[str, str]) -> Response:
        """OAuth2 client_credentials, checked in Keycloak's order: grant_type, client, grant, scope."""
        if req.content_type != FORM:
            return oauth_error(400, "invalid_request", f"Content-Type must be {FORM}")
        try:
            parsed = parse_qs(req.body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return oauth_error(400, "invalid_request", "Malformed form body")
        repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
        if repeated:
            return oauth_error(400, "invalid_request", f"duplicated parameter: {repeated[0]}")
        form = {k: v[0] for k, v in parsed.items()}
        grant_type = form.get("grant_type")
        if not grant_type:
            return oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
        basic = req.basic()
        if basic is not None:
            client_id, client_secret = basic
            if form.get("client_id") not in (None, client_id):
                return oauth_error(400, "invalid_request", "client_id differs between body and Authorization header")
        else:
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        account = self.state.authenticate_client(client_id, client_secret) if client_id and client_secret else None
        if account is None:
            return oauth_error(401, "invalid_client", INVALID_CLIENT)
        if grant_type != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
        requested = form.get("scope", "").split()
        if any(s not in account.all_scopes for s in requested):
            return oauth_error(400, "invalid_scope", "Invalid scopes: " + " ".join(requested))
        granted = [s.name for s in account.scopes if not s.optional or s.name in requested]
        return self._issue(account, granted)

    def _issue(self, account: ServiceAccount, granted: list[str]) -> Response:
        lifespan = account.access_token_lifespan or self.default_token_lifespan
        now = int(self.clock())
        claims: dict[str, Any] = {
            "exp": now + lifespan,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": account.subject,
            "typ": "Bearer",
            "azp": account.client_id,
            "clientId": account.client_id,
            "scope": " ".join(granted),
            "service_account": True,
            "resource_access": {account.client_id: {"roles": granted}},
        }
        token = self.key.sign(claims)
        self.state.record_token(token)
        body = {
            "access_token": token,
            "expires_in": lifespan,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": " ".join(granted),
        }
        return json_response(200, body, JSON, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def jwks(self, req: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, self.key.jwks())

    # -- bearer tokens ---------------------------------------------------------------------

    def authorize(self, req: Request, *scopes: str) -> ServiceAccount:
        """The account behind the request's bearer token if it holds one of ``scopes``; else 401/403."""
        raw = req.bearer()
        if raw is None:
            raise ApiError(401, "Unauthorized", "Bearer token required")
        try:
            claims = self.key.verify(raw, issuer=self.issuer, clock=self.clock)
        except TokenRejected:
            raise ApiError(401, "Unauthorized", "Invalid or expired token") from None
        account = self.state.account_for_token(str(claims.get("azp")), str(claims.get("sub")))
        if account is None:
            raise ApiError(401, "Unauthorized", "Invalid or expired token")
        granted = set(str(claims.get("scope", "")).split())
        if not granted.intersection(scopes):
            raise ApiError(403, "Forbidden", f"Insufficient privileges: requires scope {' or '.join(scopes)}")
        return account

    # -- Accounts API ----------------------------------------------------------------------

    def accounts_create(self, req: Request, params: Mapping[str, str]) -> Response:
        self.authorize(req, "service-accounts:write")
        self.state.check_org(params["org"])
        account = self.state.create_account(_attributes(req))
        attributes = {**account.public(), "client_secret": account.client_secret}
        return jsonapi(201, {"data": {"type": "service_accounts", "id": account.client_id, "attributes": attributes}})

    def accounts_list(self, req: Request, params: Mapping[str, str]) -> Response:
        self.authorize(req, "service-accounts:write", "service-accounts:read")
        self.state.check_org(params["org"])
        listed = [a.public() for a in self.state.list_accounts()]
        return jsonapi(200, {"data": {"attributes": {"service_accounts": listed}}})

    def accounts_update(self, req: Request, params: Mapping[str, str]) -> Response:
        self.authorize(req, "service-accounts:write")
        self.state.check_org(params["org"])
        account = self.state.update_account(params["client_id"], _attributes(req))
        return jsonapi(
            200, {"data": {"type": "service_accounts", "id": account.client_id, "attributes": account.public()}}
        )

    def accounts_delete(self, req: Request, params: Mapping[str, str]) -> Response:
        self.authorize(req, "service-accounts:write")
        self.state.check_org(params["org"])
        self.state.delete_account(params["client_id"])
        return no_content()

    # -- vault-management API --------------------------------------------------------------

    def _tenant(self, req: Request) -> str:
        tenant = (req.header("vgs-tenant") or "").strip()
        if not tenant:
            raise ApiError(400, "Bad Request", "VGS-Tenant header is required")
        self.authorize(req, "credentials:write")
        self.state.check_vault(tenant)
        return tenant

    def credentials_list(self, req: Request, params: Mapping[str, str]) -> Response:
        vault_id = self._tenant(req)
        items = [_credential_resource(c.public()) for c in self.state.list_credentials(vault_id)]
        return jsonapi(200, {"data": items})

    def credentials_create(self, req: Request, params: Mapping[str, str]) -> Response:
        vault_id = self._tenant(req)
        attributes = _attributes(req, optional=True)
        credential = self.state.create_credential(vault_id, attributes.get("annotations"))
        resource = _credential_resource(credential.public())
        resource["attributes"]["secret"] = credential.password
        return jsonapi(201, {"data": resource})

    def credentials_delete(self, req: Request, params: Mapping[str, str]) -> Response:
        vault_id = self._tenant(req)
        self.state.delete_credential(vault_id, params["id"])
        return no_content()

    # -- probes ----------------------------------------------------------------------------

    def cmp_card(self, req: Request, params: Mapping[str, str]) -> Response:
        self.authorize(req, "cards:read")
        return jsonapi_error(404, "Not Found", f"Card {params['id']} not found")

    def vault_api(self, req: Request, params: Mapping[str, str]) -> Response:
        basic = req.basic()
        if basic is None or self.state.authenticate_credential(*basic) is None:
            return jsonapi_error(
                401, "Unauthorized", "Invalid access credentials", {"WWW-Authenticate": 'Basic realm="vgs"'}
            )
        return jsonapi_error(404, "Not Found", f"Alias {params['alias']} not found")


def _credential_resource(public: dict[str, Any]) -> dict[str, Any]:
    cred_id = public.pop("id")
    public.pop("vault_id", None)
    return {"id": cred_id, "type": "credentials", "attributes": public}


def _attributes(req: Request, *, optional: bool = False) -> Mapping[str, Any]:
    """``data.attributes`` of a JSON:API body, or a 4xx saying what is wrong with it.

    ``optional``: an empty body, ``{}`` or ``{"data": {}}`` mean no attributes.
    """
    if optional and not req.body.strip():
        return {}
    if req.content_type not in (JSON, JSONAPI):
        raise ApiError(415, "Unsupported Media Type", f"Content-Type must be {JSONAPI}")
    try:
        body = req.json_body()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Bad Request", "Body is not valid JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if optional and isinstance(body, dict) and (data is None or data == {}):
        return {}
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise ApiError(400, "Bad Request", 'Body must be {"data": {"attributes": {...}}}')
    return attributes
