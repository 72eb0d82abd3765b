"""Token server, JWKS and the CMP probe of the emulator, over real loopback HTTP."""

from __future__ import annotations

import base64
import json
import logging

import jwt
import pytest

from tests.emulator_fixtures import EmuHTTP, running_emulator


def test_mint_with_form_fields(vgs):
    r = vgs.mint()
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1200
    assert body["refresh_expires_in"] == 0
    assert body["not-before-policy"] == 0
    assert body["scope"].split() == ["service-accounts:write", "credentials:write", "cards:read"]


def test_mint_with_basic_auth(vgs):
    r = vgs.mint(basic=True)
    assert r.status_code == 200
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["azp"] == vgs.b["client_id"]


def test_jwt_claims_and_rs256_signature_verified_against_jwks(vgs, running):
    _, clock = running
    token = vgs.token()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"]
    jwks = vgs.http.get(vgs.b["jwks_url"]).json()
    (key,) = jwks["keys"]
    assert {key["kty"], key["use"], key["alg"], key["kid"]} == {"RSA", "sig", "RS256", header["kid"]}
    assert key["n"] and key["e"]
    signing_key = jwt.PyJWKClient(vgs.b["jwks_url"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience="account", issuer=vgs.emu.url + "/auth/realms/vgs"
    )
    client_id = vgs.b["client_id"]
    assert claims["iat"] == int(clock())
    assert claims["exp"] == claims["iat"] + 1200
    assert claims["jti"] and claims["sub"]
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == claims["clientId"] == client_id
    assert claims["service_account"] is True
    scopes = ["service-accounts:write", "credentials:write", "cards:read"]
    assert claims["scope"].split() == scopes
    assert claims["resource_access"] == {client_id: {"roles": scopes}}


def test_two_tokens_differ(vgs):
    assert vgs.token() != vgs.token()


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [(None, "wrong-secret"), ("nobody-at-all-12345", None)],
)
def test_wrong_secret_or_unknown_client_is_invalid_client(vgs, client_id, secret):
    for basic in (False, True):
        r = vgs.mint(client_id, secret, basic=basic)
        assert r.status_code == 401
        assert r.json() == {
            "error": "invalid_client",
            "error_description": "Invalid client or Invalid client credentials",
        }


def test_grant_type_errors(vgs):
    r = vgs.mint(grant_type=None)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    r = vgs.mint(grant_type="password")
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")


def test_wrong_content_type_is_400(vgs):
    r = vgs.http.post(
        vgs.b["token_url"],
        json={"grant_type": "client_credentials", "client_id": vgs.b["client_id"], "client_secret": "x"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_basic_and_form_client_must_agree(vgs):
    creds = base64.b64encode(f"{vgs.b['client_id']}:{vgs.b['client_secret']}".encode()).decode()
    r = vgs.http.post(
        vgs.b["token_url"],
        data={"grant_type": "client_credentials", "client_id": "someone-else"},
        headers={"Authorization": f"Basic {creds}"},
    )
    assert r.status_code == 400


def test_optional_scopes_only_when_requested(vgs):
    acct = vgs.new_account(
        name="opt", scopes=["cards:read", {"name": "network-tokens:write", "optional": True}], access_token_lifespan=300
    )
    plain = vgs.mint(acct["client_id"], acct["client_secret"])
    assert plain.json()["scope"] == "cards:read"
    assert plain.json()["expires_in"] == 300
    asked = vgs.mint(acct["client_id"], acct["client_secret"], scope="network-tokens:write")
    assert asked.json()["scope"].split() == ["cards:read", "network-tokens:write"]
    claims = jwt.decode(asked.json()["access_token"], options={"verify_signature": False})
    assert claims["resource_access"][acct["client_id"]]["roles"] == ["cards:read", "network-tokens:write"]


def test_unknown_scope_is_invalid_scope(vgs):
    r = vgs.mint(scope="cards:write")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_probe_404_for_valid_token(vgs):
    r = vgs.cmp(vgs.token())
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/vnd.api+json"
    assert r.json()["errors"][0]["status"] == "404"


def test_probe_403_without_cards_read(vgs):
    acct = vgs.new_account(name="writer", scopes=["cards:write"])
    r = vgs.cmp(vgs.token(acct["client_id"], acct["client_secret"]))
    assert r.status_code == 403
    assert r.json()["errors"][0]["status"] == "403"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] += " cards:write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("make", [lambda t: None, lambda t: "not-a-jwt", lambda t: t[:-4] + "AAAA", _tampered])
def test_probe_401_for_missing_malformed_or_badly_signed(vgs, make):
    r = vgs.cmp(make(vgs.token()))
    assert r.status_code == 401
    assert r.json()["errors"][0]["status"] == "401"


def test_token_from_another_emulator_is_refused(vgs):
    with running_emulator() as (other, _):
        foreign = EmuHTTP(other).token()
    assert vgs.cmp(foreign).status_code == 401


def test_expiry_follows_the_virtual_clock(vgs, running):
    _, clock = running
    token = vgs.token()
    clock.advance(1199)
    assert vgs.cmp(token).status_code == 404
    clock.advance(1)
    assert vgs.cmp(token).status_code == 401
    assert vgs.cmp(vgs.token()).status_code == 404  # a fresh mint works again


def test_default_lifespan_is_configurable():
    with running_emulator(default_token_lifespan=90) as (emu, _):
        client = EmuHTTP(emu)
        assert client.mint().json()["expires_in"] == 90
        client.close()


def test_logs_never_hold_secrets_or_tokens(vgs, caplog):
    caplog.set_level(logging.DEBUG, logger="rotation.emulator")
    token = vgs.token()
    vgs.mint(basic=True)
    vgs.cmp(token)
    vgs.http.post(vgs.b["token_url"] + "?client_secret=" + vgs.b["client_secret"], data={})
    text = caplog.text
    assert "POST /auth/realms/vgs/protocol/openid-connect/token 200" in text
    assert vgs.b["client_secret"] not in text
    assert token not in text
