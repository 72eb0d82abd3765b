"""The transport's retries: tenacity's wait strategies behind Retry-After, on injected clocks,
with one readable WARNING per retry; and JWT claims read by pyjwt. Edge cases (respx mocks)."""

from __future__ import annotations

import email.utils
import logging
import random

import httpx
import jwt
import pytest
import respx

from rotation.vgs import ClientCredentials, RetryPolicy, Secret, TokenClient, VGSHttp, errors
from tests.helpers import VirtualClock

TOKEN_URL = "https://auth.test/auth/realms/vgs/protocol/openid-connect/token"
SECRET = "secret-x-0123456789-abcdefghijkl"
CREDS = ClientCredentials("client-x", Secret(SECRET))


def _ok(**claims: object) -> httpx.Response:
    raw = jwt.encode({"azp": "client-x", **claims}, "k" * 32, algorithm="HS256")
    return httpx.Response(200, json={"access_token": raw, "expires_in": 300})


def _tokens(clock: VirtualClock, **policy: object) -> TokenClient:
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, now=clock, **policy)  # type: ignore[arg-type]
    return TokenClient(TOKEN_URL, http=VGSHttp(retry=retry), clock=clock)


@respx.mock
def test_retry_after_http_date_is_read_on_the_injected_wall_clock():
    clock = VirtualClock()  # 2027: far from the real now, so time.time() would be visibly wrong
    when = email.utils.formatdate(clock() + 30, usegmt=True)
    respx.post(TOKEN_URL).side_effect = [
        httpx.Response(429, headers={"Retry-After": when}, json={"error": "slow_down"}),
        _ok(),
    ]
    _tokens(clock).mint(CREDS)
    assert clock.sleeps == [30.0]


@respx.mock
def test_unreadable_retry_after_falls_back_to_backoff():
    clock = VirtualClock()
    respx.post(TOKEN_URL).side_effect = [
        httpx.Response(429, headers={"Retry-After": "soon, maybe"}, json={"error": "slow_down"}),
        _ok(),
    ]
    _tokens(clock, jitter=False).mint(CREDS)
    assert clock.sleeps == [0.25]


@respx.mock
def test_backoff_is_exponential_with_equal_jitter_and_replays_from_a_seed():
    def sleeps(seed: int) -> list[float]:
        clock = VirtualClock()
        respx.post(TOKEN_URL).side_effect = [httpx.Response(503)] * 5 + [_ok()]
        _tokens(clock, max_attempts=6, rng=random.Random(seed), max_total=1000).mint(CREDS)
        return clock.sleeps

    first = sleeps(7)
    assert len(first) == 5
    for n, slept in enumerate(first):
        delay = min(8.0, 0.25 * 2**n)
        assert delay / 2 <= slept <= delay
    assert sleeps(7) == first  # a fault schedule replays exactly
    assert sleeps(8) != first


@respx.mock
def test_no_jitter_is_plain_exponential_capped():
    clock = VirtualClock()
    respx.post(TOKEN_URL).side_effect = [httpx.Response(502)] * 6 + [_ok()]
    _tokens(clock, max_attempts=7, jitter=False, base_delay=1, max_delay=4, max_total=1000).mint(CREDS)
    assert clock.sleeps == [1, 2, 4, 4, 4, 4]


@respx.mock
def test_each_retry_logs_one_warning_saying_what_the_wait_and_the_attempt(caplog):
    caplog.set_level(logging.DEBUG, logger="rotation")
    clock = VirtualClock()
    respx.post(TOKEN_URL).side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow_down", "error_description": SECRET}),
        httpx.Response(503),
        _ok(),
    ]
    _tokens(clock, max_attempts=4, jitter=False).mint(CREDS)
    warnings = [r for r in caplog.records if r.name == "rotation.vgs" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "mint token failed (RateLimited, HTTP 429); retrying in 7.0 s (attempt 2 of 4)",
        "mint token failed (Unavailable, HTTP 503); retrying in 0.5 s (attempt 3 of 4)",
    ]
    assert warnings[0].wait_seconds == 7 and warnings[0].max_attempts == 4
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET not in text


@respx.mock
def test_claims_are_read_by_pyjwt_without_a_jwks():
    clock = VirtualClock()
    respx.post(TOKEN_URL).mock(return_value=_ok(scope="cards:read", resource_access={"c": {"roles": ["x:y"]}}))
    token = _tokens(clock).mint(CREDS)
    assert token.client_id == "client-x"
    assert token.granted_scopes == {"cards:read", "x:y"}


@respx.mock
@pytest.mark.parametrize(
    "raw",
    [
        "aaaaaaaaaa.bbbbbbbbbb.cccccccccc",  # three segments, not base64 JSON
        "eyJhbGciOiJIUzI1NiJ9.WzEsMl0.c2ln",  # a payload that is a JSON array
    ],
)
def test_an_unreadable_jwt_has_no_claims_and_fails_the_client_check(raw):
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={"access_token": raw, "expires_in": 300}))
    token = _tokens(VirtualClock()).mint(CREDS)
    assert token.claims == {}
    with pytest.raises(errors.TokenValidationError, match="issued to"):
        token.check(client_id="client-x")
