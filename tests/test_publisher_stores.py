"""The publisher and the consumer sources on the real stores: moto's Secrets Manager over
HTTP and an OpenBao dev server (KV v2), with an in-memory token client (the emulator
tests cover minting)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import boto3
import pytest

from rotation.aws_store import AwsSecretStore
from rotation.consumer import CachingTokenProvider, SecretsManagerTokenSource, VaultTokenSource
from rotation.published import FIELDS, PublishedToken
from rotation.publisher import FAILED, PUBLISHED, SKIPPED, Publisher, PublishTarget
from rotation.stores import CasConflict
from rotation.vault_store import VaultKV
from rotation.vgs import Secret
from tests import bao_server
from tests.helpers import VirtualClock, assert_no_secret
from tests.publish_fakes import FakeTokens, credential_document

pytestmark = pytest.mark.bao
bao = bao_server.bao  # fixtures shared with other modules


def sm():
    return boto3.client("secretsmanager", region_name="us-east-1")


def put_count(secret_id: str) -> int:
    """How many versions were written to the secret (each PutSecretValue makes one)."""
    out = sm().list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=True)
    return len(out["Versions"])


def vault_path() -> str:
    return f"secret/vgs/tokens/{uuid.uuid4().hex[:8]}"


def test_vault_kv_roundtrip_custom_metadata_and_cas(bao):
    kv = VaultKV(url=bao.url, token=bao.token)
    path = vault_path()
    assert kv.read(path) is None
    assert kv.write(path, {"a": "1"}, custom_metadata={"expires_at": "123"}, cas=0) == 1
    entry = kv.read(path)
    assert entry.data == {"a": "1"} and entry.version == 1 and entry.custom_metadata == {"expires_at": "123"}
    with pytest.raises(CasConflict):
        kv.write(path, {"a": "2"}, custom_metadata=None, cas=0)
    assert kv.write(path, {"a": "2"}, custom_metadata={"expires_at": "456"}, cas=1) == 2
    assert kv.read(path).custom_metadata == {"expires_at": "456"}


def test_vault_errors_name_the_call_not_the_server_text(bao):
    from rotation.stores import StoreError

    kv = VaultKV(url=bao.url, token="wrong-token-" + "x" * 20)
    with pytest.raises(StoreError, match=r"Vault read of secret/x failed \(Forbidden\)") as info:
        kv.read("secret/x")
    assert "wrong-token" not in str(info.value)


def test_publish_to_secrets_manager_and_kv_on_the_real_stores(moto_url, bao, leak_check):
    clock = VirtualClock()
    tokens = FakeTokens(clock)
    cred = sm().create_secret(Name=f"vgs/app-{uuid.uuid4().hex[:6]}", SecretString=credential_document())["ARN"]
    tok = sm().create_secret(Name=f"vgs/token-{uuid.uuid4().hex[:6]}")["ARN"]  # no value yet
    path = vault_path()
    publisher = Publisher(
        secrets=AwsSecretStore(),
        kv=VaultKV(url=bao.url, token=bao.token),
        token_client=lambda doc: tokens,
        clock=clock,
    )
    target = PublishTarget(credential_secret_id=cred, token_secret_id=tok, vault_path=path)
    first = publisher.run([target]).outcomes[0]
    assert first.outcome == PUBLISHED and first.reason == "missing", first
    body = json.loads(sm().get_secret_value(SecretId=tok, VersionStage="AWSCURRENT")["SecretString"])
    assert sorted(body) == sorted(FIELDS)
    entry = VaultKV(url=bao.url, token=bao.token).read(path)
    assert dict(entry.data) == body
    assert entry.custom_metadata["expires_at"] == str(body["expires_at"])
    assert entry.custom_metadata["client_id"] == body["client_id"]

    # an hour of 10-minute runs: each run writes once (20-minute token, 12-minute threshold);
    # runs in between (every 2 minutes here) never write
    writes_before = put_count(tok)
    for minute in range(2, 62, 2):
        clock.advance(120)
        outcome = publisher.run([target]).outcomes[0]
        assert outcome.outcome in (PUBLISHED, SKIPPED)
        published = PublishedToken.parse(sm().get_secret_value(SecretId=tok, VersionStage="AWSCURRENT")["SecretString"])
        assert published.remaining(clock()) >= 720 - 120, minute
    writes = put_count(tok) - writes_before
    assert 5 <= writes <= 60 // 8 + 1  # one write per ~10 minutes even at a 2-minute cadence
    leak_check(body["access_token"], "client-secret-0123456789abcdef")


def test_consumer_sources_on_the_real_stores(moto_url, bao):
    clock = VirtualClock()
    now = int(clock())
    tok = PublishedToken(Secret("aaa.bbb.ccc"), "Bearer", now + 1200, now, "cards:write", "c-1")
    sm().create_secret(Name="vgs/token-consumer", SecretString=tok.to_json())
    path = vault_path()
    VaultKV(url=bao.url, token=bao.token).write(path, tok.as_dict(), custom_metadata=tok.custom_metadata(), cas=None)
    from_sm = CachingTokenProvider(SecretsManagerTokenSource("vgs/token-consumer"), clock=clock)
    from_kv = CachingTokenProvider(VaultTokenSource(path, kv=VaultKV(url=bao.url, token=bao.token)), clock=clock)
    assert from_sm.token() == tok == from_kv.token()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rotation.cli", *args], capture_output=True, text=True, env=full, timeout=60
    )


def test_cli_token_from_secret_and_vault(moto_url, bao):
    import time

    now = int(time.time())
    good = PublishedToken(Secret("good.token.value-0123456789"), "Bearer", now + 1200, now, "cards:write", "c-1")
    old = PublishedToken(Secret("old.token.value-0123456789"), "Bearer", now - 10, now - 1210, "cards:write", "c-1")
    sm().create_secret(Name="vgs/token-good", SecretString=good.to_json())
    sm().create_secret(Name="vgs/token-old", SecretString=old.to_json())
    path = vault_path()
    VaultKV(url=bao.url, token=bao.token).write(path, good.as_dict(), custom_metadata=None, cas=None)

    ok = run_cli("token", "--from-secret", "vgs/token-good")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "good.token.value-0123456789"

    masked = run_cli("token", "--from-secret", "vgs/token-good", "--json")
    assert json.loads(masked.stdout)["access_token"] == "***"
    assert_no_secret(masked.stdout + masked.stderr, "good.token.value-0123456789")

    expired = run_cli("token", "--from-secret", "vgs/token-old")
    assert expired.returncode == 1 and expired.stdout == ""
    assert len(expired.stderr.strip().splitlines()) == 1
    assert "expired" in expired.stderr and "refusing" in expired.stderr
    assert_no_secret(expired.stderr, "old.token.value-0123456789")

    missing = run_cli("token", "--from-secret", "vgs/none")
    assert missing.returncode == 1 and "holds no published token" in missing.stderr

    from_vault = run_cli("token", "--from-vault", path, env=bao.env())
    assert from_vault.returncode == 0, from_vault.stderr
    assert from_vault.stdout.strip() == "good.token.value-0123456789"

    denied = run_cli("token", "--from-vault", path, env={**bao.env(), "VAULT_TOKEN": "nope"})
    assert denied.returncode == 3 and "Forbidden" in denied.stderr and "VAULT_TOKEN" in denied.stderr
    assert len(denied.stderr.strip().splitlines()) == 1


def test_cli_publish_exit_codes_without_minting(moto_url, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"targets": [{"credential_secret_id": "a"}]}))
    proc = run_cli("publish", "--config", str(bad))
    assert proc.returncode == 5 and "token_secret_id" in proc.stderr

    proc = run_cli("publish")
    assert proc.returncode == 2

    sm().create_secret(Name="vgs/token-x")
    proc = run_cli("publish", "--credential-secret", "vgs/does-not-exist", "--token-secret", "vgs/token-x")
    assert proc.returncode == 1
    assert FAILED in proc.stdout and "no AWSCURRENT value" in proc.stdout
    assert proc.stderr.startswith("vgs-rotate: error: 1 of 1 targets failed") and len(proc.stderr.splitlines()) == 1


def test_kv_deleted_latest_version_is_republished(bao):
    """A deleted latest version still has a version number: the check-and-set write must use it."""
    clock = VirtualClock()
    tokens = FakeTokens(clock)
    kv = VaultKV(url=bao.url, token=bao.token)
    cred_path, path = vault_path(), vault_path()
    kv.write(cred_path, json.loads(credential_document()), custom_metadata=None, cas=None)
    publisher = Publisher(kv=kv, token_client=lambda doc: tokens, clock=clock)
    target = PublishTarget(credential_vault_path=cred_path, vault_path=path)
    assert publisher.run([target]).outcomes[0].outcome == PUBLISHED
    mount, rest = path.split("/", 1)
    bao.client().secrets.kv.v2.delete_latest_version_of_secret(path=rest, mount_point=mount)
    entry = kv.read(path)
    assert entry is not None and entry.data == {} and entry.version == 1
    with pytest.raises(Exception, match="holds no published token"):
        VaultTokenSource(path, kv=kv).fetch()
    again = publisher.run([target]).outcomes[0]
    assert again.outcome == PUBLISHED and again.reason == "missing"
    assert kv.read(path).version == 2 and kv.read(path).custom_metadata["client_id"] == "ACabcdefg-app-11111"


def test_kv_metadata_update_keeps_operator_settings(bao):
    kv = VaultKV(url=bao.url, token=bao.token)
    path = vault_path()
    mount, rest = path.split("/", 1)
    kv.write(path, {"a": "1"}, custom_metadata=None, cas=None)
    bao.client().secrets.kv.v2.update_metadata(path=rest, mount_point=mount, delete_version_after="48h", max_versions=5)
    kv.write(path, {"a": "2"}, custom_metadata={"expires_at": "1"}, cas=None)
    meta = bao.client().secrets.kv.v2.read_secret_metadata(path=rest, mount_point=mount)["data"]
    assert meta["delete_version_after"] == "48h0m0s" and meta["max_versions"] == 5
    assert meta["custom_metadata"] == {"expires_at": "1"}
