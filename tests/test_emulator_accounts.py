"""Accounts API (service accounts) and vault-management API (access credentials) of the emulator."""

from __future__ import annotations

import re

import pytest


def _detail(response) -> str:
    return str(response.json()["errors"][0]["detail"])


# -- service accounts ------------------------------------------------------------------------


def test_bootstrap_has_the_manager_only(vgs):
    (manager,) = vgs.emu.service_accounts()
    assert manager["client_id"] == vgs.b["client_id"]
    assert manager["name"] == "rotation-manager"
    assert [s["name"] for s in manager["scopes"]] == ["service-accounts:write", "credentials:write", "cards:read"]
    assert "client_secret" not in manager
    assert vgs.b["organization_id"].startswith("AC") and vgs.b["vault_id"].startswith("tnt")
    expected = {"token_url", "accounts_url", "vault_management_url", "cmp_url", "jwks_url", "vault_api_url"}
    assert expected | {"organization_id", "vault_id", "client_id", "client_secret", "base_url"} == set(vgs.b)


def test_create_list_delete(vgs):
    r = vgs.create_account(
        name="cmp-r-1a2b3c",
        scopes=["cards:write"],
        vaults=[vgs.b["vault_id"]],
        annotations={"vgs-rotation/version": "v2"},
        access_token_lifespan=600,
    )
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/vnd.api+json"
    data = r.json()["data"]
    attrs = data["attributes"]
    assert data["type"] == "service_accounts" and data["id"] == attrs["client_id"]
    org = vgs.b["organization_id"]
    assert re.fullmatch(re.escape(org[:9]) + r"-cmp-r-1a2b3c-[a-z0-9]{5}", attrs["client_id"])
    assert len(attrs["client_secret"]) >= 32
    assert attrs["scopes"] == [{"name": "cards:write", "optional": False}]
    assert attrs["vaults"] == [vgs.b["vault_id"]]
    assert attrs["annotations"] == {"vgs-rotation/version": "v2"}
    assert attrs["access_token_lifespan"] == 600
    assert attrs["created_at"].endswith("Z")

    listed = vgs.http.get(vgs.sa_url(), headers=vgs.bearer(vgs.token()))
    assert listed.status_code == 200
    accounts = listed.json()["data"]["attributes"]["service_accounts"]
    assert [a["client_id"] for a in accounts] == [vgs.b["client_id"], attrs["client_id"]]
    assert attrs["client_secret"] not in listed.text and "client_secret" not in listed.text

    gone = vgs.http.delete(vgs.sa_url("/" + attrs["client_id"]), headers=vgs.bearer(vgs.token()))
    assert gone.status_code == 204 and gone.content == b""
    again = vgs.http.delete(vgs.sa_url("/" + attrs["client_id"]), headers=vgs.bearer(vgs.token()))
    assert again.status_code == 404
    assert [a["client_id"] for a in vgs.emu.service_accounts()] == [vgs.b["client_id"]]


@pytest.mark.parametrize(
    ("attributes", "needle"),
    [
        ({"name": "x" * 21}, "20 characters"),
        ({"name": ""}, "name"),
        ({"scopes": []}, "scope"),
        ({"access_token_lifespan": 59}, "at least 60"),
        ({"vaults": ["tntnope"]}, "vault"),
        ({"annotations": {"a": 1}}, "annotations"),
    ],
)
def test_create_validation_is_422(vgs, attributes, needle):
    name = attributes.pop("name", "svc")
    scopes = attributes.pop("scopes", ["cards:read"])
    r = vgs.create_account(name=name, scopes=scopes, **attributes)
    assert r.status_code == 422
    assert r.json()["errors"][0]["status"] == "422"
    assert needle in _detail(r)


def test_name_of_exactly_20_is_fine(vgs):
    assert vgs.create_account(name="x" * 20).status_code == 201


def test_unknown_org_is_404(vgs):
    assert vgs.create_account(org="ACnotmyorg").status_code == 404
    assert vgs.http.get(vgs.sa_url(org="ACnotmyorg"), headers=vgs.bearer(vgs.token())).status_code == 404


def test_bad_body_is_4xx(vgs):
    headers = {**vgs.bearer(vgs.token()), "Content-Type": "application/vnd.api+json"}
    assert vgs.http.post(vgs.sa_url(), headers=headers, content=b"{nope").status_code == 400
    assert vgs.http.post(vgs.sa_url(), headers=headers, content=b'{"data": 1}').status_code == 400
    plain = {**headers, "Content-Type": "text/plain"}
    assert vgs.http.post(vgs.sa_url(), headers=plain, content=b"{}").status_code == 415


def test_fifty_accounts_including_the_manager(vgs):
    token = vgs.token()
    for i in range(49):
        assert vgs.create_account(token, name=f"sa-{i}").status_code == 201
    r = vgs.create_account(token, name="one-too-many")
    assert r.status_code == 403
    assert _detail(r) == "Maximum number of service accounts (50) reached for this organization"
    assert len(vgs.emu.service_accounts()) == 50
    first = vgs.emu.service_accounts()[1]["client_id"]
    assert vgs.http.delete(vgs.sa_url("/" + first), headers=vgs.bearer(token)).status_code == 204
    assert vgs.create_account(token, name="fits-again").status_code == 201


def test_scopes_are_immutable_other_fields_not(vgs):
    acct = vgs.new_account(name="imm", scopes=["cards:read"])
    url = vgs.sa_url("/" + acct["client_id"])
    headers = vgs.bearer(vgs.token())
    change = {"data": {"attributes": {"scopes": [{"name": "cards:write", "optional": False}]}}}
    r = vgs.http.patch(url, headers=headers, json=change)
    assert r.status_code == 422
    assert _detail(r) == "scopes can't be changed after creation"
    same = {"data": {"attributes": {"name": "renamed", "annotations": {"k": "v"}, "scopes": acct["scopes"]}}}
    r = vgs.http.patch(url, headers=headers, json=same)
    assert r.status_code == 200
    assert r.json()["data"]["attributes"]["name"] == "renamed"
    assert "client_secret" not in r.json()["data"]["attributes"]
    assert vgs.http.patch(vgs.sa_url("/nobody"), headers=headers, json=same).status_code == 404


def test_accounts_api_needs_a_token_with_the_right_scope(vgs):
    assert vgs.create_account(token="").status_code == 401
    r = vgs.http.get(vgs.sa_url(), headers=vgs.bearer("garbage"))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    reader = vgs.new_account(name="reader", scopes=["service-accounts:read"])
    reader_token = vgs.token(reader["client_id"], reader["client_secret"])
    assert vgs.http.get(vgs.sa_url(), headers=vgs.bearer(reader_token)).status_code == 200
    assert vgs.create_account(token=reader_token).status_code == 403
    carder = vgs.new_account(name="carder", scopes=["cards:read"])
    carder_token = vgs.token(carder["client_id"], carder["client_secret"])
    assert vgs.http.get(vgs.sa_url(), headers=vgs.bearer(carder_token)).status_code == 403


def test_deleted_account_cannot_mint_and_its_tokens_die(vgs):
    acct = vgs.new_account(name="doomed", scopes=["cards:read", "service-accounts:write"])
    token = vgs.token(acct["client_id"], acct["client_secret"])
    assert vgs.cmp(token).status_code == 404
    assert vgs.http.delete(vgs.sa_url("/" + acct["client_id"]), headers=vgs.bearer(vgs.token())).status_code == 204
    r = vgs.mint(acct["client_id"], acct["client_secret"])
    assert (r.status_code, r.json()["error"]) == (401, "invalid_client")
    assert vgs.cmp(token).status_code == 401
    assert vgs.http.get(vgs.sa_url(), headers=vgs.bearer(token)).status_code == 401


def test_unknown_paths_and_methods(vgs):
    assert vgs.http.get(vgs.emu.url + "/nope").status_code == 404
    r = vgs.http.put(vgs.sa_url(), headers=vgs.bearer(vgs.token()))
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}


# -- access credentials ----------------------------------------------------------------------


def test_credentials_create_list_delete(vgs):
    token = vgs.token()
    r = vgs.creds("POST", token, json={"data": {"attributes": {"annotations": {"rotation": "r1"}}}})
    assert r.status_code == 201
    data = r.json()["data"]
    attrs = data["attributes"]
    assert data["type"] == "credentials" and data["id"]
    assert attrs["key"].startswith("US") and attrs["secret"]
    assert attrs["annotations"] == {"rotation": "r1"} and attrs["active"] is True

    bare = vgs.creds("POST", token)  # a body is optional
    assert bare.status_code == 201
    assert vgs.creds("POST", token, json={}).status_code == 201
    assert vgs.creds("POST", token, json={"data": []}).status_code == 400
    assert vgs.creds("DELETE", token, "/" + vgs.creds("GET", token).json()["data"][-1]["id"]).status_code == 204

    listed = vgs.creds("GET", token)
    assert listed.status_code == 200
    items = listed.json()["data"]
    assert [i["id"] for i in items] == [data["id"], bare.json()["data"]["id"]]
    assert all(set(i["attributes"]) == {"key", "created_at", "active", "annotations"} for i in items)
    assert attrs["secret"] not in listed.text
    assert len(vgs.emu.access_credentials(vgs.b["vault_id"])) == 2
    assert all("password" not in c and "secret" not in c for c in vgs.emu.access_credentials())

    assert vgs.creds("DELETE", token, "/" + data["id"]).status_code == 204
    assert vgs.creds("DELETE", token, "/" + data["id"]).status_code == 404
    assert len(vgs.creds("GET", token).json()["data"]) == 1


def test_credentials_need_tenant_and_scope(vgs):
    token = vgs.token()
    assert vgs.creds("GET", token, tenant=None).status_code == 400
    assert vgs.creds("GET", token, tenant="tntunknown").status_code == 404
    assert vgs.creds("GET", None).status_code == 401
    carder = vgs.new_account(name="carder", scopes=["cards:read"])
    assert vgs.creds("GET", vgs.token(carder["client_id"], carder["client_secret"])).status_code == 403


def test_ten_credentials_per_vault(vgs):
    token = vgs.token()
    for _ in range(10):
        assert vgs.creds("POST", token).status_code == 201
    r = vgs.creds("POST", token)
    assert r.status_code == 403
    assert _detail(r) == "Maximum number of access credentials (10) reached for this vault"


def test_vault_api_probe_with_access_credentials(vgs):
    token = vgs.token()
    attrs = vgs.creds("POST", token).json()["data"]
    key, secret = attrs["attributes"]["key"], attrs["attributes"]["secret"]
    assert vgs.vault_api(key, secret).status_code == 404
    wrong = vgs.vault_api(key, "not-it")
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    assert vgs.http.get(vgs.b["vault_api_url"] + "/aliases/x").status_code == 401
    assert vgs.creds("DELETE", token, "/" + attrs["id"]).status_code == 204
    assert vgs.vault_api(key, secret).status_code == 401


def test_reset_returns_to_bootstrap(vgs):
    token = vgs.token()
    vgs.new_account(name="temp")
    vgs.creds("POST", token)
    before = dict(vgs.b)
    vgs.emu.reset()
    assert [a["client_id"] for a in vgs.emu.service_accounts()] == [before["client_id"]]
    assert vgs.emu.access_credentials() == []
    assert vgs.emu.bootstrap == before
    assert sum(vgs.emu.request_counts.values()) == 0
    assert vgs.cmp(vgs.token()).status_code == 404
