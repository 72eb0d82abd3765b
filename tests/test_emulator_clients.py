"""The project's own VGS clients (rotation.vgs) against the emulator: the two must agree."""

from __future__ import annotations

import time

import pytest

from rotation.vgs import (
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    CMPProbe,
    RetryPolicy,
    Secret,
    TokenClient,
    VaultApiProbe,
    VaultCredentialsClient,
    VGSEndpoints,
    VGSHttp,
    errors,
)


@pytest.fixture
def env(running):
    emu, clock = running
    emu.reset()
    clock.reset()
    sleeps: list[float] = []
    http = VGSHttp(timeout=5, retry=RetryPolicy(max_attempts=3, sleep=sleeps.append, jitter=False))
    b = emu.bootstrap
    ep = VGSEndpoints.from_mapping(b)
    tokens = TokenClient(ep.token_url, http=http, jwks_url=ep.jwks_url, verify_signature=True, clock=clock)
    manager = CachedTokenAuth(tokens, ClientCredentials(b["client_id"], Secret(b["client_secret"])), clock=clock)
    yield {
        "emu": emu,
        "clock": clock,
        "b": b,
        "ep": ep,
        "http": http,
        "sleeps": sleeps,
        "tokens": tokens,
        "accounts": AccountsClient(ep.accounts_url, b["organization_id"], auth=manager, http=http),
        "vault": VaultCredentialsClient(ep.vault_management_url, b["vault_id"], auth=manager, http=http),
    }
    http.close()


def test_endpoints_preset_matches_the_bootstrap(env):
    assert VGSEndpoints.emulator(env["emu"].url) == env["ep"]


def test_rotation_round_trip_with_project_clients(env):
    accounts, tokens, vault = env["accounts"], env["tokens"], env["vault"]
    created = accounts.create(
        name="cmp-r-1a2b3c",
        scopes=["cards:read"],
        vaults=[env["b"]["vault_id"]],
        annotations={"vgs-rotation/version": "v1"},
        access_token_lifespan=600,
    )
    assert accounts.get(created.client_id) is not None
    tok = tokens.mint(created.credentials)
    tok.check(client_id=created.client_id, scopes=["cards:read"])
    assert tok.expires_in == 600
    CMPProbe(env["ep"].cmp_url, http=env["http"]).check(tok)

    cred = vault.create(annotations={"rotation": "r1"})
    assert [c.id for c in vault.list()] == [cred.id]
    VaultApiProbe(env["b"]["vault_api_url"], http=env["http"]).check(cred.username, cred.password)
    assert vault.delete(cred.id) is True
    assert vault.delete(cred.id) is False
    with pytest.raises(errors.InvalidCredentials):
        VaultApiProbe(env["b"]["vault_api_url"], http=env["http"]).check(cred.username, cred.password)

    assert accounts.delete(created.client_id) is True
    assert accounts.delete(created.client_id) is False
    with pytest.raises(errors.InvalidCredentials):
        tokens.mint(created.credentials)
    with pytest.raises(errors.InvalidCredentials):
        CMPProbe(env["ep"].cmp_url, http=env["http"]).check(tok)


def test_error_mapping(env):
    accounts, vault = env["accounts"], env["vault"]
    writer = accounts.create(name="writer", scopes=["cards:write"])
    with pytest.raises(errors.Forbidden):
        CMPProbe(env["ep"].cmp_url, http=env["http"]).check(env["tokens"].mint(writer.credentials))
    for _ in range(10):
        vault.create()
    with pytest.raises(errors.LimitExceeded):
        vault.create()
    with pytest.raises(errors.InvalidRequest):
        env["tokens"].mint(writer.credentials, scope="cards:read")


def test_expired_token_refused_by_probe(env):
    tok = env["tokens"].mint(ClientCredentials(env["b"]["client_id"], Secret(env["b"]["client_secret"])))
    env["clock"].advance(tok.expires_in)
    with pytest.raises(errors.InvalidCredentials):
        CMPProbe(env["ep"].cmp_url, http=env["http"]).check(tok)


def test_client_retries_injected_429_and_503(env):
    emu = env["emu"]
    emu.faults.inject("accounts.list", status=429, retry_after=2)
    emu.faults.inject("accounts.list", status=503)
    started = time.monotonic()
    assert len(env["accounts"].list()) == 1
    assert time.monotonic() - started < 2  # the policy's sleep is fake
    assert env["sleeps"][0] == 2
    assert emu.request_counts["accounts.list"] == 3


def test_dropped_create_surfaces_as_unavailable(env):
    env["emu"].faults.inject("accounts.create", drop=True)
    with pytest.raises(errors.Unavailable):
        env["accounts"].create(name="maybe", scopes=["cards:read"])
    assert env["emu"].request_counts["accounts.create"] == 1  # not retried: it may have happened
