"""The publisher's decisions on in-memory stores and a virtual clock: when it writes, what
it writes, how it reports, and that one bad target does not stop the others."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import random
import threading
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from rotation.published import FIELDS, PublishedToken
from rotation.publisher import (
    DEFAULT_THRESHOLD_SECONDS,
    FAILED,
    PUBLISHED,
    SKIPPED,
    ConfigError,
    PublishConfig,
    Publisher,
    PublishError,
    PublishTarget,
    decide,
)
from rotation.scheduling import Later, run_bounded
from rotation.vgs import RetryPolicy, VGSHttp
from tests.helpers import VirtualClock, assert_no_secret
from tests.publish_fakes import EMULATOR_HOSTS, FakeKV, FakeSecrets, FakeTokens, credential_document, fake_jwt

CRED = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/app-AbCdEf"
TOK = "vgs/tokens/app"


def world(lifetime: int = 1200, **kw):
    clock = VirtualClock()
    secrets, kv, tokens = FakeSecrets(), FakeKV(), FakeTokens(clock, lifetime)
    secrets.values[CRED] = credential_document()
    pub = Publisher(secrets=secrets, kv=kv, token_client=lambda doc: tokens, clock=clock, **kw)
    return pub, secrets, kv, tokens, clock


def test_publishes_exact_shape_to_secrets_manager_and_kv():
    pub, secrets, kv, tokens, clock = world()
    target = PublishTarget(credential_secret_id=CRED, token_secret_id=TOK, vault_path="secret/vgs/app")
    result = pub.run([target])
    assert result.ok and result.counts() == {PUBLISHED: 1, SKIPPED: 0, FAILED: 0}
    out = result.outcomes[0]
    assert out.reason == "missing" and set(out.written) == {f"sm:{TOK}", "kv:secret/vgs/app"}
    body = json.loads(secrets.values[TOK])
    assert sorted(body) == sorted(FIELDS)
    assert body["client_id"] == "ACabcdefg-app-11111"
    assert body["token_type"] == "Bearer" and body["scope"] == "cards:write"
    assert body["issued_at"] == int(clock()) and body["expires_at"] == int(clock()) + 1200
    entry = kv.entries["secret/vgs/app"]
    assert dict(entry.data) == body  # the same token in both places
    assert entry.custom_metadata == {
        "expires_at": str(body["expires_at"]),
        "issued_at": str(body["issued_at"]),
        "client_id": body["client_id"],
    }
    assert tokens.mints == 1


def test_fresh_token_is_not_rewritten():
    pub, secrets, _kv, tokens, clock = world()
    target = PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)
    pub.run([target])
    clock.advance(300)
    again = pub.run([target])
    assert again.outcomes[0].outcome == SKIPPED and again.outcomes[0].reason == "fresh"
    assert secrets.puts[TOK] == 1 and tokens.mints == 1


def test_ten_minute_schedule_keeps_a_twenty_minute_token_valid_within_the_put_guidance():
    """Two days of runs every 10 minutes; the published token sampled every minute."""
    pub, secrets, _kv, _tokens, clock = world()
    target = PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)
    write_times: list[float] = []
    for _run in range(2 * 24 * 6):
        before = secrets.puts.get(TOK, 0)
        assert pub.run([target]).ok
        if secrets.puts[TOK] != before:
            write_times.append(clock())
        for _minute in range(10):
            published = PublishedToken.parse(secrets.values[TOK])
            assert published.remaining(clock()) >= DEFAULT_THRESHOLD_SECONDS - 600  # the margin, always
            clock.advance(60)
    gaps = [b - a for a, b in itertools.pairwise(write_times)]
    assert min(gaps) >= 600  # never more than once every 10 minutes per secret


def test_long_lived_token_is_written_rarely():
    pub, secrets, _kv, _tokens, clock = world(lifetime=28800)
    target = PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)
    for _ in range(6 * 24):  # a day of 10-minute runs
        pub.run([target])
        clock.advance(600)
    assert secrets.puts[TOK] <= 4  # once per ~8 h


def test_short_token_warns_that_it_can_lapse():
    pub, _s, _kv, _t, _c = world(lifetime=300)
    out = pub.run([PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)]).outcomes[0]
    assert out.outcome == PUBLISHED and out.warning and "threshold" in out.warning


def test_client_change_publishes_even_when_fresh():
    pub, secrets, _kv, tokens, clock = world()
    target = PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)
    pub.run([target])
    secrets.values[CRED] = credential_document("ACabcdefg-app-22222", "another-secret-abcdef0123456789")
    clock.advance(60)
    out = pub.run([target]).outcomes[0]
    assert out.outcome == PUBLISHED and out.reason == "client-changed"
    assert json.loads(secrets.values[TOK])["client_id"] == "ACabcdefg-app-22222"
    assert tokens.mints == 2


@pytest.mark.parametrize("junk", ["not json", json.dumps({"access_token": "x"}), json.dumps([1])])
def test_unparseable_published_value_is_replaced(junk):
    pub, secrets, _kv, _tokens, _clock = world()
    secrets.values[TOK] = junk
    out = pub.run([PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)]).outcomes[0]
    assert out.outcome == PUBLISHED and out.reason == "unparseable"


def test_only_stale_destinations_are_written():
    pub, secrets, kv, tokens, _clock = world()
    pub.run([PublishTarget(credential_secret_id=CRED, token_secret_id=TOK)])
    out = pub.run([PublishTarget(credential_secret_id=CRED, token_secret_id=TOK, vault_path="kv/app")]).outcomes[0]
    assert out.written == ("kv:kv/app",) and secrets.puts[TOK] == 1 and kv.writes["kv/app"] == 1


def test_kv_check_and_set_race_keeps_the_other_writers_token():
    pub, _secrets, kv, _tokens, _clock = world()
    kv.race_next.add("kv/app")
    out = pub.run([PublishTarget(credential_secret_id=CRED, vault_path="kv/app")]).outcomes[0]
    assert out.outcome == SKIPPED and out.reason == "raced"


def test_credential_from_vault_path():
    pub, secrets, kv, _tokens, _clock = world()
    from rotation.stores import KVEntry

    kv.entries["secret/creds/app"] = KVEntry(json.loads(credential_document()), 1)
    kv.entries["secret/creds/as-string"] = KVEntry({"document": credential_document("ACabcdefg-app-33333")}, 1)
    result = pub.run(
        [
            PublishTarget(credential_vault_path="secret/creds/app", token_secret_id=TOK),
            PublishTarget(credential_vault_path="secret/creds/as-string", token_secret_id="t2"),
        ]
    )
    assert result.ok
    assert json.loads(secrets.values["t2"])["client_id"] == "ACabcdefg-app-33333"


def test_one_failing_target_does_not_stop_the_others(leak_check):
    pub, secrets, _kv, tokens, _clock = world(concurrency=4)
    secrets.values["bad-doc"] = "{not json"
    secrets.values["refused"] = credential_document("ACabcdefg-app-refused", "refused-secret-0123456789abcdef")
    tokens.refuse.add("ACabcdefg-app-refused")
    secrets.failing.add("no-access")
    targets = [PublishTarget(credential_secret_id=CRED, token_secret_id=f"tok-{i}") for i in range(6)]
    targets.insert(2, PublishTarget(credential_secret_id="bad-doc", token_secret_id="t-bad"))
    targets.insert(4, PublishTarget(credential_secret_id="refused", token_secret_id="t-refused"))
    targets.insert(5, PublishTarget(credential_secret_id=CRED, token_secret_id="no-access", name="denied"))
    targets.append(PublishTarget(credential_secret_id="missing", token_secret_id="t-missing"))
    result = pub.run(targets)
    assert result.counts() == {PUBLISHED: 6, SKIPPED: 0, FAILED: 4}
    assert [o.target for o in result.outcomes] == [t.label for t in targets]  # order kept
    errors = {o.target: o.error for o in result.failed}
    assert "not valid JSON" in errors["bad-doc"]
    assert "credentials refused" in errors["refused"]
    assert "AccessDenied" in errors["denied"]
    assert "no AWSCURRENT value" in errors["missing"]
    with pytest.raises(PublishError, match="4 of 10 targets failed"):
        result.raise_for_failures()
    text = json.dumps(result.as_dict())
    assert_no_secret(text, "refused-secret-0123456789abcdef", "client-secret-0123456789abcdef")
    leak_check("refused-secret-0123456789abcdef", "client-secret-0123456789abcdef", *tokens_published(secrets))


def tokens_published(secrets: FakeSecrets) -> list[str]:
    out = []
    for value in secrets.values.values():
        with contextlib.suppress(ValueError):
            out.append(PublishedToken.parse(value or "").access_token.reveal())
    return out


def _fleet(secrets: FakeSecrets, n: int) -> list[PublishTarget]:
    """``n`` targets, each with its own credential (a fleet: no two share a token)."""
    for i in range(n):
        secrets.values[f"cred-{i}"] = credential_document(f"ACabcdefg-app-{i:05d}", f"secret-{i:05d}-0123456789abcdef")
    return [PublishTarget(credential_secret_id=f"cred-{i}", token_secret_id=f"tok-{i}") for i in range(n)]


class RoundsOf:
    """A token client hook: each token request waits until ``bound`` are in flight together
    (a barrier of that size lets each round through); ``peak`` is the most seen at once."""

    def __init__(self, bound: int) -> None:
        self.gate = threading.Barrier(bound, timeout=10)
        self.inflight = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, _creds) -> None:
        with self.lock:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
        try:
            self.gate.wait()
        finally:
            with self.lock:
                self.inflight -= 1


@pytest.mark.parametrize("bound", [1, 3, 16, 32])
def test_concurrency_is_bounded_and_used(bound):
    """A fleet of 10 x ``concurrency`` targets runs in rounds of exactly ``concurrency``
    token requests in flight together, and never one more."""
    pub, secrets, _kv, tokens, _clock = world(concurrency=bound)
    tokens.on_mint = rounds = RoundsOf(bound)
    result = pub.run(_fleet(secrets, 10 * bound))
    assert result.counts() == {PUBLISHED: 10 * bound, SKIPPED: 0, FAILED: 0}, result.as_dict()["targets"][:2]
    assert rounds.peak == bound


def test_a_stuck_target_does_not_hold_up_the_others():
    """One credential's token request hangs (a slow server, a long Retry-After): every other
    target is published while it hangs, and the run ends once it is released."""
    pub, secrets, _kv, tokens, _clock = world(concurrency=4)
    targets = _fleet(secrets, 40)
    stuck = "ACabcdefg-app-00003"
    others_done = threading.Event()
    published = 0
    lock = threading.Lock()
    real_put = secrets.put_value

    def put_value(secret_id, value):
        nonlocal published
        real_put(secret_id, value)
        with lock:
            published += 1
            if published == len(targets) - 1:
                others_done.set()

    def on_mint(creds):
        if creds.client_id == stuck:
            assert others_done.wait(timeout=30), "the other targets waited for the stuck one"

    secrets.put_value = put_value  # type: ignore[method-assign]
    tokens.on_mint = on_mint
    result = pub.run(targets)
    assert result.counts() == {PUBLISHED: 40, SKIPPED: 0, FAILED: 0}


def test_targets_sharing_a_credential_mint_once_per_run_and_version():
    pub, secrets, _kv, tokens, clock = world(concurrency=4)
    targets = [PublishTarget(credential_secret_id=CRED, token_secret_id=f"tok-{i}") for i in range(6)]
    result = pub.run(targets)
    assert result.counts()[PUBLISHED] == 6
    assert tokens.mints == 1
    assert len(set(tokens_published(secrets))) == 1
    # a new version of the credential (a rotation) never reuses the old one's token
    secrets.values[CRED] = credential_document("ACabcdefg-app-22222", "rotated-secret-0123456789abcdef")
    assert pub.run(targets).counts()[PUBLISHED] == 6
    assert tokens.mints == 2
    # the next run, once the tokens fall below the threshold: a new token, not the cached one
    clock.advance(1200 - DEFAULT_THRESHOLD_SECONDS + 1)
    assert pub.run(targets).counts()[PUBLISHED] == 6
    assert tokens.mints == 3


def test_access_credentials_are_refused_clearly():
    pub, secrets, _kv, _tokens, _clock = world()
    doc = json.loads(credential_document())
    for k in ("client_id", "client_secret", "scopes", "token_lifespan", "organization_id"):
        doc.pop(k)
    doc.update({"kind": "access-credentials", "credential_id": "c1", "username": "u", "password": "p-123456"})
    secrets.values["ac"] = json.dumps(doc)
    out = pub.run([PublishTarget(credential_secret_id="ac", token_secret_id=TOK)]).outcomes[0]
    assert out.outcome == FAILED and "access-credentials" in out.error


def test_decide():
    tok = PublishedToken.parse(
        {
            "access_token": "a",
            "token_type": "Bearer",
            "expires_at": 2000,
            "issued_at": 800,
            "scope": "",
            "client_id": "c",
        }
    )
    assert decide(None, "c", 1000, 720) == "missing"
    assert decide(tok, "c", 1000, 720, unparseable=True) == "unparseable"
    assert decide(tok, "d", 1000, 720) == "client-changed"
    assert decide(tok, "c", 1000, 720) is None  # 1000 s left
    assert decide(tok, "c", 1300, 720) == "expiring"  # 700 s left


def test_config_parsing():
    cfg = PublishConfig.from_mapping(
        {"targets": [{"credential_secret_id": "a", "token_secret_id": "b", "vault_path": None}], "concurrency": 4}
    )
    assert cfg.refresh_threshold_seconds == DEFAULT_THRESHOLD_SECONDS == 720
    assert cfg.uses_aws and not cfg.uses_vault
    cfg = PublishConfig.from_json(
        json.dumps({"targets": [{"credential_secret_id": "a", "vault_path": "s/x"}], "schedule_period_seconds": 300})
    )
    assert cfg.refresh_threshold_seconds == 420 and cfg.uses_vault
    cfg = PublishConfig.from_mapping(
        {"targets": [{"credential_secret_id": "a", "vault_path": "s/x"}], "refresh_threshold_seconds": 900}
    )
    assert cfg.refresh_threshold_seconds == 900


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "targets"),
        ({"targets": []}, "targets"),
        ({"targets": [{"token_secret_id": "b"}]}, "credential_secret_id"),
        ({"targets": [{"credential_secret_id": "a"}]}, "token_secret_id"),
        ({"targets": [{"credential_secret_id": "a", "token_secret_id": "a"}]}, "must not be the credential"),
        ({"targets": [{"credential_secret_id": "a", "token_secret_id": "b", "typo": 1}]}, "targets[0].typo"),
        ({"targets": [{"credential_secret_id": "a", "vault_path": "nomount"}]}, "MOUNT/PATH"),
        ({"targets": [{"credential_secret_id": "a", "vault_path": "secret/data/x"}]}, "without data/"),
        ({"targets": [{"credential_secret_id": "a", "token_secret_id": 3}]}, "targets[0].token_secret_id"),
        ({"targets": [{"credential_secret_id": "a", "token_secret_id": "b"}], "concurrency": 0}, "concurrency"),
        (
            {"targets": [{"credential_secret_id": "a", "token_secret_id": "b"}], "refresh_threshold": 1},
            "refresh_threshold",
        ),
        (
            {
                "targets": [
                    {"credential_secret_id": "a", "token_secret_id": "b"},
                    {"credential_secret_id": "c", "token_secret_id": "b"},
                ]
            },
            "more than one target",
        ),
    ],
)
def test_config_errors_name_the_field(config, field):
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        PublishConfig.from_mapping(config)


# --------------------------------------------------------------------------- deferred retries
# A throttled (429 + Retry-After) or unavailable token request is retried from a queue
# ordered by due time, on the transport's RetryPolicy clock and sleep (virtual here): its
# worker takes other targets meanwhile.


def throttling_world(concurrency: int, **policy):
    clock = VirtualClock()
    secrets, tokens = FakeSecrets(), FakeTokens(clock)
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, now=clock, rng=random.Random(7), **policy)
    pub = Publisher(
        secrets=secrets, http=VGSHttp(retry=retry), token_client=lambda doc: tokens, clock=clock,
        concurrency=concurrency,
    )  # fmt: skip
    return pub, secrets, tokens, clock


def client(i: int) -> str:
    return f"ACabcdefg-app-{i:05d}"


def test_a_throttled_target_waits_out_retry_after_without_holding_its_worker(caplog):
    """Bound 1: the only worker publishes the other targets while the throttled one waits,
    and asks for its token again exactly ``Retry-After`` later, then writes it once."""
    caplog.set_level(logging.WARNING, logger="rotation.publisher")
    pub, secrets, tokens, clock = throttling_world(1)
    targets = _fleet(secrets, 4)
    tokens.throttle[client(0)] = [30.0]
    start = clock()
    result = pub.run(targets)
    assert result.counts() == {PUBLISHED: 4, SKIPPED: 0, FAILED: 0}
    assert tokens.attempts == [
        (client(0), start), (client(1), start), (client(2), start), (client(3), start), (client(0), start + 30),
    ]  # fmt: skip
    assert clock.sleeps == [30.0]
    assert secrets.puts == {f"tok-{i}": 1 for i in range(4)}  # no extra write
    assert PublishedToken.parse(secrets.values["tok-0"]).issued_at == start + 30  # minted after the wait
    [record] = [r for r in caplog.records if getattr(r, "wait_seconds", None) is not None]
    assert record.target == "cred-0" and record.wait_seconds == 30 and record.attempt == 1
    assert "retrying in 30.0 s (attempt 2 of 5)" in record.getMessage()


def test_deferred_retries_keep_the_bound_and_the_others_do_not_wait():
    """Bound 4, 40 targets, the first 4 throttled once (Retry-After 30): every token request
    runs in a round of exactly 4 in flight (a barrier of 4 lets each round through), never
    5; the 36 others are all asked at the start, before any Retry-After has passed; the
    throttled ones are asked again 30 s later, in a round of their own."""
    bound = 4
    pub, secrets, tokens, clock = throttling_world(bound)
    targets = _fleet(secrets, 10 * bound)
    for i in range(bound):
        tokens.throttle[client(i)] = [30.0]
    tokens.on_mint = rounds = RoundsOf(bound)
    start = clock()
    result = pub.run(targets)
    assert result.counts() == {PUBLISHED: 40, SKIPPED: 0, FAILED: 0}, result.as_dict()["targets"][:2]
    assert rounds.peak == bound
    asked: dict[str, list[float]] = {}
    for client_id, when in tokens.attempts:
        asked.setdefault(client_id, []).append(when)
    assert len(tokens.attempts) == 44
    assert all(times == [start] for cid, times in asked.items() if cid not in {client(i) for i in range(bound)})
    assert all(asked[client(i)] == [start, start + 30] for i in range(bound))
    assert set(secrets.puts.values()) == {1}


@pytest.mark.parametrize(
    ("retry_after", "policy", "asked_at"),
    [
        (5.0, {"max_attempts": 3}, [0, 5, 10]),  # out of attempts
        (20.0, {"max_total": 30}, [0, 20]),  # a third attempt would come after max_total
        (120.0, {}, [0]),  # Retry-After beyond max_retry_after: not waited out at all
    ],
)
def test_a_target_throttled_beyond_its_budget_fails_alone(retry_after, policy, asked_at, leak_check):
    pub, secrets, tokens, clock = throttling_world(2, **policy)
    targets = _fleet(secrets, 6)
    tokens.throttle[client(0)] = [retry_after] * 10
    start = clock()
    result = pub.run(targets)
    assert result.counts() == {PUBLISHED: 5, SKIPPED: 0, FAILED: 1}
    [failed] = result.failed
    assert failed.target == "cred-0" and "rate limited (HTTP 429" in failed.error
    assert [when - start for cid, when in tokens.attempts if cid == client(0)] == asked_at
    assert "tok-0" not in secrets.puts and all(secrets.puts[f"tok-{i}"] == 1 for i in range(1, 6))
    with pytest.raises(PublishError, match="1 of 6 targets failed"):
        result.raise_for_failures()
    leak_check("secret-00000-0123456789abcdef", *tokens_published(secrets))


@pytest.mark.parametrize("answer", [None, "unavailable"])
def test_without_retry_after_the_policy_backoff_is_deferred(answer):
    """A 429 without Retry-After, or a 503: the policy's exponential backoff, from the queue."""
    pub, secrets, tokens, clock = throttling_world(1, jitter=False)
    targets = _fleet(secrets, 2)
    tokens.throttle[client(0)] = [answer, answer]
    result = pub.run(targets)
    assert result.ok
    assert clock.sleeps == [0.25, 0.5]
    assert [cid for cid, _ in tokens.attempts] == [client(0), client(1), client(0), client(0)]


@respx.mock
def test_the_transport_makes_one_attempt_and_the_queue_retries():
    """Over the real transport (respx): the token request of A gets 429 + Retry-After 2, B's
    is answered, then A's again: the transport slept nothing itself, the queue slept 2 s."""
    clock = VirtualClock()
    secrets = FakeSecrets()
    secrets.values["cred-a"] = credential_document("ACabcdefg-app-aaaaa", "secret-aaaaa-0123456789abcdef")
    secrets.values["cred-b"] = credential_document("ACabcdefg-app-bbbbb", "secret-bbbbb-0123456789abcdef")
    asked: list[str] = []
    throttled = {"ACabcdefg-app-aaaaa"}

    def answer(request: httpx.Request) -> httpx.Response:
        client_id = parse_qs(request.content.decode())["client_id"][0]
        asked.append(client_id)
        if client_id in throttled:
            throttled.discard(client_id)
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "slow_down"})
        raw = fake_jwt({"azp": client_id})
        return httpx.Response(200, json={"access_token": raw, "expires_in": 1200, "token_type": "Bearer"})

    respx.post(EMULATOR_HOSTS["token_url"]).mock(side_effect=answer)
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, now=clock, rng=random.Random(7))
    with VGSHttp(retry=retry) as http:
        pub = Publisher(secrets=secrets, http=http, clock=clock, concurrency=1)
        result = pub.run(
            [
                PublishTarget(credential_secret_id="cred-a", token_secret_id="tok-a"),
                PublishTarget(credential_secret_id="cred-b", token_secret_id="tok-b"),
            ]
        )
    assert result.ok, result.as_dict()
    assert asked == ["ACabcdefg-app-aaaaa", "ACabcdefg-app-bbbbb", "ACabcdefg-app-aaaaa"]
    assert clock.sleeps == [2.0]


# --------------------------------------------------------------------------- the due-time queue


def test_run_bounded_keeps_order_and_steps_again_no_earlier_than_asked():
    clock = VirtualClock()
    seen: list[tuple[str, float]] = []
    waits = {"a": [10.0, 5.0], "b": [], "c": [1.0]}

    def step(job: str, worker: int) -> str | Later:
        assert worker == 0
        seen.append((job, clock()))
        return Later(waits[job].pop(0)) if waits[job] else job.upper()

    start = clock()
    assert run_bounded(["a", "b", "c"], step, workers=1, clock=clock, sleep=clock.sleep) == ["A", "B", "C"]
    assert [(job, when - start) for job, when in seen] == [
        ("a", 0), ("b", 0), ("c", 0), ("c", 1), ("a", 10), ("a", 15),
    ]  # fmt: skip


def test_run_bounded_raises_an_exception_from_a_step_and_starts_no_step_after_it():
    """One worker (the calling thread). With several, the others finish the step they are in
    and take no new one; that interleaving is not pinned down here."""
    clock = VirtualClock()
    stepped: list[int] = []

    def step(job: int, worker: int) -> int:
        stepped.append(job)
        if job == 2:
            raise RuntimeError("bug")
        return job

    with pytest.raises(RuntimeError, match="bug"):
        run_bounded(list(range(10)), step, workers=1, clock=clock, sleep=clock.sleep)
    assert stepped == [0, 1, 2]  # nothing started after the failure
