"""The VGS client layer over real loopback HTTP against the emulator."""

from __future__ import annotations

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
from tests.helpers import VirtualClock, assert_no_secret


def _stack(emulator, clock: VirtualClock | None = None, **policy):
    boot = emulator.bootstrap
    clock = clock or VirtualClock()
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, **policy)
    http = VGSHttp(timeout=5.0, retry=retry)
    ep = VGSEndpoints.from_mapping(boot)
    tokens = TokenClient(ep.token_url, http=http, jwks_url=ep.jwks_url)
    manager = ClientCredentials(boot["client_id"], Secret(boot["client_secret"]))
    auth = CachedTokenAuth(tokens, manager)
    accounts = AccountsClient(ep.accounts_url, boot["organization_id"], auth=auth, http=http)
    vault = VaultCredentialsClient(ep.vault_management_url, boot["vault_id"], auth=auth, http=http)
    return ep, http, tokens, manager, accounts, vault, clock


def test_mint_returns_typed_token_with_claims(emulator):
    ep, _, tokens, manager, *_ = _stack(emulator)
    token = tokens.mint(manager)
    assert token.token_type.lower() == "bearer"
    assert token.expires_in > 0
    assert token.expires_at == pytest.approx(token.issued_at + token.expires_in)
    assert token.client_id == manager.client_id
    assert "service-accounts:write" in token.granted_scopes
    assert token.is_fresh(token.issued_at)
    assert not token.is_fresh(token.expires_at - 10, skew=60)


def test_mint_with_http_basic_and_signature_check(emulator):
    ep, http, _, manager, *_ = _stack(emulator)
    tokens = TokenClient(ep.token_url, http=http, auth_method="basic", jwks_url=ep.jwks_url, verify_signature=True)
    token = tokens.mint(manager)
    assert token.client_id == manager.client_id


def test_wrong_secret_is_invalid_credentials_and_not_retried(emulator, leak_check):
    ep, http, tokens, manager, *_ = _stack(emulator)
    wrong = "definitely-not-the-secret-0123456789"
    before = emulator.request_counts["token"]
    with pytest.raises(errors.InvalidCredentials) as info:
        tokens.mint(ClientCredentials(manager.client_id, Secret(wrong)))
    assert emulator.request_counts["token"] - before == 1
    assert info.value.status == 401
    leak_check(wrong, emulator.bootstrap["client_secret"], extra_text=str(info.value) + repr(info.value))


def test_429_then_success_honours_retry_after(emulator):
    ep, http, tokens, manager, *_, clock = _stack(emulator)
    emulator.faults.inject("token", status=429, count=2, retry_after=7)
    token = tokens.mint(manager)
    assert token.client_id == manager.client_id
    assert clock.sleeps == [7, 7]


def test_retry_after_beyond_the_budget_gives_up_with_rate_limited(emulator):
    *_, tokens, manager, _a, _v, clock = _stack(emulator, max_retry_after=5)
    emulator.faults.inject("token", status=429, count=1, retry_after=600)
    with pytest.raises(errors.RateLimited) as info:
        tokens.mint(manager)
    assert info.value.retry_after == 600
    assert clock.sleeps == []


def test_503_until_retries_are_exhausted(emulator):
    *_, tokens, manager, _a, _v, clock = _stack(emulator, max_attempts=4)
    before = emulator.request_counts["token"]
    emulator.faults.inject("token", status=503, count=10)
    with pytest.raises(errors.Unavailable):
        tokens.mint(manager)
    assert emulator.request_counts["token"] - before == 4
    assert len(clock.sleeps) == 3
    # exponential backoff with jitter: each wait within [base*2^n / 2, base*2^n]
    for n, slept in enumerate(clock.sleeps):
        assert 0.25 * 2**n / 2 <= slept <= 0.25 * 2**n


def test_total_time_bound_stops_retries(emulator):
    *_, tokens, manager, _a, _v, clock = _stack(
        emulator, max_attempts=50, base_delay=4, max_delay=4, jitter=False, max_total=10
    )
    emulator.faults.inject("token", status=503, count=50)
    with pytest.raises(errors.Unavailable):
        tokens.mint(manager)
    assert sum(clock.sleeps) <= 10
    assert clock.sleeps == [4, 4]


def test_500_is_not_retried(emulator):
    *_, tokens, manager, _a, _v, clock = _stack(emulator)
    emulator.faults.inject("token", status=500, count=1)
    with pytest.raises(errors.ServerError):
        tokens.mint(manager)
    assert clock.sleeps == []


def test_dropped_connection_is_retried_for_a_mint(emulator):
    *_, tokens, manager, _a, _v, clock = _stack(emulator)
    emulator.faults.inject("token", drop=True, count=1)
    assert tokens.mint(manager).client_id == manager.client_id
    assert len(clock.sleeps) == 1


def test_dropped_connection_on_create_is_not_retried(emulator):
    *_, accounts, _v, clock = _stack(emulator)
    accounts.list()  # mint the manager token first
    emulator.faults.inject("accounts.create", drop=True, count=1)
    with pytest.raises(errors.Unavailable):
        accounts.create(name="svc-drop", scopes=["cards:read"])
    assert clock.sleeps == []


def test_503_on_create_is_retried_because_it_was_refused(emulator):
    *_, accounts, _v, clock = _stack(emulator)
    emulator.faults.inject("accounts.create", status=503, count=1)
    created = accounts.create(name="svc-503", scopes=["cards:read"])
    assert [a.client_id for a in accounts.list()].count(created.client_id) == 1


def test_service_account_life_cycle(emulator, leak_check):
    ep, http, tokens, _, accounts, *_ = _stack(emulator)
    created = accounts.create(
        name="cmp-app",
        scopes=["cards:read", "cards:write"],
        vaults=[emulator.bootstrap["vault_id"]],
        annotations={"vgs-rotation/version": "v1"},
        access_token_lifespan=1200,
    )
    assert created.client_id
    assert "***" not in created.client_secret.reveal()
    assert created.client_secret.reveal() not in repr(created)
    listed = {a.client_id: a for a in accounts.list()}
    assert listed[created.client_id].annotations == {"vgs-rotation/version": "v1"}
    assert set(listed[created.client_id].scopes) == {"cards:read", "cards:write"}
    token = tokens.mint(created.credentials)
    assert token.client_id == created.client_id
    assert token.expires_in == 1200
    assert {"cards:read", "cards:write"} <= token.granted_scopes
    CMPProbe(ep.cmp_url, http=http).check(token)

    assert accounts.delete(created.client_id) is True
    assert accounts.delete(created.client_id) is False  # already gone counts as deleted
    assert accounts.get(created.client_id) is None
    with pytest.raises(errors.InvalidCredentials):
        tokens.mint(created.credentials)
    with pytest.raises(errors.InvalidCredentials):
        CMPProbe(ep.cmp_url, http=http).check(token)
    leak_check(created.client_secret.reveal(), token.access_token.reveal())


def test_probe_forbidden_without_scope(emulator):
    ep, http, tokens, _, accounts, *_ = _stack(emulator)
    created = accounts.create(name="no-read", scopes=["cards:write"])
    with pytest.raises(errors.Forbidden):
        CMPProbe(ep.cmp_url, http=http).check(tokens.mint(created.credentials))


def test_name_length_refused_before_any_call(emulator):
    *_, accounts, _v, _c = _stack(emulator)
    accounts.list()
    before = emulator.request_counts["accounts.create"]
    with pytest.raises(errors.InvalidRequest, match="20"):
        accounts.create(name="x" * 21, scopes=["cards:read"])
    assert emulator.request_counts["accounts.create"] == before


def test_fifty_accounts_per_organization(emulator):
    *_, accounts, _v, _c = _stack(emulator)
    existing = len(accounts.list())
    for i in range(50 - existing):
        accounts.create(name=f"fill-{i}", scopes=["cards:read"])
    with pytest.raises(errors.LimitExceeded, match="50"):
        accounts.create(name="one-too-many", scopes=["cards:read"])
    assert len(accounts.list()) == 50


def test_access_credentials_life_cycle_and_limit(emulator, leak_check):
    boot = emulator.bootstrap
    *_, http, _t, _m, _a, vault, _c = _stack(emulator)
    created = vault.create(annotations={"vgs-rotation/version": "v1"})
    assert created.password.reveal() not in repr(created)
    VaultApiProbe(boot["vault_api_url"], http=http).check(created.username, created.password)
    assert created.id in {c.id for c in vault.list()}
    while len(vault.list()) < 10:
        vault.create()
    with pytest.raises(errors.LimitExceeded, match="10"):
        vault.create()
    assert vault.delete(created.id) is True
    assert vault.delete(created.id) is False
    with pytest.raises(errors.InvalidCredentials):
        VaultApiProbe(boot["vault_api_url"], http=http).check(created.username, created.password)
    leak_check(created.password.reveal())


def test_plain_http_refused_off_loopback():
    with pytest.raises(errors.InsecureURL):
        TokenClient("http://auth.example.com/token")
    with pytest.raises(errors.InsecureURL):
        VGSEndpoints(token_url="http://10.0.0.1/t", accounts_url="https://a", vault_management_url="https://v")
    TokenClient("http://auth.example.com/token", allow_insecure_http=True)
    TokenClient("http://127.0.0.1:9/token")
    TokenClient("http://[::1]:9/token")
    TokenClient("https://auth.example.com/token")
    with pytest.raises(errors.InsecureURL):
        TokenClient("ftp://auth.example.com/token")


def test_presets():
    live = VGSEndpoints.live()
    assert live.token_url == "https://auth.verygoodsecurity.com/auth/realms/vgs/protocol/openid-connect/token"
    assert live.accounts_url.startswith("https://accounts.apps.verygoodsecurity.com")
    emu = VGSEndpoints.emulator("http://127.0.0.1:8080/")
    assert emu.token_url == "http://127.0.0.1:8080/auth/realms/vgs/protocol/openid-connect/token"


def test_secret_and_credentials_never_show_themselves():
    secret = Secret("s3cr3t-value-that-must-not-show")
    creds = ClientCredentials("client-1", secret)
    for text in (repr(secret), str(secret), f"{secret}", repr(creds), str(creds)):
        assert_no_secret(text, "s3cr3t-value-that-must-not-show")
    assert ClientCredentials("client-1", "plain-string").client_secret == Secret("plain-string")
    with pytest.raises(ValueError):
        ClientCredentials("", "x")
    with pytest.raises(ValueError):
        ClientCredentials("client", "")
