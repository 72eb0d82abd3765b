"""The consumer against the emulator: a real ``httpx.Client`` with :class:`VGSBearerAuth`
calling the emulator's CMP probe, across a revoking rotation, a stale published token
and a missing one."""

from __future__ import annotations

import uuid

import boto3
import httpx
import pytest

from rotation.aws_store import AwsSecretStore
from rotation.consumer import (
    CachingTokenProvider,
    CredentialsTokenSource,
    SecretsManagerTokenSource,
    StaleTokenError,
    VGSBearerAuth,
)
from rotation.published import PublishedToken
from rotation.publisher import Publisher, PublishTarget
from rotation.vgs import Secret, VGSHttp
from tests.rotation_harness import make_world


def sm():
    return boto3.client("secretsmanager", region_name="us-east-1")


def card_url(emulator) -> str:
    return emulator.bootstrap["cmp_url"].rstrip("/") + f"/cards/CRD{uuid.uuid4().hex[:10]}"


def cmp_get(client: httpx.Client, emulator) -> httpx.Response:
    return client.get(card_url(emulator), headers={"Accept": "application/vnd.api+json"})


def test_bearer_auth_survives_an_immediate_revocation(emulator, moto_url, leak_check):
    world = make_world(emulator, revoke="immediate")
    tok = sm().create_secret(Name=f"vgs/token-{uuid.uuid4().hex[:8]}")["ARN"]
    publisher = Publisher(secrets=AwsSecretStore(), http=VGSHttp(timeout=5))
    target = PublishTarget(credential_secret_id=world.secret_arn, token_secret_id=tok)
    assert publisher.run([target]).ok
    provider = CachingTokenProvider(SecretsManagerTokenSource(tok))
    seen: list[int] = []
    with httpx.Client(
        auth=VGSBearerAuth(provider), event_hooks={"response": [lambda r: seen.append(r.status_code)]}
    ) as c:
        assert cmp_get(c, emulator).status_code == 404  # authenticated; the card does not exist
        old = provider.token()
        world.rotate()  # revoke=immediate: the account behind the cached token is deleted
        assert old.client_id not in {a["client_id"] for a in emulator.service_accounts()}
        assert publisher.run([target]).outcomes[0].reason == "client-changed"
        seen.clear()
        assert cmp_get(c, emulator).status_code == 404  # 401 with the cached token, then a fresh one
    assert seen == [401, 404]
    assert provider.token().client_id == world.document().client_id
    assert provider.stats.fetches == 2
    leak_check(old.access_token.reveal(), provider.token().access_token.reveal(), *world.document().secret_values())


def test_stale_published_token_is_replaced_by_minting_with_the_credential(emulator, moto_url):
    world = make_world(emulator)
    doc = world.document()
    import time

    now = int(time.time())
    stale = PublishedToken(Secret("expired.published.token"), "Bearer", now - 30, now - 1230, "", doc.client_id)
    tok = sm().create_secret(Name=f"vgs/token-{uuid.uuid4().hex[:8]}", SecretString=stale.to_json())["ARN"]

    without = CachingTokenProvider(SecretsManagerTokenSource(tok))
    with httpx.Client(auth=VGSBearerAuth(without)) as c, pytest.raises(StaleTokenError, match=r"expired 3\d s ago"):
        cmp_get(c, emulator)

    fallback = CredentialsTokenSource.from_secret(world.secret_arn, http=VGSHttp(timeout=5))
    provider = CachingTokenProvider(SecretsManagerTokenSource(tok), fallback=fallback)
    with httpx.Client(auth=VGSBearerAuth(provider)) as c:
        assert cmp_get(c, emulator).status_code == 404
        assert cmp_get(c, emulator).status_code == 404
    assert provider.stats.fallback_mints == 1 and provider.stats.stale_seen == 1
    assert provider.token().client_id == doc.client_id


def test_missing_published_token_with_credentials_only(emulator, moto_url):
    world = make_world(emulator)
    tok = sm().create_secret(Name=f"vgs/token-{uuid.uuid4().hex[:8]}")["ARN"]  # never published
    provider = CachingTokenProvider(
        SecretsManagerTokenSource(tok), fallback=CredentialsTokenSource.from_secret(world.secret_arn)
    )
    with httpx.Client(auth=VGSBearerAuth(provider)) as c:
        assert cmp_get(c, emulator).status_code == 404
    assert provider.stats.source_failures == 1 and provider.stats.fallback_mints == 1


def test_credentials_source_alone_caches_and_mints_once(emulator):
    from rotation.vgs import ClientCredentials

    boot = emulator.bootstrap
    source = CredentialsTokenSource.from_credentials(
        ClientCredentials(boot["client_id"], Secret(boot["client_secret"])), boot["token_url"]
    )
    provider = CachingTokenProvider(source)
    before = emulator.request_counts.get("token", 0)
    with httpx.Client(auth=VGSBearerAuth(provider)) as c:
        for _ in range(20):
            assert cmp_get(c, emulator).status_code in (403, 404)
    assert emulator.request_counts.get("token", 0) - before == 1
