"""``vgs-rotate doctor`` over moto's server and the emulator: every check turns ✗ for its
own cause and ✓ otherwise, ? when it cannot look; exit 0 / 1 / 4; no secret in the output
or the logs."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from rotation.vgs import VaultCredentialsClient
from tests import bao_server
from tests.doctor_helpers import (
    add_orphan,
    annotated_for,
    fill_accounts,
    moto_dates_versions,
    publish_token,
    vgs_rotate,
)
from tests.helpers import assert_no_secret
from tests.rotation_harness import backend, make_world, manager_stack, sm, start_rotation

bao = bao_server.bao  # the OpenBao dev server fixture

EVERY_CHECK = {
    "document", "rotation", "fleet-tag", "host:token_url", "host:accounts_url", "host:cmp_url", "host:jwks_url",
    "manager-secret", "manager-token", "manager-scopes", "manager-list", "capacity", "current-credential",
    "previous-credential", "stuck-pending", "orphans", "published",
}  # fmt: skip


def doctor(world: Any, *args: str, json_out: bool = True) -> Any:
    return vgs_rotate("doctor", world.secret_arn, *args, *(["--json"] if json_out else []))


def not_ok(ran: Any) -> dict[str, str]:
    return {k: v for k, v in ran.statuses().items() if v not in ("ok", "skipped")}


def rewrite_document(world: Any, **changes: Any) -> None:
    """A new AWSCURRENT version of the rotated secret with ``changes`` to its document."""
    raw = json.loads(sm().get_secret_value(SecretId=world.secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    for key, value in changes.items():
        if key.startswith("hosts."):
            raw["hosts"][key.split(".", 1)[1]] = value
        else:
            raw[key] = value
    sm().put_secret_value(SecretId=world.secret_arn, SecretString=json.dumps(raw))


def set_manager(world: Any, client_id: str, client_secret: str) -> None:
    sm().put_secret_value(
        SecretId=world.manager_arn, SecretString=json.dumps({"client_id": client_id, "client_secret": client_secret})
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secrets_of(world: Any, emulator: Any) -> list[str]:
    docs = [world.document(), *([world.document("AWSPREVIOUS")] if "AWSPREVIOUS" in str(world.stages()) else [])]
    return [v for d in docs for v in d.secret_values()] + [emulator.bootstrap["client_secret"]]


# --------------------------------------------------------------------------- all good


def test_a_healthy_secret_passes_every_check(emulator, moto_url, leak_check):
    world = make_world(emulator)
    world.rotate()
    ran = doctor(world)
    assert ran.code == 0, ran.output
    report = ran.report()
    assert set(ran.statuses()) == EVERY_CHECK
    assert not_ok(ran) == {}
    assert report["verdict"] == "ok" and report["errors"] == []
    assert ran.statuses()["published"] == "skipped"
    capacity = next(c for c in report["checks"] if c["id"] == "capacity")["data"]
    assert capacity["used"] == len(emulator.service_accounts()) and capacity["limit"] == 50
    text = doctor(world, json_out=False)
    assert text.code == 0 and text.stderr == ""
    assert "✗" not in text.stdout and "?" not in text.line("capacity")
    assert text.line("AWSPREVIOUS as the policy says").lstrip().startswith("✓")
    leak_check(*secrets_of(world, emulator), extra_text=ran.output + text.output)


def test_awspending_on_the_current_version_is_a_finished_rotation(emulator, moto_url):
    """Decision 1: AWS may leave AWSPENDING on the AWSCURRENT version after finishSecret."""
    world = make_world(emulator)
    world.rotate()
    current = next(v for v, s in world.stages().items() if "AWSCURRENT" in s)
    sm().update_secret_version_stage(SecretId=world.secret_arn, VersionStage="AWSPENDING", MoveToVersionId=current)
    ran = doctor(world)
    assert ran.statuses()["stuck-pending"] == "ok" and ran.code == 0, ran.output


# --------------------------------------------------------------------------- each cause, its check


def test_wrong_manager_secret(emulator, moto_url):
    world = make_world(emulator)
    set_manager(world, emulator.bootstrap["client_id"], "not-the-secret-" + "x" * 20)
    ran = doctor(world)
    assert ran.code == 1
    bad = not_ok(ran)
    assert bad["manager-token"] == "failed"
    assert bad["manager-list"] == bad["capacity"] == bad["orphans"] == "unknown"  # not checked, not guessed
    assert set(bad) == {"manager-token", "manager-list", "capacity", "orphans"}
    assert world.manager_arn in next(c for c in ran.report()["checks"] if c["id"] == "manager-token")["fix"]
    assert "not-the-secret" not in ran.output


def test_unreadable_manager_secret(emulator, moto_url):
    world = make_world(emulator)
    rewrite_document(world, manager_secret_arn=world.manager_arn.replace("vgs/manager", "vgs/nomanager"))
    ran = doctor(world)
    assert ran.code == 1
    assert not_ok(ran)["manager-secret"] == "failed"
    assert {"manager-token", "manager-list", "capacity"} <= set(not_ok(ran))


def _manager_with_scopes(emulator: Any, world: Any, scopes: list[str]) -> None:
    accounts, _ = manager_stack(emulator)
    weak = accounts.create(name="weak-manager", scopes=scopes)
    accounts.http.close()
    set_manager(world, weak.client_id, weak.client_secret.reveal())


def test_manager_without_the_scope_to_list_or_create(emulator, moto_url):
    world = make_world(emulator)
    _manager_with_scopes(emulator, world, ["cards:read"])
    ran = doctor(world)
    assert ran.code == 1
    bad = not_ok(ran)
    assert bad["manager-scopes"] == "failed" and bad["manager-list"] == "failed"
    assert "service-accounts:write" in next(c for c in ran.report()["checks"] if c["id"] == "manager-scopes")["fix"]


def test_manager_that_may_list_but_not_create_and_the_canary_says_so(emulator, moto_url):
    world = make_world(emulator)
    _manager_with_scopes(emulator, world, ["service-accounts:read"])
    plain = doctor(world)
    assert not_ok(plain) == {"manager-scopes": "failed"}
    ran = doctor(world, "--canary", "--yes")
    assert ran.code == 1
    assert not_ok(ran) == {"manager-scopes": "failed", "canary-create": "failed"}
    scopes = next(o for o in ran.report()["observations"] if o["id"] == "manager-scopes")
    assert "not enough to create" in scopes["answer"]
    assert annotated_for(emulator, world.secret_arn) == {}


@pytest.mark.parametrize(("used", "expected"), [(48, "ok"), (49, "failed"), (50, "failed")])
def test_service_account_capacity_needs_headroom(emulator, moto_url, used, expected):
    world = make_world(emulator)
    fill_accounts(emulator, used)
    ran = doctor(world)
    assert ran.statuses()["capacity"] == expected
    assert ran.code == (0 if expected == "ok" else 1), ran.output
    data = next(c for c in ran.report()["checks"] if c["id"] == "capacity")["data"]
    assert (data["used"], data["limit"], data["free"]) == (used, 50, 50 - used)


@pytest.mark.parametrize(("used", "expected"), [(8, "ok"), (9, "failed")])
def test_access_credential_capacity_needs_headroom(emulator, moto_url, used, expected):
    world = make_world(emulator, kind="access-credentials")
    accounts, auth = manager_stack(emulator)
    vault = VaultCredentialsClient(
        emulator.bootstrap["vault_management_url"], emulator.vault_id, auth=auth, http=accounts.http
    )
    while len(emulator.access_credentials()) < used:
        vault.create()
    accounts.http.close()
    ran = doctor(world)
    assert ran.statuses()["capacity"] == expected, ran.output
    assert ran.code == (0 if expected == "ok" else 1)
    assert "vault" in next(c for c in ran.report()["checks"] if c["id"] == "capacity")["detail"]


def test_unreachable_host_and_unverifiable_tls(emulator, moto_url):
    world = make_world(emulator)
    rewrite_document(world, **{"hosts.cmp_url": f"http://127.0.0.1:{closed_port()}/cmp"})
    ran = doctor(world)
    assert ran.code == 1
    assert not_ok(ran)["host:cmp_url"] == "failed"
    assert not_ok(ran)["current-credential"] == "unknown"  # its CMP probe could not run
    assert "no answer" in next(c for c in ran.report()["checks"] if c["id"] == "host:cmp_url")["detail"]
    # https:// to a server that speaks plain HTTP: the TLS handshake fails, which is a failure
    rewrite_document(world, **{"hosts.jwks_url": emulator.bootstrap["jwks_url"].replace("http://", "https://")})
    tls = doctor(world)
    assert not_ok(tls)["host:jwks_url"] == "failed"


def test_stuck_awspending_is_failed_and_a_young_one_is_a_rotation_under_way(emulator, moto_url, monkeypatch):
    moto_dates_versions(monkeypatch)
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    world.run(token, ("createSecret",))
    young = doctor(world)
    assert not_ok(young) == {"stuck-pending": "unknown"} and young.code == 4, young.output
    backend().secrets[world.secret_arn].versions[token]["createdate"] = int(time.time()) - 7200
    old = doctor(world)
    assert not_ok(old) == {"stuck-pending": "failed"} and old.code == 1
    assert "--repair" in next(c for c in old.report()["checks"] if c["id"] == "stuck-pending")["fix"]


def test_orphan(emulator, moto_url):
    world = make_world(emulator)
    orphan = add_orphan(emulator, world.secret_arn)
    ran = doctor(world)
    assert not_ok(ran) == {"orphans": "failed"} and ran.code == 1
    check = next(c for c in ran.report()["checks"] if c["id"] == "orphans")
    assert check["data"]["orphans"] == [orphan] and "cleanup" in check["fix"]


def test_a_bad_document_fails_and_nothing_is_guessed(emulator, moto_url):
    world = make_world(emulator)
    rewrite_document(world, scopes=[])
    ran = doctor(world)
    assert ran.code == 1
    statuses = ran.statuses()
    assert statuses["document"] == "failed" and "'scopes'" in ran.report()["checks"][0]["detail"]
    assert {s for k, s in statuses.items() if k not in ("document", "rotation", "fleet-tag")} == {"unknown"}


def test_manual_only_secret_says_so_and_needs_the_fleet_tag(emulator, moto_url):
    world = make_world(emulator, enabled=False)
    ran = doctor(world)
    rotation = next(c for c in ran.report()["checks"] if c["id"] == "rotation")
    assert rotation["status"] == "ok" and rotation["data"]["manual_only"] is True
    assert "manual-only" in rotation["detail"]
    assert not_ok(ran) == {"fleet-tag": "failed"}
    sm().tag_resource(SecretId=world.secret_arn, Tags=[{"Key": "vgs-rotation:kind", "Value": "service-account"}])
    assert doctor(world).code == 0


def test_a_seed_document_is_ready_for_its_first_rotation(emulator, moto_url):
    """The SAM example starts as a seed: a placeholder credential that VGS does not have."""
    world = make_world(emulator)
    rewrite_document(world, client_id="seed-not-a-credential", client_secret="seed-not-a-credential")
    ran = doctor(world)
    assert ran.code == 0, ran.output
    current = next(c for c in ran.report()["checks"] if c["id"] == "current-credential")
    assert current["status"] == "skipped" and current["data"]["seed"] is True
    world.rotate()
    assert doctor(world).code == 0


def test_rotation_function_set_but_disabled(emulator, moto_url):
    world = make_world(emulator)
    backend().secrets[world.secret_arn].rotation_enabled = False
    ran = doctor(world)
    assert not_ok(ran) == {"rotation": "failed"}
    assert "disabled" in ran.report()["checks"][1]["detail"]


def test_revoke_immediate_wants_awsprevious_gone(emulator, moto_url):
    world = make_world(emulator, revoke="immediate")
    world.rotate()
    ran = doctor(world)
    assert ran.code == 0, ran.output
    assert (
        "deleted, as it should be"
        in next(c for c in ran.report()["checks"] if c["id"] == "previous-credential")["detail"]
    )


def test_awsprevious_deleted_outside_the_rotation_fails_under_next_rotation(emulator, moto_url):
    world = make_world(emulator)
    world.rotate()
    accounts, _ = manager_stack(emulator)
    accounts.delete(world.document("AWSPREVIOUS").credential_ref)
    accounts.http.close()
    ran = doctor(world)
    assert not_ok(ran) == {"previous-credential": "failed"}


# --------------------------------------------------------------------------- the published token


def test_published_token_fresh_stale_and_of_another_client(emulator, moto_url, tmp_path, leak_check):
    world = make_world(emulator)
    token_secret = sm().create_secret(Name=f"{world.secret_arn.split(':')[-1]}-token")["ARN"]
    publish_token(world, token_secret, clock=lambda: time.time() - 1150)  # a 1200 s token with 50 s left
    stale = doctor(world, "--token-secret", token_secret)
    assert not_ok(stale) == {f"published:sm:{token_secret}": "failed"} and stale.code == 1
    assert "publish" in stale.report()["checks"][-1]["fix"]
    publish_token(world, token_secret)
    fresh = doctor(world, "--token-secret", token_secret)
    assert fresh.code == 0, fresh.output
    world.rotate()  # the publisher has not run since: the published token is the old client's
    config = tmp_path / "publish.json"
    config.write_text(
        json.dumps({"targets": [{"credential_secret_id": world.secret_arn, "token_secret_id": token_secret}]})
    )
    behind = doctor(world, "--publish-config", str(config))
    check = behind.report()["checks"][-1]
    assert check["status"] == "failed" and check["data"]["state"] == "other-client"
    published = json.loads(sm().get_secret_value(SecretId=token_secret)["SecretString"])
    assert_no_secret(stale.output + fresh.output + behind.output, published["access_token"], emulator=emulator)
    leak_check(published["access_token"], *world.document().secret_values())


# --------------------------------------------------------------------------- unknown


def test_vgs_unavailable_is_unknown_never_ok(emulator, moto_url):
    world = make_world(emulator)
    emulator.faults.inject("*", status=503, count=100_000)
    ran = doctor(world)
    assert ran.code == 4, ran.output
    statuses = ran.statuses()
    assert "failed" not in statuses.values()
    for vgs_check in ("manager-token", "manager-list", "capacity", "current-credential", "orphans"):
        assert statuses[vgs_check] == "unknown", vgs_check
    report = ran.report()
    assert report["verdict"] == "unknown" and report["errors"]
    capacity = next(c for c in report["checks"] if c["id"] == "capacity")
    assert capacity["status"] == "unknown" and capacity["data"]["used"] is None  # null, never a guess
    text = doctor(world, json_out=False)
    assert text.code == 4 and text.error_line.startswith("vgs-rotate: error: doctor:")
    assert text.line("no orphaned credentials").lstrip().startswith("?")


def test_vgs_not_answering_at_all_fails_the_hosts_and_leaves_the_rest_unknown(emulator, moto_url):
    world = make_world(emulator)
    dead = f"http://127.0.0.1:{closed_port()}"
    boot = emulator.bootstrap
    rewrite_document(
        world,
        **{f"hosts.{k}": boot[k].replace(boot["base_url"], dead) for k in ("token_url", "accounts_url", "cmp_url")},
    )
    ran = doctor(world)
    assert ran.code == 1  # a failure wins over an unknown
    statuses = ran.statuses()
    assert statuses["host:token_url"] == statuses["host:accounts_url"] == "failed"
    assert statuses["manager-token"] == statuses["current-credential"] == "unknown"
    assert statuses["orphans"] == "unknown"


def test_unknown_secret_is_one_line(moto_url):
    ran = vgs_rotate("doctor", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-123456")
    assert ran.code == 1 and ran.stdout == ""
    assert ran.stderr.startswith("vgs-rotate: error:") and "not found" in ran.stderr
    assert len(ran.stderr.splitlines()) == 1


@pytest.mark.bao
def test_published_token_at_a_vault_path(emulator, moto_url, bao, monkeypatch):
    from rotation.publisher import Publisher, PublishTarget
    from rotation.vault_store import VaultKV

    monkeypatch.setenv("VAULT_TOKEN", bao.token)
    world = make_world(emulator)
    path = f"secret/vgs/doctor-{time.time_ns()}"
    missing = doctor(world, "--vault-path", path, "--vault-addr", bao.url)
    assert missing.statuses()[f"published:kv:{path}"] == "failed" and missing.code == 1
    from rotation.aws_store import AwsSecretStore

    publisher = Publisher(secrets=AwsSecretStore(sm()), kv=VaultKV(url=bao.url, token=bao.token))
    assert publisher.run([PublishTarget(credential_secret_id=world.secret_arn, vault_path=path)]).ok
    fresh = doctor(world, "--vault-path", path, "--vault-addr", bao.url)
    assert fresh.statuses()[f"published:kv:{path}"] == "ok" and fresh.code == 0, fresh.output
    monkeypatch.setenv("VAULT_TOKEN", "not-a-token-" + "x" * 16)
    refused = doctor(world, "--vault-path", path, "--vault-addr", bao.url)
    assert refused.statuses()[f"published:kv:{path}"] == "failed"
    assert "not-a-token" not in refused.output
