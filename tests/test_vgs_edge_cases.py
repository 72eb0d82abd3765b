"""Edge cases of the VGS client layer that the emulator does not produce (respx mocks)."""

from __future__ import annotations

import email.utils
import time

import httpx
import jwt
import pytest
import respx

from rotation.vgs import AccountsClient, ClientCredentials, RetryPolicy, Secret, TokenClient, VGSHttp, errors
from tests.helpers import VirtualClock

TOKEN_URL = "https://auth.test/auth/realms/vgs/protocol/openid-connect/token"
CREDS = ClientCredentials("client-x", Secret("secret-x-0123456789"))


def _client(clock: VirtualClock | None = None) -> TokenClient:
    clock = clock or VirtualClock()
    return TokenClient(TOKEN_URL, http=VGSHttp(retry=RetryPolicy(sleep=clock.sleep, clock=clock)))


def _jwt(**claims) -> str:
    return jwt.encode({"azp": "client-x", **claims}, "k" * 32, algorithm="HS256")


@respx.mock
def test_html_error_page_is_unavailable_then_bad_response_names_html():
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, text="<html><body>Login</body></html>"))
    with pytest.raises(errors.BadResponse, match="HTML"):
        _client().mint(CREDS)


@respx.mock
def test_non_json_body():
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, text="ok"))
    with pytest.raises(errors.BadResponse, match="not JSON"):
        _client().mint(CREDS)


@respx.mock
@pytest.mark.parametrize(
    "body, field",
    [
        ({"expires_in": 60, "token_type": "Bearer"}, "access_token"),
        ({"access_token": "abc", "token_type": "Bearer"}, "expires_in"),
        ({"access_token": "abc", "expires_in": "soon"}, "expires_in"),
        ({"access_token": "abc", "expires_in": 0}, "expires_in"),
        ([1, 2], "object"),
    ],
)
def test_missing_or_wrong_fields_are_bad_response(body, field):
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(errors.BadResponse, match=field):
        _client().mint(CREDS)


@respx.mock
def test_opaque_token_from_a_non_keycloak_server_is_accepted():
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            200, json={"access_token": "opaque-abc", "expires_in": 300, "token_type": "bearer", "scope": "a b"}
        )
    )
    token = _client().mint(CREDS)
    assert token.client_id is None
    assert token.granted_scopes == {"a", "b"}


@respx.mock
def test_scopes_from_resource_access_roles():
    raw = _jwt(scope="profile", resource_access={"client-x": {"roles": ["cards:read"]}})
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={"access_token": raw, "expires_in": 300}))
    token = _client().mint(CREDS)
    assert token.granted_scopes == {"profile", "cards:read"}
    token.check(client_id="client-x", scopes=["cards:read"])
    with pytest.raises(errors.TokenValidationError, match="cards:write"):
        token.check(scopes=["cards:write"])
    with pytest.raises(errors.TokenValidationError, match="issued to"):
        token.check(client_id="someone-else")
    assert raw not in repr(token) and raw not in str(token)


@respx.mock
def test_retry_after_as_http_date():
    clock = VirtualClock()
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    route = respx.post(TOKEN_URL)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": when}, json={"error": "slow_down"}),
        httpx.Response(200, json={"access_token": _jwt(), "expires_in": 300}),
    ]
    _client(clock).mint(CREDS)
    assert len(clock.sleeps) == 1 and 25 <= clock.sleeps[0] <= 31


@respx.mock
@pytest.mark.parametrize(
    "status, kind", [(400, errors.InvalidRequest), (401, errors.InvalidCredentials), (403, errors.Forbidden)]
)
def test_client_errors_are_not_retried(status, kind):
    route = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(status, json={"error": "nope", "error_description": "no"})
    )
    with pytest.raises(kind):
        _client().mint(CREDS)
    assert route.call_count == 1


@respx.mock
def test_keycloak_invalid_client_with_400_is_invalid_credentials():
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_client", "error_description": "Invalid client credentials"}
        )
    )
    with pytest.raises(errors.InvalidCredentials, match="invalid_client"):
        _client().mint(CREDS)


@respx.mock
def test_error_detail_never_echoes_a_token():
    leaked = _jwt(sub="x" * 40)
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(401, json={"error": "invalid_token", "error_description": f"bad {leaked}"})
    )
    with pytest.raises(errors.InvalidCredentials) as info:
        _client().mint(CREDS)
    assert leaked not in str(info.value)


@respx.mock
def test_read_timeout_is_unavailable_and_retried():
    clock = VirtualClock()
    route = respx.post(TOKEN_URL)
    route.side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.Response(200, json={"access_token": _jwt(), "expires_in": 60}),
    ]
    assert _client(clock).mint(CREDS).expires_in == 60
    assert route.call_count == 2


@respx.mock
def test_accounts_list_with_missing_list_is_bad_response():
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={"access_token": _jwt(), "expires_in": 300}))
    respx.get("https://accounts.test/organizations/ACx/service-accounts").mock(
        return_value=httpx.Response(200, json={"data": {}})
    )
    from rotation.vgs import CachedTokenAuth

    http = VGSHttp()
    accounts = AccountsClient(
        "https://accounts.test", "ACx", auth=CachedTokenAuth(TokenClient(TOKEN_URL, http=http), CREDS), http=http
    )
    with pytest.raises(errors.BadResponse, match="service_accounts"):
        accounts.list()


def test_cached_token_auth_single_flight_and_refresh_ahead():
    clock = VirtualClock()
    calls = []

    class FakeTokens:
        def mint(self, credentials, scope=None):
            from rotation.vgs import AccessToken

            calls.append(clock())
            return AccessToken(Secret(f"t{len(calls)}"), "Bearer", 300, clock())

    from rotation.vgs import CachedTokenAuth

    auth = CachedTokenAuth(FakeTokens(), CREDS, skew=60, clock=clock)  # type: ignore[arg-type]
    assert auth.token().access_token.reveal() == "t1"
    clock.advance(200)
    assert auth.token().access_token.reveal() == "t1"
    clock.advance(50)  # 50 s left < 60 s skew
    assert auth.token().access_token.reveal() == "t2"
    assert "t2" not in repr(auth)
