"""The consumer's cache on a virtual clock: hits, refresh at the skew, single-flight under
threads, never a stale token, fallback minting, and the httpx auth's 401 retry."""

from __future__ import annotations

import threading

import httpx
import pytest

from rotation.consumer import (
    CachingTokenProvider,
    CredentialsTokenSource,
    SecretsManagerTokenSource,
    StaleTokenError,
    TokenUnavailableError,
    VaultTokenSource,
    VGSBearerAuth,
)
from rotation.published import PublishedToken
from rotation.stores import KVEntry
from rotation.vgs import Secret
from tests.helpers import VirtualClock
from tests.publish_fakes import FakeKV, FakeSecrets


class CountingSource:
    """Hands out numbered tokens of ``lifetime`` seconds, issued now; counts fetches."""

    def __init__(self, clock, lifetime=1200, client_id="c-1", description="counting"):
        self.clock = clock
        self.lifetime = lifetime
        self.client_id = client_id
        self.description = description
        self.fetches = 0
        self.fixed: PublishedToken | None = None
        self.gate: threading.Event | None = None
        self.fail: Exception | None = None
        self.lock = threading.Lock()

    def fetch(self) -> PublishedToken:
        if self.gate is not None:
            assert self.gate.wait(10)
        with self.lock:
            self.fetches += 1
            n = self.fetches
        if self.fail is not None:
            raise self.fail
        if self.fixed is not None:
            return self.fixed
        now = int(self.clock())
        return make_token(f"tok-{self.description}-{n}", now, now + self.lifetime, self.client_id)


def make_token(value, issued, expires, client_id="c-1") -> PublishedToken:
    return PublishedToken(Secret(value), "Bearer", expires, issued, "cards:write", client_id)


def test_cached_reads_fetch_once():
    clock = VirtualClock()
    source = CountingSource(clock)
    provider = CachingTokenProvider(source, clock=clock)
    tokens = {provider.token().access_token.reveal() for _ in range(1000)}
    assert len(tokens) == 1 and source.fetches == 1
    assert provider.stats.reads == 1000 and provider.stats.cache_hits == 999


def test_refreshes_at_the_skew_margin_not_before():
    clock = VirtualClock()
    source = CountingSource(clock, lifetime=1200)
    provider = CachingTokenProvider(source, skew=60, clock=clock)
    first = provider.token()
    clock.advance(1200 - 61)
    assert provider.token() is first and source.fetches == 1
    clock.advance(1)  # 60 s left: within the skew
    second = provider.token()
    assert second is not first and source.fetches == 2
    assert second.remaining(clock()) > 60


def test_max_age_bounds_reuse():
    clock = VirtualClock()
    source = CountingSource(clock)
    provider = CachingTokenProvider(source, max_age=300, clock=clock)
    provider.token()
    clock.advance(299)
    provider.token()
    clock.advance(1)
    provider.token()
    assert source.fetches == 2


def test_single_flight_under_threads():
    clock = VirtualClock()
    source = CountingSource(clock)
    source.gate = threading.Event()
    provider = CachingTokenProvider(source, clock=clock)
    start = threading.Barrier(33, timeout=10)
    seen: list[str] = []
    errors: list[BaseException] = []

    def reader():
        start.wait()
        try:
            for _ in range(50):
                seen.append(provider.token().access_token.reveal())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(32)]
    for t in threads:
        t.start()
    start.wait()  # every reader is about to ask; the first one blocks inside fetch
    source.gate.set()
    for t in threads:
        t.join(10)
    assert not errors
    assert source.fetches == 1
    assert len(seen) == 32 * 50 and len(set(seen)) == 1


def test_single_flight_after_expiry_under_threads():
    clock = VirtualClock()
    source = CountingSource(clock)
    provider = CachingTokenProvider(source, clock=clock)
    provider.token()
    clock.advance(1200)
    source.gate = threading.Event()
    start = threading.Barrier(17, timeout=10)
    results: list[PublishedToken] = []

    def reader():
        start.wait()
        results.append(provider.token())

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for t in threads:
        t.start()
    start.wait()
    source.gate.set()
    for t in threads:
        t.join(10)
    assert source.fetches == 2 and len({r.access_token.reveal() for r in results}) == 1
    assert all(r.remaining(clock()) > 60 for r in results)


def test_stale_published_token_without_credentials_raises_a_clear_error():
    clock = VirtualClock()
    source = CountingSource(clock, description="secret vgs/tokens/app")
    now = int(clock())
    source.fixed = make_token("old", now - 1200, now - 5)
    provider = CachingTokenProvider(source, clock=clock)
    with pytest.raises(StaleTokenError, match=r"secret vgs/tokens/app is stale: expired 5 s ago.*publisher is behind"):
        provider.token()
    source.fixed = make_token("almost", now - 1170, now + 30)  # valid, but within the 60 s skew
    with pytest.raises(StaleTokenError, match="expires in 30 s"):
        provider.token()


def test_stale_published_token_falls_back_to_minting():
    clock = VirtualClock()
    published = CountingSource(clock, description="published")
    now = int(clock())
    published.fixed = make_token("old", now - 1200, now - 5)
    minting = CountingSource(clock, description="credentials")
    provider = CachingTokenProvider(published, fallback=minting, clock=clock)
    token = provider.token()
    assert token.access_token.reveal() == "tok-credentials-1"
    assert provider.stats.fallback_mints == 1 and provider.stats.stale_seen == 1
    assert provider.token() is token  # cached like any other
    # the publisher catches up: the next refresh uses the published token again
    clock.advance(1200)
    published.fixed = None
    assert provider.token().access_token.reveal().startswith("tok-published")


def test_source_failure_falls_back_or_raises():
    clock = VirtualClock()
    published = CountingSource(clock, description="published")
    published.fail = RuntimeError("boom with secret-ish text")
    with pytest.raises(TokenUnavailableError, match="unexpected RuntimeError") as info:
        CachingTokenProvider(published, clock=clock).token()
    assert "secret-ish" not in str(info.value)
    provider = CachingTokenProvider(published, fallback=CountingSource(clock, description="creds"), clock=clock)
    assert provider.token().access_token.reveal() == "tok-creds-1"


def test_never_returns_an_expired_token_over_a_day_of_random_clock_steps():
    import random

    rng = random.Random(7)
    clock = VirtualClock()
    source = CountingSource(clock)
    provider = CachingTokenProvider(source, skew=30, clock=clock)
    for _ in range(5000):
        clock.advance(rng.uniform(0, 90))
        assert provider.token().remaining(clock()) > 30
    assert provider.stats.cache_fraction > 0.9


def test_secrets_manager_and_vault_sources_parse_the_published_document():
    clock = VirtualClock()
    now = int(clock())
    tok = make_token("abc.def.ghi", now, now + 1200)
    secrets, kv = FakeSecrets(), FakeKV()
    secrets.values["t"] = tok.to_json()
    kv.entries["secret/t"] = KVEntry(tok.as_dict(), 3, tok.custom_metadata())
    assert SecretsManagerTokenSource("t", store=secrets).fetch() == tok
    assert VaultTokenSource("secret/t", kv=kv).fetch() == tok
    with pytest.raises(TokenUnavailableError, match="holds no published token"):
        SecretsManagerTokenSource("none", store=secrets).fetch()
    with pytest.raises(TokenUnavailableError, match="holds no published token"):
        VaultTokenSource("secret/none", kv=kv).fetch()


def test_bearer_auth_retries_once_on_401_with_a_fresh_token():
    clock = VirtualClock()
    source = CountingSource(clock)
    provider = CachingTokenProvider(source, clock=clock)
    seen: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if request.headers["Authorization"].endswith("-1") else 200)

    with httpx.Client(auth=VGSBearerAuth(provider), transport=httpx.MockTransport(app)) as client:
        assert client.get("https://vgs.test/cards/x").status_code == 200
        assert seen == ["Bearer tok-counting-1", "Bearer tok-counting-2"]
        assert client.get("https://vgs.test/cards/y").status_code == 200
        assert seen[-1] == "Bearer tok-counting-2" and source.fetches == 2


def test_bearer_auth_gives_back_the_401_when_no_other_token_exists():
    clock = VirtualClock()
    source = CountingSource(clock)
    now = int(clock())
    source.fixed = make_token("only-one", now, now + 1200)
    provider = CachingTokenProvider(source, clock=clock)
    calls: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["Authorization"])
        return httpx.Response(401)

    with httpx.Client(auth=VGSBearerAuth(provider), transport=httpx.MockTransport(app)) as client:
        assert client.get("https://vgs.test/cards/x").status_code == 401
    assert calls == ["Bearer only-one"]  # no pointless retry with the same refused token


def test_a_refused_published_token_is_replaced_by_minting():
    """The server refuses the published token before it expires (its credential was rotated
    with revoke=immediate and the publisher has not caught up): the consumer mints with its
    credentials and the request goes through, instead of handing back the refused token."""
    clock = VirtualClock()
    published = CountingSource(clock, description="published")
    now = int(clock())
    published.fixed = make_token("revoked-early", now, now + 1200)
    minting = CountingSource(clock, description="credentials")
    provider = CachingTokenProvider(published, fallback=minting, clock=clock)
    seen: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401 if request.headers["Authorization"].endswith("revoked-early") else 200)

    with httpx.Client(auth=VGSBearerAuth(provider), transport=httpx.MockTransport(app)) as client:
        assert client.get("https://vgs.test/cards/x").status_code == 200
        assert client.get("https://vgs.test/cards/y").status_code == 200
    assert seen == ["Bearer revoked-early", "Bearer tok-credentials-1", "Bearer tok-credentials-1"]
    assert minting.fetches == 1


def test_concurrent_401s_share_one_refresh():
    clock = VirtualClock()
    source = CountingSource(clock)
    provider = CachingTokenProvider(source, clock=clock)
    rejected = provider.token()
    out = []
    threads = [
        threading.Thread(target=lambda: out.append(provider.token(force=True, rejected=rejected))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert source.fetches == 2 and len({t.access_token.reveal() for t in out}) == 1


def test_credentials_source_follows_a_rotation_when_refused():
    import json

    from tests.publish_fakes import FakeTokens, credential_document

    clock = VirtualClock()
    secrets = FakeSecrets()
    secrets.values["cred"] = credential_document("ACabcdefg-app-11111")
    source = CredentialsTokenSource.from_secret("cred", store=secrets, clock=clock)
    fake = FakeTokens(clock)
    source._client = lambda minter: fake  # the token client is the VGS layer's; fake it here
    assert source.fetch().client_id == "ACabcdefg-app-11111"

    # a rotation finished and revoked the old credential between our read and our mint
    fake.refuse.add("ACabcdefg-app-11111")
    reads = {"n": 0}
    real_get = secrets.get_value

    def get_value(secret_id, **kw):
        reads["n"] += 1
        if reads["n"] >= 2:
            secrets.values["cred"] = credential_document("ACabcdefg-app-22222", "new-secret-abcdef0123456789")
        return real_get(secret_id, **kw)

    secrets.get_value = get_value
    token = source.fetch()
    assert token.client_id == "ACabcdefg-app-22222"
    assert json.loads(token.to_json())["client_id"] == "ACabcdefg-app-22222"
