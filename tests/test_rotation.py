"""The four rotation steps against moto's server and the emulator over real HTTP."""

from __future__ import annotations

import json
import uuid

import pytest

from rotation.core import EventError, RotationError
from rotation.document import DocumentError
from rotation.vgs import ClientCredentials, CMPProbe, TokenClient, VGSHttp
from tests.helpers import assert_completed, assert_no_secret
from tests.rotation_harness import Crash, make_world, sm, start_rotation

KINDS = ["service-account", "access-credentials"]


def mints(world, doc) -> None:
    """AWSCURRENT's credential works: a token for service accounts, a vault API call for access credentials."""
    boot = world.emulator.bootstrap
    http = VGSHttp(timeout=5)
    if doc.kind == "service-account":
        token = TokenClient(boot["token_url"], http=http).mint(ClientCredentials(doc.client_id, doc.client_secret))
        assert token.client_id == doc.client_id
        CMPProbe(boot["cmp_url"], http=http).check(token)
    else:
        from rotation.vgs import VaultApiProbe

        VaultApiProbe(boot["vault_api_url"], http=http).check(doc.username, doc.password)


@pytest.mark.parametrize("kind", KINDS)
def test_full_rotation(emulator, moto_url, kind, leak_check):
    world = make_world(emulator, kind=kind)
    before = world.document()
    token = world.rotate()
    stages = world.stages()
    # finishSecret leaves AWSPENDING on the new AWSCURRENT version (one write fewer; AWS
    # documents it as a completed rotation) and nowhere else
    assert sorted(stages[token]) == ["AWSCURRENT", "AWSPENDING"]
    assert_completed(stages, token)
    after = world.document()
    assert after.credential_ref != before.credential_ref
    assert after.rotation.version_id == token
    assert world.document("AWSPREVIOUS").credential_ref == before.credential_ref
    mints(world, after)
    mints(world, world.document("AWSPREVIOUS"))  # the overlap window: the old one still works
    assert world.live_for_secret() == {after.credential_ref, before.credential_ref}
    leak_check(*after.secret_values(), *before.secret_values())


@pytest.mark.parametrize("kind", KINDS)
def test_next_rotation_deletes_what_was_previous(emulator, moto_url, kind):
    world = make_world(emulator, kind=kind)
    first = world.document()
    world.rotate()
    second = world.document()
    world.rotate()
    third = world.document()
    assert world.live_for_secret() == {second.credential_ref, third.credential_ref}
    assert first.credential_ref not in world.live_for_secret()
    mints(world, third)
    mints(world, second)


def test_immediate_revoke_deletes_the_old_current(emulator, moto_url):
    world = make_world(emulator, revoke="immediate")
    first = world.document()
    world.rotate()
    assert world.live_for_secret() == {world.document().credential_ref}
    assert first.credential_ref not in world.live_for_secret()


def test_never_revoke_keeps_everything(emulator, moto_url):
    world = make_world(emulator, revoke="never")
    first = world.document()
    world.rotate()
    world.rotate()
    assert first.credential_ref in world.live_for_secret()
    assert len(world.live_for_secret()) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_every_step_twice(emulator, moto_url, kind):
    world = make_world(emulator, kind=kind)
    first = world.document()
    token = start_rotation(world.secret_arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        world.run(token, (step, step))
    assert_completed(world.stages(), token)
    assert world.live_for_secret() == {first.credential_ref, world.document().credential_ref}
    # and once more from the top: everything is already done, nothing changes
    world.run(token)
    assert world.live_for_secret() == {first.credential_ref, world.document().credential_ref}


def _count_calls(emulator, kind: str) -> int:
    world = make_world(emulator, kind=kind)
    token = start_rotation(world.secret_arn)
    world.budget.calls = 0
    world.run(token)
    return world.budget.calls


@pytest.mark.parametrize("kind", KINDS)
def test_crash_after_every_external_call_then_retry(emulator, moto_url, kind):
    total = _count_calls(emulator, kind)
    assert total > 10
    for crash_after in range(1, total + 1):
        emulator.reset()
        import httpx

        httpx.post(f"{moto_url}/moto-api/reset")
        world = make_world(emulator, kind=kind, crash_after=crash_after)
        first = world.document()
        token = start_rotation(world.secret_arn)
        with pytest.raises(Crash):
            world.run(token)
        world.run(token)  # Secrets Manager retries the rotation with the same token
        assert_completed(world.stages(), token)
        current = world.document()
        mints(world, current)
        live = world.live_for_secret()
        assert live == {current.credential_ref, first.credential_ref}, (crash_after, world.budget.log[crash_after - 1])


def test_crash_after_create_then_next_attempt_leaves_no_orphan(emulator, moto_url):
    """The classic: the account is created at VGS, the Lambda dies before storing it."""
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    # crash right after the create call returns
    world.budget.crash_after = None
    rot = world.rotation()
    original = rot.issuers

    def crashing(doc, manager, arn):
        issuer = original(doc, manager, arn)
        real_create = issuer.create

        def create(base, rotation):
            real_create(base, rotation)
            raise Crash("died after create")

        issuer.create = create
        return issuer

    rot.issuers = crashing
    with pytest.raises(Crash):
        rot.handle({"Step": "createSecret", "SecretId": world.secret_arn, "ClientRequestToken": token})
    assert len(world.tagged_at_vgs()) == 1  # the orphan-to-be
    world.run(token)
    assert world.tagged_at_vgs() == {world.document().credential_ref}


def test_abandoned_rotation_is_cleaned_by_the_next(emulator, moto_url):
    world = make_world(emulator)
    abandoned = start_rotation(world.secret_arn)
    world.run(abandoned, ("createSecret",))
    stale = json.loads(sm().get_secret_value(SecretId=world.secret_arn, VersionId=abandoned)["SecretString"])[
        "client_id"
    ]
    # AWSPENDING moved by hand (UpdateSecretVersionStage): RotateSecret itself is refused now
    token = start_rotation(world.secret_arn, force=True)
    world.run(token)
    assert stale not in world.live_for_secret()
    assert len(world.live_for_secret()) == 2


def test_a_local_rotation_over_an_abandoned_one_deletes_its_credential_at_once(emulator, moto_url):
    """``rotate --local`` writes AWSPENDING onto a new version itself, taking the label from an
    abandoned rotation: the abandoned credential is deleted right then, not left live until
    (and unless) this rotation finishes."""
    world = make_world(emulator)
    abandoned = start_rotation(world.secret_arn)
    world.run(abandoned, ("createSecret",))
    stale = world.document("AWSPENDING").credential_ref
    token = str(uuid.uuid4())  # not a version yet: the local driver's createSecret makes it
    world.run(token, ("createSecret",), world.rotation(allow_new_version=True))
    assert world.document("AWSPENDING").credential_ref != stale
    assert stale not in world.live_for_secret()
    world.run(token, ("setSecret", "testSecret", "finishSecret"))
    assert len(world.live_for_secret()) == 2


def _snapshot(world):
    client = sm()
    versions = client.list_secret_version_ids(SecretId=world.secret_arn, IncludeDeprecated=True)["Versions"]
    accounts = sorted(a["client_id"] for a in world.emulator.service_accounts())
    return sorted((v["VersionId"], tuple(sorted(v.get("VersionStages", [])))) for v in versions), accounts


@pytest.mark.parametrize(
    "event, error, match",
    [
        ({"Step": "rotateSecret", "SecretId": "ARN", "ClientRequestToken": "TOKEN"}, EventError, "unknown 'Step'"),
        ({"SecretId": "ARN", "ClientRequestToken": "TOKEN"}, EventError, "missing 'Step'"),
        ({"Step": "createSecret", "SecretId": 42, "ClientRequestToken": "TOKEN"}, EventError, "'SecretId' must be"),
        ({"Step": "createSecret", "SecretId": "ARN", "ClientRequestToken": ""}, EventError, "'ClientRequestToken'"),
        ({"Step": "createSecret", "SecretId": "ARN", "ClientRequestToken": "x" * 5000}, EventError, "too long"),
        (
            {"Step": "createSecret", "SecretId": "ARN", "ClientRequestToken": "TOKEN", "RotationToken": 5},
            EventError,
            "RotationToken",
        ),
        (
            {"Step": "createSecret", "SecretId": "ARN", "ClientRequestToken": "not-a-version"},
            EventError,
            "not a version",
        ),
        (["Step", "createSecret"], EventError, "JSON object"),
    ],
)
def test_bad_events_are_refused_without_writes(emulator, moto_url, event, error, match):
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    event = json.loads(
        json.dumps(event).replace('"ARN"', json.dumps(world.secret_arn)).replace('"TOKEN"', json.dumps(token))
    )
    before = _snapshot(world)
    creates = emulator.request_counts["accounts.create"]
    with pytest.raises(error, match=match):
        world.rotation().handle(event)
    assert _snapshot(world) == before
    assert emulator.request_counts["accounts.create"] == creates


@pytest.mark.parametrize("step", ["setSecret", "testSecret", "finishSecret"])
def test_non_pending_token_is_an_error(emulator, moto_url, step):
    """A late step of a rotation whose AWSPENDING another rotation took: refused, nothing
    written (a finishSecret would otherwise promote the abandoned credential)."""
    world = make_world(emulator)
    first = start_rotation(world.secret_arn)
    world.run(first, ("createSecret",))
    second = start_rotation(world.secret_arn, force=True)  # AWSPENDING moved away by hand
    before = _snapshot(world)
    with pytest.raises(EventError, match="not AWSPENDING"):
        world.run(first, (step,))
    assert _snapshot(world) == before
    del second


def test_current_token_is_a_no_op(emulator, moto_url):
    world = make_world(emulator)
    token = world.rotate()
    before = _snapshot(world)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        world.run(token, (step,))
    assert _snapshot(world) == before


def test_rotation_disabled_is_refused(emulator, moto_url):
    world = make_world(emulator, enabled=False)
    token = start_rotation(world.secret_arn)
    before = _snapshot(world)
    with pytest.raises(RotationError, match="not enabled"):
        world.run(token, ("createSecret",))
    assert _snapshot(world) == before


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("kind"), "kind"),
        (lambda d: d.update(kind="oauth"), "kind"),
        (lambda d: d.pop("client_secret"), "client_secret"),
        (lambda d: d.update(client_id=123), "client_id"),
        (lambda d: d.update(scopes=[]), "scopes"),
        (lambda d: d.update(scopes="cards:read"), "scopes"),
        (lambda d: d.update(token_lifespan=10), "token_lifespan"),
        (lambda d: d.update(token_lifespan="1200"), "token_lifespan"),
        (lambda d: d.update(manager_secret_arn="my-manager"), "manager_secret_arn"),
        (lambda d: d.update(revoke="sometimes"), "revoke"),
        (lambda d: d.update(name="a-name-far-too-long"), "name"),
        (lambda d: d["hosts"].update(token_url="http://auth.example.com/token"), "hosts.token_url"),
        (lambda d: d["hosts"].update(tokn_url="https://x"), "hosts.tokn_url"),
        (lambda d: d.pop("organization_id"), "organization_id"),
    ],
)
def test_bad_documents_are_refused_naming_the_field(emulator, moto_url, mutate, field):
    world = make_world(emulator)
    doc = json.loads(sm().get_secret_value(SecretId=world.secret_arn)["SecretString"])
    secret_value = doc["client_secret"]
    mutate(doc)
    sm().put_secret_value(SecretId=world.secret_arn, SecretString=json.dumps(doc))
    token = start_rotation(world.secret_arn)
    before = _snapshot(world)
    with pytest.raises(DocumentError) as info:
        world.run(token, ("createSecret",))
    assert info.value.field == field
    assert f"'{field}'" in str(info.value)
    assert_no_secret(str(info.value), secret_value)
    assert _snapshot(world) == before


def test_access_credentials_at_the_limit_fail_before_creating(emulator, moto_url):
    world = make_world(emulator, kind="access-credentials")
    from tests.rotation_harness import manager_stack

    accounts, auth = manager_stack(emulator)
    from rotation.vgs import VaultCredentialsClient

    vault = VaultCredentialsClient(
        emulator.bootstrap["vault_management_url"], emulator.bootstrap["vault_id"], auth=auth, http=accounts.http
    )
    while len(vault.list()) < 10:
        vault.create()
    token = start_rotation(world.secret_arn)
    before = _snapshot(world), len(vault.list())
    from rotation.issuers import CapacityError

    with pytest.raises(CapacityError, match="10 of 10") as info:
        world.run(token, ("createSecret",))
    assert "Delete one" in str(info.value)
    assert (_snapshot(world), len(vault.list())) == before


def test_service_account_limit_is_explained(emulator, moto_url):
    world = make_world(emulator)
    from tests.rotation_harness import manager_stack

    accounts, _ = manager_stack(emulator)
    i = 0
    while len(accounts.list()) < 50:
        accounts.create(name=f"fill-{i}", scopes=["cards:read"])
        i += 1
    token = start_rotation(world.secret_arn)
    from rotation.issuers import CapacityError

    with pytest.raises(CapacityError, match="50"):
        world.run(token, ("createSecret",))
    assert "AWSPENDING" in world.stages()[token]
    assert sm().describe_secret(SecretId=world.secret_arn)["VersionIdsToStages"][token] == ["AWSPENDING"]


def test_test_secret_fails_for_a_deleted_pending_account(emulator, moto_url):
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    world.run(token, ("createSecret",))
    pending = world.document("AWSPENDING")
    from tests.rotation_harness import manager_stack

    manager_stack(emulator)[0].delete(pending.client_id)
    with pytest.raises(RotationError, match="testSecret"):
        world.run(token, ("testSecret",))
    assert world.clock.sleeps  # propagation retries happened on the virtual clock
    assert world.stages()[token] == ["AWSPENDING"]


def test_test_secret_checks_scopes(emulator, moto_url):
    world = make_world(emulator)
    doc = json.loads(sm().get_secret_value(SecretId=world.secret_arn)["SecretString"])
    token = start_rotation(world.secret_arn)
    world.run(token, ("createSecret",))
    pending = json.loads(sm().get_secret_value(SecretId=world.secret_arn, VersionStage="AWSPENDING")["SecretString"])
    # pretend the pending document asks for a scope the account was not given
    backend_secret = __import__("tests.rotation_harness", fromlist=["backend"]).backend().secrets[world.secret_arn]
    pending["scopes"] = [*doc["scopes"], "3ds:write"]
    backend_secret.versions[token]["secret_string"] = json.dumps(pending)
    with pytest.raises(RotationError, match="3ds:write"):
        world.run(token, ("testSecret",))


def test_rotate_immediately_false_runs_test_only(emulator, moto_url):
    """RotateSecret(RotateImmediately=false): a temporary AWSPENDING version holding the
    current value; only testSecret runs, and it passes without changing anything."""
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    from tests.rotation_harness import backend

    secret = backend().secrets[world.secret_arn]
    secret.versions[token]["secret_string"] = sm().get_secret_value(SecretId=world.secret_arn)["SecretString"]
    before = _snapshot(world)
    world.run(token, ("testSecret",))
    assert _snapshot(world) == before
