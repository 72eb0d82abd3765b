"""A simulated day on one virtual clock shared by the VGS emulator, the rotation, the
publisher and the consumers.

- 20-minute tokens; the publisher runs every 10 minutes (default threshold: 12 minutes);
- a rotation every 4 hours with ``revoke=next-rotation`` (the account that was AWSPREVIOUS
  is deleted), retried as Secrets Manager retries a failed rotation;
- 1% of all VGS calls fail with 503 (the emulator's random faults), retried on virtual time;
- four consumers read about once a minute through :class:`CachingTokenProvider` (published
  token first, minting with AWSCURRENT's credential when it is stale), one of them restarts
  (loses its cache) every 3 hours;
- the publisher is down from 13:00 to 14:00 (its schedule disabled, say), so the published
  token expires and the consumers must mint with the credentials.

Every read is checked against the emulator: the token must not be expired on the shared
clock and must belong to an account that still exists; one read in ten is also sent to the
emulator's CMP probe. The count of bad reads must be 0. It prints the fraction of reads
served from the cache.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass, field

import boto3
import pytest

from rotation.aws_store import AwsSecretStore
from rotation.consumer import CachingTokenProvider, CredentialsTokenSource, SecretsManagerTokenSource
from rotation.emulator import Emulator
from rotation.published import PublishedToken
from rotation.publisher import FAILED, Publisher, PublishTarget
from rotation.vgs import AccessToken, CMPProbe, RetryPolicy, VGSHttp, errors
from tests.helpers import VirtualClock
from tests.rotation_harness import make_world, start_rotation

pytestmark = pytest.mark.slow

MINUTE = 60
HOUR = 3600
DAY = 24 * HOUR
PUBLISH_EVERY = 10 * MINUTE
ROTATE_EVERY = 4 * HOUR
RESTART_EVERY = 3 * HOUR
CONSUMERS = 4
OUTAGE = (13 * HOUR, 14 * HOUR)  # publisher not running


class CountingStore(AwsSecretStore):
    """Records the virtual time of every PutSecretValue to the token secret."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.put_times: list[float] = []

    def put_value(self, secret_id: str, value: str) -> None:
        super().put_value(secret_id, value)
        self.put_times.append(self.clock())


def azp(token: PublishedToken) -> str:
    segment = token.access_token.reveal().split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["azp"])


@dataclass
class Tally:
    reads: int = 0
    expired: int = 0
    deleted_account: int = 0
    refused_by_cmp: int = 0
    errors: int = 0
    probes: int = 0
    fetches: int = 0
    cache_hits: int = 0
    fallback_mints: int = 0
    clients_seen: set[str] = field(default_factory=set)

    def absorb(self, provider: CachingTokenProvider) -> None:
        self.fetches += provider.stats.fetches
        self.cache_hits += provider.stats.cache_hits
        self.fallback_mints += provider.stats.fallback_mints


def test_simulated_day(moto_url):
    clock = VirtualClock()
    rng = random.Random(20261128)
    with Emulator(port=0, clock=clock) as emu:
        world = make_world(emu, revoke="next-rotation")
        world.clock = clock  # the rotation's waits and timestamps on the shared clock
        initial = world.document().client_id
        token_secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=f"vgs/token-day-{uuid.uuid4().hex[:6]}"
        )["ARN"]

        def vgs_http() -> VGSHttp:
            return VGSHttp(timeout=5, retry=RetryPolicy(max_attempts=6, sleep=clock.sleep, clock=clock))

        store = CountingStore(clock)
        publisher = Publisher(secrets=store, http=vgs_http(), clock=clock)
        target = PublishTarget(credential_secret_id=world.secret_arn, token_secret_id=token_secret)
        reader_store = AwsSecretStore()
        consumer_http = vgs_http()
        probe = CMPProbe(emu.bootstrap["cmp_url"], http=vgs_http())

        def new_consumer() -> CachingTokenProvider:
            return CachingTokenProvider(
                SecretsManagerTokenSource(token_secret, store=reader_store),
                fallback=CredentialsTokenSource.from_secret(
                    world.secret_arn, store=reader_store, http=consumer_http, clock=clock
                ),
                skew=60,
                clock=clock,
            )

        emu.faults.set_random(rate=0.01, statuses=(503,), seed=7)
        start = clock()
        consumers = [new_consumer() for _ in range(CONSUMERS)]
        next_read = [start + rng.uniform(0, MINUTE) for _ in range(CONSUMERS)]
        next_publish, next_rotation, next_restart = start, start + 2 * HOUR, start + RESTART_EVERY
        tally = Tally()
        publish_failures = rotations = rotation_retries = restarts = 0
        deleted: set[str] = set()

        while clock() < start + DAY:
            due = min(next_publish, next_rotation, next_restart, *next_read)
            if due > clock():
                clock.advance(due - clock())
            now = clock()
            if now >= next_rotation:
                version = start_rotation(world.secret_arn)
                for attempt in range(6):  # Secrets Manager retries a failed rotation
                    try:
                        world.run(version)
                        break
                    except Exception:
                        rotation_retries += 1
                        assert attempt < 5, "the rotation failed six times in a row"
                rotations += 1
                next_rotation += ROTATE_EVERY
            if now >= next_publish:
                if not OUTAGE[0] <= now - start < OUTAGE[1]:
                    result = publisher.run([target])
                    publish_failures += len([o for o in result.outcomes if o.outcome == FAILED])
                next_publish += PUBLISH_EVERY
            if now >= next_restart:
                i = restarts % CONSUMERS
                tally.absorb(consumers[i])
                consumers[i] = new_consumer()  # a restart: the cache is gone
                restarts += 1
                next_restart += RESTART_EVERY
            live = {a["client_id"] for a in emu.service_accounts()}
            for i, provider in enumerate(consumers):
                if next_read[i] > clock():
                    continue
                next_read[i] += rng.uniform(40, 80)  # "about once a minute"
                tally.reads += 1
                try:
                    token = provider.token()
                except Exception:
                    tally.errors += 1
                    continue
                owner = azp(token)
                tally.clients_seen.add(owner)
                if token.remaining(clock()) <= 0:
                    tally.expired += 1
                if owner not in live:
                    tally.deleted_account += 1
                if tally.reads % 10 == 0:
                    tally.probes += 1
                    try:
                        probe.check(AccessToken(token.access_token, token.token_type, 60, token.issued_at))
                    except errors.InvalidCredentials:
                        tally.refused_by_cmp += 1
            deleted |= {c for c in tally.clients_seen if c not in live}

        for provider in consumers:
            tally.absorb(provider)
        emu.faults.set_random(rate=0)
        faulted = sum(emu.request_counts.values())

    gaps = [b - a for a, b in zip(store.put_times, store.put_times[1:], strict=False)]
    cache_fraction = tally.cache_hits / tally.reads
    print(
        f"\nsimulated day: {tally.reads} consumer reads, {cache_fraction:.1%} served from cache, "
        f"{tally.fetches} fetches of the published token, {tally.fallback_mints} mints with credentials, "
        f"{restarts} consumer restarts; {len(store.put_times)} PutSecretValue (min gap {min(gaps):.0f} s); "
        f"{rotations} rotations ({rotation_retries} retried), {len(deleted)} accounts deleted after use; "
        f"{publish_failures} failed publisher runs; {tally.probes} CMP probes; {faulted} VGS requests; "
        f"bad reads: {tally.expired} expired, {tally.deleted_account} deleted account, "
        f"{tally.refused_by_cmp} refused by CMP, {tally.errors} errors"
    )
    assert tally.expired == 0
    assert tally.deleted_account == 0
    assert tally.refused_by_cmp == 0
    assert tally.errors == 0
    assert rotations == 6
    assert initial in deleted and len(deleted) >= 4  # next-rotation really deleted what consumers used
    assert len(tally.clients_seen) == 7  # the initial account and one per rotation, each served
    assert len(store.put_times) <= DAY // PUBLISH_EVERY + 1
    assert min(gaps) >= PUBLISH_EVERY - 30  # ~once per 10 minutes; retries may shift a run by seconds
    assert tally.fallback_mints >= CONSUMERS  # the outage was bridged by minting, not by stale tokens
    assert cache_fraction > 0.8
