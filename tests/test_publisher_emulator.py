"""The publisher end to end: credentials rotated by the real rotation core in moto's
Secrets Manager, tokens minted by the VGS emulator over HTTP, published to Secrets Manager
and OpenBao; the Lambda handler and ``vgs-rotate publish`` as users run them."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid

import boto3
import pytest

from rotation.aws_store import AwsSecretStore
from rotation.publish_stores import build_publisher
from rotation.published import FIELDS, PublishedToken
from rotation.publisher import FAILED, PUBLISHED, SKIPPED, PublishConfig, Publisher, PublishError, PublishTarget
from rotation.vault_store import VaultKV
from rotation.vgs import AccessToken, CMPProbe, RetryPolicy, VGSHttp, errors
from tests import bao_server
from tests.helpers import LambdaContext as Context
from tests.helpers import VirtualClock, assert_no_secret, emf_records, powertools_logs_to_captured_stdout
from tests.rotation_harness import make_world, start_rotation

bao = bao_server.bao  # fixture


def sm():
    return boto3.client("secretsmanager", region_name="us-east-1")


def token_secret() -> str:
    return sm().create_secret(Name=f"vgs/token-{uuid.uuid4().hex[:8]}")["ARN"]


def read_published(secret_id: str) -> PublishedToken:
    return PublishedToken.parse(sm().get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])


def accepted_by_cmp(emulator, published: PublishedToken) -> bool:
    """The emulator's CMP probe: 404 for an unknown card means the token is accepted."""
    token = AccessToken(published.access_token, published.token_type, 60, published.issued_at)
    try:
        CMPProbe(emulator.bootstrap["cmp_url"], http=VGSHttp(timeout=5)).check(token)
    except errors.InvalidCredentials:
        return False
    return True


def test_publishes_a_working_token_to_secrets_manager_and_kv(emulator, moto_url, bao, leak_check):
    world = make_world(emulator)
    doc = world.document()
    tok = token_secret()
    path = f"secret/vgs/tokens/{uuid.uuid4().hex[:8]}"
    config = PublishConfig.from_mapping(
        {"targets": [{"credential_secret_id": world.secret_arn, "token_secret_id": tok, "vault_path": path}]}
    )
    publisher = build_publisher(config, kv=VaultKV(url=bao.url, token=bao.token))
    result = publisher.run(config.targets)
    assert result.ok and result.outcomes[0].outcome == PUBLISHED, result.as_dict()
    published = read_published(tok)
    assert published.client_id == doc.client_id
    assert published.remaining() > 1100  # a 20-minute token, just minted
    assert accepted_by_cmp(emulator, published)
    entry = VaultKV(url=bao.url, token=bao.token).read(path)
    assert sorted(entry.data) == sorted(FIELDS) and entry.data["access_token"] == published.access_token.reveal()
    assert entry.custom_metadata["expires_at"] == str(published.expires_at)

    again = publisher.run(config.targets)
    assert again.outcomes[0].outcome == SKIPPED
    leak_check(published.access_token.reveal(), *doc.secret_values(), emulator.bootstrap["client_secret"])


def test_rotation_aware_publish(emulator, moto_url):
    """While a rotation is in progress the publisher keeps AWSCURRENT; the first run after
    finishSecret publishes a token of the new credential."""
    world = make_world(emulator)
    old = world.document()
    tok = token_secret()
    target = PublishTarget(credential_secret_id=world.secret_arn, token_secret_id=tok)
    publisher = Publisher(secrets=AwsSecretStore(), http=VGSHttp(timeout=5))
    assert publisher.run([target]).ok
    assert read_published(tok).client_id == old.client_id

    version = start_rotation(world.secret_arn)
    world.run(version, steps=("createSecret", "setSecret", "testSecret"))
    pending = world.document("AWSPENDING")
    assert pending.client_id != old.client_id
    during = publisher.run([target]).outcomes[0]
    assert during.outcome == SKIPPED and during.client_id == old.client_id  # AWSCURRENT only

    world.run(version, steps=("finishSecret",))
    after = publisher.run([target]).outcomes[0]
    assert after.outcome == PUBLISHED and after.reason == "client-changed"
    published = read_published(tok)
    assert published.client_id == pending.client_id
    claims = json.loads(_b64(published.access_token.reveal().split(".")[1]))
    assert claims["azp"] == pending.client_id
    assert accepted_by_cmp(emulator, published)
    assert publisher.run([target]).outcomes[0].outcome == SKIPPED


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_many_targets_one_failing(emulator, moto_url):
    world = make_world(emulator)
    targets = [PublishTarget(credential_secret_id=world.secret_arn, token_secret_id=token_secret()) for _ in range(6)]
    targets.append(PublishTarget(credential_secret_id="vgs/missing", token_secret_id=token_secret(), name="broken"))
    result = Publisher(secrets=AwsSecretStore(), http=VGSHttp(timeout=5), concurrency=4).run(targets)
    assert result.counts() == {PUBLISHED: 6, SKIPPED: 0, FAILED: 1}
    assert result.failed[0].target == "broken"
    with pytest.raises(PublishError):
        result.raise_for_failures()


def test_vgs_refusal_fails_only_that_target(emulator, moto_url):
    good = make_world(emulator)
    bad = make_world(emulator)
    doc = json.loads(sm().get_secret_value(SecretId=bad.secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    doc["client_secret"] = "wrong-secret-0123456789abcdef"
    sm().put_secret_value(SecretId=bad.secret_arn, SecretString=json.dumps(doc))
    targets = [
        PublishTarget(credential_secret_id=good.secret_arn, token_secret_id=token_secret(), name="good"),
        PublishTarget(credential_secret_id=bad.secret_arn, token_secret_id=token_secret(), name="bad"),
    ]
    result = Publisher(secrets=AwsSecretStore(), http=VGSHttp(timeout=5)).run(targets)
    outcomes = {o.target: o for o in result.outcomes}
    assert outcomes["good"].outcome == PUBLISHED
    assert outcomes["bad"].outcome == FAILED and "credentials refused" in outcomes["bad"].error
    assert "wrong-secret" not in json.dumps(result.as_dict())


def test_a_throttled_target_is_retried_after_the_others_over_real_connections(emulator, moto_url):
    """The emulator answers the run's first token request 429 + Retry-After 7: with one
    worker, the other target is published first, then the throttled one exactly once, with
    a token VGS accepts. Waits on a virtual clock (the retry policy's); HTTP is real."""
    first, second = make_world(emulator), make_world(emulator)
    toks = {first.secret_arn: token_secret(), second.secret_arn: token_secret()}
    store = AwsSecretStore()
    written: list[str] = []
    real_put = store.put_value

    def put_value(secret_id: str, value: str) -> None:
        written.append(secret_id)
        real_put(secret_id, value)

    store.put_value = put_value  # type: ignore[method-assign]
    clock = VirtualClock()
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, rng=random.Random(5))
    before = emulator.request_counts["token"]
    emulator.faults.inject("token", status=429, retry_after=7, count=1)
    with VGSHttp(timeout=5, retry=retry) as http:
        result = Publisher(secrets=store, http=http, concurrency=1).run(
            [PublishTarget(credential_secret_id=arn, token_secret_id=tok) for arn, tok in toks.items()]
        )
    assert result.counts() == {PUBLISHED: 2, SKIPPED: 0, FAILED: 0}, result.as_dict()
    assert written == [toks[second.secret_arn], toks[first.secret_arn]]
    assert clock.sleeps == [7.0]
    assert emulator.request_counts["token"] - before == 3
    assert accepted_by_cmp(emulator, read_published(toks[first.secret_arn]))


# --------------------------------------------------------------------------- Lambda


def test_lambda_handler_publishes_logs_no_token_and_counts(emulator, moto_url, capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "VGSPublisherTest")
    from rotation.lambda_publisher import handler, logger

    powertools_logs_to_captured_stdout(logger)
    world = make_world(emulator)
    tok = token_secret()
    event = {"targets": [{"credential_secret_id": world.secret_arn, "token_secret_id": tok}], "concurrency": 2}
    summary = handler(event, Context(function_name="vgs-publisher"))
    assert summary["ok"] and summary["counts"][PUBLISHED] == 1
    published = read_published(tok)
    out = capsys.readouterr()
    assert_no_secret(
        out.out + out.err, published.access_token.reveal(), *world.document().secret_values(), emulator=emulator
    )
    metrics = emf_records(out.out)
    assert any(m.get("TokensPublished") == 1 for m in metrics)
    logs = [json.loads(line) for line in out.out.splitlines() if line.startswith("{") and '"level"' in line]
    assert any(r.get("message") == "publish target" and r.get("outcome") == PUBLISHED for r in logs)

    # the schedule's next run: from the environment this time, and nothing to write
    monkeypatch.setenv("VGS_PUBLISH_CONFIG", json.dumps({"targets": event["targets"]}))
    assert handler({"source": "aws.scheduler"}, Context(function_name="vgs-publisher"))["counts"][SKIPPED] == 1
    assert any(m.get("TokensFresh") == 1 for m in emf_records(capsys.readouterr().out))


def test_lambda_handler_raises_when_a_target_fails(emulator, moto_url, capsys, monkeypatch):
    from rotation.lambda_publisher import handler

    world = make_world(emulator)
    event = {
        "targets": [
            {"credential_secret_id": world.secret_arn, "token_secret_id": token_secret()},
            {"credential_secret_id": "vgs/missing", "token_secret_id": token_secret()},
        ]
    }
    with pytest.raises(PublishError, match="1 of 2 targets failed"):
        handler(event, Context(function_name="vgs-publisher"))
    out = capsys.readouterr().out
    assert any(m.get("TargetsFailed") == 1 and m.get("TokensPublished") == 1 for m in emf_records(out))


def test_lambda_handler_refuses_a_bad_config(monkeypatch, capsys):
    from rotation.lambda_publisher import handler
    from rotation.publisher import ConfigError

    monkeypatch.delenv("VGS_PUBLISH_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="VGS_PUBLISH_CONFIG"):
        handler({}, Context(function_name="vgs-publisher"))
    with pytest.raises(ConfigError, match="targets"):
        handler({"targets": "nope"}, Context(function_name="vgs-publisher"))
    assert any(m.get("ConfigErrors") == 1 for m in emf_records(capsys.readouterr().out))


# --------------------------------------------------------------------------- CLI


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_cli_publish_table_and_exit_codes(emulator, moto_url, bao, tmp_path):
    world = make_world(emulator)
    tok = token_secret()
    path = f"secret/vgs/tokens/{uuid.uuid4().hex[:8]}"
    config = tmp_path / "publish.json"
    config.write_text(
        json.dumps(
            {
                "targets": [{"credential_secret_id": world.secret_arn, "token_secret_id": tok, "vault_path": path}],
                "concurrency": 2,
            }
        )
    )
    first = run_cli("publish", "--config", str(config), env=bao.env())
    assert first.returncode == 0, first.stderr
    assert "TARGET" in first.stdout and PUBLISHED in first.stdout and "missing" in first.stdout
    published = read_published(tok)
    second = run_cli("publish", "--config", str(config), env=bao.env())
    assert second.returncode == 0 and "fresh" in second.stdout
    flags = run_cli("publish", "--credential-secret", world.secret_arn, "--token-secret", tok, "--json")
    assert flags.returncode == 0 and json.loads(flags.stdout)["counts"][SKIPPED] == 1

    failing = run_cli(
        "publish", "--config", str(config), "--credential-secret", "vgs/missing", "--token-secret", token_secret(),
        env=bao.env(),
    )  # fmt: skip
    assert failing.returncode == 1 and "1 of 2 targets failed" in failing.stderr
    for proc in (first, second, flags, failing):
        assert_no_secret(
            proc.stdout + proc.stderr,
            published.access_token.reveal(),
            *world.document().secret_values(),
            emulator=emulator,
        )

    printed = run_cli("token", "--from-secret", tok)
    assert printed.returncode == 0 and printed.stdout.strip() == published.access_token.reveal()
    from_vault = run_cli("token", "--from-vault", path, env=bao.env())
    assert from_vault.returncode == 0 and from_vault.stdout.strip() == published.access_token.reveal()
