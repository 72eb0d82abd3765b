"""``vgs-rotate adopt`` against moto's server and the emulator over real HTTP.

The outside world decides: what exists at VGS is read from the emulator's own lists, what
exists at AWS from moto's; "nothing written" compares both (and the emulator's count of
write requests) before and after a refused adoption.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from rotation.aws_store import AwsSecretStore
from rotation.cli import cli
from rotation.core import Rotation
from rotation.document import parse_document
from rotation.driver import run_local
from rotation.issuers import SECRET_ANNOTATION, default_issuer_factory
from rotation.onboarding.request import HOST_KEYS
from rotation.vgs import RetryPolicy, VaultCredentialsClient, VGSHttp
from tests import bao_server
from tests.helpers import VirtualClock, assert_no_secret
from tests.rotation_harness import manager_stack, register_lambda, sm

bao = bao_server.bao  # the OpenBao dev server, shared with other modules
VGS_WRITES = ("accounts.create", "accounts.update", "accounts.delete", "credentials.create", "credentials.delete")


# --------------------------------------------------------------------------- the world


def hosts_file(emulator: Any, tmp_path: Any) -> str:
    """The emulator's bootstrap file, as `vgs-rotate emulator --bootstrap-out` writes it
    (it holds the manager's secret too: adopt reads only the URLs)."""
    path = tmp_path / "vgs.json"
    path.write_text(json.dumps(emulator.bootstrap))
    return str(path)


def manager_secret(
    emulator: Any, *, client_id: str | None = None, client_secret: str | None = None, org: bool = True
) -> str:
    boot = emulator.bootstrap
    value = {"client_id": client_id or boot["client_id"], "client_secret": client_secret or boot["client_secret"]}
    if org:
        value["organization_id"] = boot["organization_id"]
    return str(sm().create_secret(Name=f"vgs/manager-{uuid.uuid4().hex[:6]}", SecretString=json.dumps(value))["ARN"])


def hand_made_account(
    emulator: Any, name: str = "payments", scopes: Any = ("cards:read", "cards:write"), **kw: Any
) -> Any:
    """A service account made by hand (dashboard, `vgs generate`): no annotations."""
    accounts, _ = manager_stack(emulator)
    return accounts.create(
        name=name, scopes=list(scopes), vaults=[emulator.bootstrap["vault_id"]], access_token_lifespan=900, **kw
    )


def hand_made_credential(emulator: Any, **kw: Any) -> Any:
    accounts, auth = manager_stack(emulator)
    boot = emulator.bootstrap
    return VaultCredentialsClient(boot["vault_management_url"], boot["vault_id"], auth=auth, http=accounts.http).create(
        **kw
    )


def at_vgs(emulator: Any, kind: str) -> set[str]:
    """VGS's own list (not the secret's annotations): every credential of the kind, but the manager."""
    if kind == "service-account":
        manager = emulator.bootstrap["client_id"]
        return {a["client_id"] for a in emulator.service_accounts() if a["client_id"] != manager}
    return {c["id"] for c in emulator.access_credentials()}


def sa_args(made: Any, manager: str, hosts: str, secret: str = "vgs/rotated/app") -> list[str]:
    return [secret, "--client-id", made.client_id, "--manager-secret-arn", manager, "--hosts", hosts]


def moto_state() -> dict[str, Any]:
    """Every secret in moto: tags, rotation, versions with stages and values."""
    client = sm()
    state: dict[str, Any] = {}
    for listed in client.list_secrets(IncludePlannedDeletion=True)["SecretList"]:
        desc = client.describe_secret(SecretId=listed["ARN"])
        values = {}
        for version in desc.get("VersionIdsToStages", {}):
            try:
                values[version] = client.get_secret_value(SecretId=listed["ARN"], VersionId=version).get("SecretString")
            except (client.exceptions.ResourceNotFoundException, client.exceptions.InvalidRequestException):
                values[version] = None  # no value yet, or the secret is scheduled for deletion
        state[desc["Name"]] = {
            "tags": sorted((t["Key"], t["Value"]) for t in desc.get("Tags", [])),
            "rotation": (desc.get("RotationEnabled"), desc.get("RotationLambdaARN")),
            "stages": desc.get("VersionIdsToStages"),
            "deleted": desc.get("DeletedDate"),
            "values": values,
        }
    return state


def vgs_state(emulator: Any) -> Any:
    described = emulator.describe()
    writes = {route: described["request_counts"].get(route, 0) for route in VGS_WRITES}
    return described["service_accounts"], described["access_credentials"], writes


def snapshot(emulator: Any) -> Any:
    return moto_state(), vgs_state(emulator)


def adopt(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(cli, ["adopt", *args], env=env or {}, input=stdin)
    return result


def rotation(clock: VirtualClock) -> Rotation:
    """The rotation as `vgs-rotate rotate --local` runs it, on a virtual clock."""
    http = lambda: VGSHttp(timeout=5.0, retry=RetryPolicy(sleep=clock.sleep, clock=clock))  # noqa: E731
    return Rotation(
        AwsSecretStore(), default_issuer_factory(http_factory=http), clock=clock, sleep=clock.sleep,
        allow_new_version=True, require_rotation_enabled=False,
    )  # fmt: skip


def document(secret: str, stage: str = "AWSCURRENT") -> Any:
    return parse_document(sm().get_secret_value(SecretId=secret, VersionStage=stage)["SecretString"])


def one_error_line(result: Any) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vgs-rotate: error: "), lines
    assert "Traceback" not in result.output
    return str(lines[0])


# --------------------------------------------------------------------------- adopt, then rotate


@pytest.mark.parametrize("revoke", ["next-rotation", "immediate", "never"])
@pytest.mark.parametrize("kind", ["service-account", "access-credentials"])
def test_adopt_then_rotate_twice(emulator, moto_url, tmp_path, kind, revoke, leak_check):
    """The adopted credential (no annotation) is retired on schedule by the revoke policy,
    as VGS's own list shows, and nothing else is left behind."""
    manager = manager_secret(emulator)
    if kind == "service-account":
        made = hand_made_account(emulator)
        ref, secret, flags = made.client_id, made.client_secret.reveal(), ["--client-id", made.client_id]
        env = {"VGS_CLIENT_SECRET": secret}
    else:
        made = hand_made_credential(emulator)
        ref, secret = made.id, made.password.reveal()
        flags = ["--credential-id", made.id, "--vault-id", emulator.bootstrap["vault_id"]]
        env = {"VGS_CREDENTIAL_PASSWORD": secret}
    before = vgs_state(emulator)
    result = adopt(
        "vgs/rotated/app", *flags, "--manager-secret-arn", manager, "--hosts", hosts_file(emulator, tmp_path),
        "--revoke", revoke, env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert vgs_state(emulator) == before, "adopt changed something at VGS"

    desc = sm().describe_secret(SecretId="vgs/rotated/app")
    tags = {t["Key"]: t["Value"] for t in desc["Tags"]}
    assert tags == {"vgs-rotation:kind": kind, "vgs-rotation:role": "rotated"}
    adopted = document("vgs/rotated/app")
    assert adopted.credential_ref == ref and adopted.rotation is None and adopted.revoke == revoke
    assert adopted.manager_secret_arn == manager
    if kind == "service-account":
        listed = next(a for a in emulator.service_accounts() if a["client_id"] == ref)
        assert adopted.scopes == tuple(s["name"] for s in listed["scopes"]) == ("cards:read", "cards:write")
        assert adopted.vault_ids == tuple(listed["vaults"]) and adopted.token_lifespan == 900
        assert adopted.name == "payments" and adopted.organization_id == emulator.organization_id
    else:
        assert adopted.username == made.username and adopted.vault_ids == (emulator.bootstrap["vault_id"],)

    clock = VirtualClock()
    assert at_vgs(emulator, kind) == {ref}
    run_local(rotation(clock), desc["ARN"])
    second = document("vgs/rotated/app").credential_ref
    expected_after_one = {"next-rotation": {ref, second}, "immediate": {second}, "never": {ref, second}}
    assert at_vgs(emulator, kind) == expected_after_one[revoke]
    run_local(rotation(clock), desc["ARN"])
    third = document("vgs/rotated/app").credential_ref
    expected_after_two = {"next-rotation": {second, third}, "immediate": {third}, "never": {ref, second, third}}
    assert at_vgs(emulator, kind) == expected_after_two[revoke], "a credential was orphaned or deleted early"
    leak_check(secret, *document("vgs/rotated/app").secret_values(), extra_text=result.output)


def test_adopt_configures_rotation_and_a_publisher_destination(emulator, moto_url, tmp_path, leak_check):
    manager = manager_secret(emulator)
    made = hand_made_account(emulator)
    function = register_lambda()
    config = tmp_path / "publisher.json"
    config.write_text(
        json.dumps({"targets": [{"credential_secret_id": "other", "token_secret_id": "vgs/tokens/other"}]})
    )
    result = adopt(
        "vgs/rotated/app", "--client-id", made.client_id, "--manager-secret-arn", manager,
        "--hosts", hosts_file(emulator, tmp_path), "--rotation-function", function, "--schedule", "rate(7 days)",
        "--publish-to", "vgs/tokens/app", "--publisher-config", str(config),
        env={"VGS_CLIENT_SECRET": made.client_secret.reveal()},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    arn = sm().describe_secret(SecretId="vgs/rotated/app")["ARN"]
    assert sm().describe_secret(SecretId=arn)["RotationLambdaARN"] == function
    assert "without rotating now" in result.output
    # the token secret exists, is tagged as one, and holds a fresh token of the adopted account
    token_desc = sm().describe_secret(SecretId="vgs/tokens/app")
    assert {t["Key"]: t["Value"] for t in token_desc["Tags"]} == {"vgs-rotation:role": "token"}
    published = json.loads(sm().get_secret_value(SecretId="vgs/tokens/app")["SecretString"])
    assert published["client_id"] == made.client_id and published["expires_at"] > time.time()
    # the publisher configuration keeps the other target and gains this one
    targets = json.loads(config.read_text())["targets"]
    assert {"credential_secret_id": arn, "token_secret_id": token_desc["ARN"]} in targets
    assert {"credential_secret_id": "other", "token_secret_id": "vgs/tokens/other"} in targets
    assert arn in result.output and "publisher target" in result.output
    leak_check(made.client_secret.reveal(), published["access_token"], extra_text=result.output)


def test_adopting_again_writes_nothing_new(emulator, moto_url, tmp_path):
    manager = manager_secret(emulator)
    made = hand_made_account(emulator)
    args = sa_args(made, manager, hosts_file(emulator, tmp_path))
    env = {"VGS_CLIENT_SECRET": made.client_secret.reveal()}
    assert adopt(*args, env=env).exit_code == 0
    before = moto_state()
    again = adopt(*args, env=env)
    assert again.exit_code == 0, again.output
    assert "nothing to write: already adopted" in again.output
    assert moto_state() == before


def test_adopting_into_a_secret_consumers_already_read(emulator, moto_url, tmp_path):
    """A plain {"client_id", "client_secret"} secret gets the document as a new version: the
    same two keys stay at the top, the old value is AWSPREVIOUS, and rotations never mistake
    it for a credential to retire."""
    manager = manager_secret(emulator)
    made = hand_made_account(emulator)
    plain = {"client_id": made.client_id, "client_secret": made.client_secret.reveal()}
    arn = sm().create_secret(Name="apps/payments/vgs", SecretString=json.dumps(plain))["ARN"]
    result = adopt(
        arn, "--client-id", made.client_id, "--manager-secret-arn", manager, "--hosts", hosts_file(emulator, tmp_path),
        env={"VGS_CLIENT_SECRET": made.client_secret.reveal()},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "write a new AWSCURRENT version" in result.output
    current = json.loads(sm().get_secret_value(SecretId=arn)["SecretString"])
    assert {k: current[k] for k in plain} == plain
    assert json.loads(sm().get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]) == plain
    clock = VirtualClock()
    run_local(rotation(clock), arn)
    run_local(rotation(clock), arn)
    assert made.client_id not in at_vgs(emulator, "service-account")
    assert len(at_vgs(emulator, "service-account")) == 2


# --------------------------------------------------------------------------- the secret's input


def test_the_secret_comes_from_env_or_stdin_never_an_argument(emulator, moto_url, tmp_path):
    manager = manager_secret(emulator)
    made = hand_made_account(emulator)
    secret = made.client_secret.reveal()
    base = [*sa_args(made, manager, hosts_file(emulator, tmp_path)), "--dry-run"]
    from_env = adopt(*base, env={"VGS_CLIENT_SECRET": secret})
    assert from_env.exit_code == 0, from_env.output
    from_other_env = adopt(*base, "--secret-env", "MY_SECRET", env={"MY_SECRET": secret})
    assert from_other_env.exit_code == 0, from_other_env.output
    from_stdin = adopt(*base, "--secret-stdin", stdin=secret + "\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    wrong_on_stdin = adopt(*base, "--secret-stdin", stdin="not-the-secret\n")
    assert wrong_on_stdin.exit_code == 3
    assert "the client secret given in stdin does not work" in one_error_line(wrong_on_stdin)
    missing = adopt(*base)
    assert missing.exit_code == 2 and "VGS_CLIENT_SECRET" in one_error_line(missing)
    for option in ("--client-secret", "--secret", "--password"):
        argument = adopt(*base, option, secret, env={"VGS_CLIENT_SECRET": secret})
        assert argument.exit_code == 2
        assert "No such option" in one_error_line(argument)
    for result in (from_env, from_other_env, from_stdin, wrong_on_stdin, missing):
        assert_no_secret(result.output, secret, emulator=emulator)
    assert "vgs/rotated/app" not in moto_state()


def test_dry_run_prints_the_masked_document_and_writes_nothing(emulator, moto_url, tmp_path, leak_check):
    manager = manager_secret(emulator)
    made = hand_made_credential(emulator)
    before = snapshot(emulator)
    result = adopt(
        "vgs/rotated/proxy", "--credential-id", made.id, "--vault-id", emulator.bootstrap["vault_id"],
        "--manager-secret-arn", manager, "--hosts", hosts_file(emulator, tmp_path), "--dry-run",
        "--rotation-function", "arn:aws:lambda:us-east-1:123456789012:function:vgs-rotation-dev-rotation",
        "--schedule", "cron(0 3 ? * MON *)",
        env={"VGS_CREDENTIAL_PASSWORD": made.password.reveal()},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert snapshot(emulator) == before
    assert "dry run: checked everything, wrote nothing" in result.output
    assert "would: create secret vgs/rotated/proxy" in result.output
    assert "would: configure rotation" in result.output
    printed = json.loads(result.output[result.output.index("{\n") :])
    assert printed["password"] == "***" and printed["credential_id"] == made.id
    assert printed["username"] == made.username and printed["kind"] == "access-credentials"
    leak_check(made.password.reveal(), extra_text=result.output)


# --------------------------------------------------------------------------- refusals: nothing written


def _refusal(emulator, tmp_path, **over: Any) -> dict[str, Any]:
    """A setting for one refusal: a hand-made account, the manager, the flags; ``over`` changes it."""
    made = hand_made_account(emulator)
    setting = {
        "secret_name": "vgs/rotated/app",
        "client_id": made.client_id,
        "secret": made.client_secret.reveal(),
        "manager": None,
        "extra": [],
    }
    setting.update(over)
    setting["manager"] = setting["manager"] or manager_secret(emulator)
    setting["hosts"] = hosts_file(emulator, tmp_path)
    return setting


def _run_refusal(setting: dict[str, Any]) -> Any:
    return adopt(
        setting["secret_name"], "--client-id", setting["client_id"], "--manager-secret-arn", setting["manager"],
        "--hosts", setting["hosts"], *setting["extra"], env={"VGS_CLIENT_SECRET": setting["secret"]},
    )  # fmt: skip


def _existing_secret(value: dict[str, Any], name: str = "vgs/rotated/app") -> str:
    return str(sm().create_secret(Name=name, SecretString=json.dumps(value))["ARN"])


def _other_account(emulator):
    return hand_made_account(emulator, name="other")


def _stuck_pending(emulator, setting):
    arn = _existing_secret({"client_id": setting["client_id"], "client_secret": setting["secret"]})
    sm().put_secret_value(SecretId=arn, SecretString="{}", VersionStages=["AWSPENDING"])


def _unlisting_manager(emulator, setting):
    """A manager that may mint but not list service accounts: VGS answers 403."""
    weak = hand_made_account(emulator, name="weak", scopes=("cards:read",))
    setting["manager"] = manager_secret(emulator, client_id=weak.client_id, client_secret=weak.client_secret.reveal())


REFUSALS = {
    "credential does not exist": (
        lambda emu, s: s.update(client_id=emu.organization_id[:9] + "-nobody-abcde"), 1, "does not exist",
    ),
    "wrong secret": (lambda emu, s: s.update(secret="wrong-secret"), 3, "does not work for"),
    "manager cannot list accounts": (_unlisting_manager, 3, "cannot see the service accounts"),
    "manager cannot see the organization": (
        lambda emu, s: s["extra"].extend(["--organization-id", "ACnotTheOrganization1234"]), 1,
        "does not exist or the manager cannot see it",
    ),
    "name too long after the suffix": (
        lambda emu, s: s.update(client_id=(a := hand_made_account(emu, name="payments-service")).client_id,
                                secret=a.client_secret.reveal()),
        1, "Give --name, e.g. --name payments-se",
    ),
    "secret holds another credential": (
        lambda emu, s: _existing_secret({"client_id": _other_account(emu).client_id, "client_secret": "x"}),
        1, "already holds another credential",
    ),
    "secret holds something else": (lambda emu, s: _existing_secret({"unrelated": True}), 1, "names no VGS credential"),
    "rotation in progress": (_stuck_pending, 1, "has a rotation in progress"),
    "schedule too frequent": (
        lambda emu, s: s["extra"].extend(["--rotation-function", "arn:aws:lambda:us-east-1:123456789012:function:f",
                                           "--schedule", "rate(2 hours)"]),
        2, "is not a schedule Secrets Manager accepts",
    ),
    "cron minutes not zero": (
        lambda emu, s: s["extra"].extend(["--rotation-function", "arn:aws:lambda:us-east-1:123456789012:function:f",
                                           "--schedule", "cron(15 3 * * ? *)"]),
        2, "must use 0 for minutes",
    ),
    "the manager itself": (
        lambda emu, s: s.update(client_id=emu.bootstrap["client_id"], secret=emu.bootstrap["client_secret"]),
        2, "is the manager itself",
    ),
    "optional scopes": (
        lambda emu, s: s.update(
            client_id=(a := hand_made_account(emu, name="opt", scopes=("cards:read",), optional_scopes=("cards:write",))).client_id,
            secret=a.client_secret.reveal()),
        1, "has optional scopes (cards:write)",
    ),
    "made by another secret's rotation": (
        lambda emu, s: s.update(
            client_id=(a := hand_made_account(emu, name="owned", annotations={SECRET_ANNOTATION: "0" * 20})).client_id,
            secret=a.client_secret.reveal()),
        1, "was created by the rotation of another secret",
    ),
    "publishing into the rotated secret": (
        lambda emu, s: s["extra"].extend(["--publish-to", "vgs/rotated/app"]), 2, "must not be the rotated secret",
    ),
    "secret scheduled for deletion": (
        lambda emu, s: sm().delete_secret(SecretId=_existing_secret({"client_id": s["client_id"]}), RecoveryWindowInDays=7),
        1, "is scheduled for deletion",
    ),
    "an ARN that does not exist": (
        lambda emu, s: s.update(secret_name="arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/none-AbCdEf"),
        1, "does not exist; give a name",
    ),
    "a name Secrets Manager refuses": (lambda emu, s: s.update(secret_name="vgs/app name"), 2, "not one Secrets Manager accepts"),
    "the manager secret itself": (lambda emu, s: s.update(secret_name=s["manager"]), 2, "is the manager secret"),
    "token destination holds something else": (
        lambda emu, s: (_existing_secret({"a": 1}, name="vgs/tokens/app"), s["extra"].extend(["--publish-to", "vgs/tokens/app"])),
        1, "not a published token",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_writes_nothing(emulator, moto_url, tmp_path, case):
    arrange, code, says = REFUSALS[case]
    setting = _refusal(emulator, tmp_path)
    arrange(emulator, setting)
    before = snapshot(emulator)
    result = _run_refusal(setting)
    assert result.exit_code == code, result.output
    line = one_error_line(result)
    assert says in line and "nothing written" in line, line
    assert snapshot(emulator) == before, "a refused adoption wrote something"
    assert_no_secret(result.output, setting["secret"], emulator.bootstrap["client_secret"], emulator=emulator)


def test_force_replaces_another_credential_which_the_first_rotation_retires(emulator, moto_url, tmp_path):
    other = _other_account(emulator)
    arn = _existing_secret({"client_id": other.client_id, "client_secret": other.client_secret.reveal()})
    setting = _refusal(emulator, tmp_path, extra=["--force"])
    result = _run_refusal(setting)
    assert result.exit_code == 0, result.output
    assert document(arn).client_id == setting["client_id"]


def test_a_long_name_is_adopted_with_name(emulator, moto_url, tmp_path):
    made = hand_made_account(emulator, name="payments-service")
    setting = _refusal(
        emulator, tmp_path, client_id=made.client_id, secret=made.client_secret.reveal(), extra=["--name", "payments"]
    )
    result = _run_refusal(setting)
    assert result.exit_code == 0, result.output
    assert document("vgs/rotated/app").name == "payments"
    run_local(rotation(VirtualClock()), "vgs/rotated/app")
    names = {a["name"] for a in emulator.service_accounts()}
    assert any(n.startswith("payments-") and len(n) == 17 for n in names - {"payments-service"})


def test_an_unknown_rotation_function_is_named(emulator, moto_url, tmp_path):
    setting = _refusal(emulator, tmp_path)
    assert _run_refusal(setting).exit_code == 0
    setting["extra"] = [
        "--rotation-function",
        "arn:aws:lambda:us-east-1:123456789012:function:nope",
        "--schedule",
        "rate(1 day)",
    ]
    result = _run_refusal(setting)
    assert result.exit_code == 1, result.output
    line = one_error_line(result)
    assert "cannot find the rotation function arn:aws:lambda:us-east-1:123456789012:function:nope" in line


@pytest.mark.bao
def test_publish_to_a_kv_path(emulator, moto_url, tmp_path, bao, monkeypatch):
    """--publish-to kv:PATH: the first token is in OpenBao's KV v2 at once."""
    for key, value in bao.env().items():
        monkeypatch.setenv(key, value)
    setting = _refusal(emulator, tmp_path, extra=["--publish-to", "kv:secret/vgs/tokens/adopted"])
    result = _run_refusal(setting)
    assert result.exit_code == 0, result.output
    data = bao.client().secrets.kv.v2.read_secret_version(
        path="vgs/tokens/adopted", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    assert data["client_id"] == setting["client_id"] and data["expires_at"] > time.time()
    assert '"vault_path": "secret/vgs/tokens/adopted"' in result.output
    assert_no_secret(result.output, setting["secret"], data["access_token"], emulator=emulator)


def _token_with_policy(bao, rules: str) -> str:
    name = f"p-{uuid.uuid4().hex[:6]}"
    client = bao.client()
    client.sys.create_or_update_policy(name=name, policy=rules)
    return str(client.auth.token.create(policies=[name], ttl="10m")["auth"]["client_token"])


KV_POLICIES = {
    "read only": ('path "secret/data/vgs/*" { capabilities = ["read"] }', 3,
                  "lacks create on secret/data/{path}, update on secret/data/{path}, update on secret/metadata/{path}"),
    "no metadata": ('path "secret/data/vgs/*" { capabilities = ["read", "create", "update"] }', 3,
                    "lacks update on secret/metadata/{path}"),
    "enough": ('path "secret/data/vgs/*" { capabilities = ["read", "create", "update"] }\n'
               'path "secret/metadata/vgs/*" { capabilities = ["update"] }', 0, None),
}  # fmt: skip


def _kv_version(bao, path: str) -> int | None:
    import hvac.exceptions

    try:
        return int(bao.client().secrets.kv.v2.read_secret_metadata(path=path)["data"]["current_version"])
    except hvac.exceptions.InvalidPath:
        return None


@pytest.mark.bao
@pytest.mark.parametrize("policy", list(KV_POLICIES))
def test_a_kv_destination_the_token_cannot_write_is_refused_first(
    emulator, moto_url, tmp_path, bao, monkeypatch, policy
):
    """Vault's own answer (sys/capabilities-self) decides, before anything is written: what the
    publisher needs now and on every refresh, or a refusal naming what the token lacks."""
    rules, code, lacks = KV_POLICIES[policy]
    path = f"vgs/tokens/limited-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("VAULT_ADDR", bao.url)
    monkeypatch.setenv("VAULT_TOKEN", _token_with_policy(bao, rules))
    setting = _refusal(emulator, tmp_path, extra=["--publish-to", f"kv:secret/{path}"])
    before = snapshot(emulator)
    result = _run_refusal(setting)
    assert result.exit_code == code, result.output
    if lacks is None:
        assert _kv_version(bao, path) == 1
        return
    line = one_error_line(result)
    assert f"may not publish to kv:secret/{path}: it {lacks.format(path=path)}" in line and "nothing written" in line
    assert snapshot(emulator) == before and _kv_version(bao, path) is None


@pytest.mark.bao
def test_a_kv_destination_holding_something_else_is_refused(emulator, moto_url, tmp_path, bao, monkeypatch):
    for key, value in bao.env().items():
        monkeypatch.setenv(key, value)
    bao.client().secrets.kv.v2.create_or_update_secret(path="vgs/tokens/taken", secret={"password": "x"})
    setting = _refusal(emulator, tmp_path, extra=["--publish-to", "kv:secret/vgs/tokens/taken"])
    before = snapshot(emulator)
    result = _run_refusal(setting)
    assert result.exit_code == 1, result.output
    assert "kv:secret/vgs/tokens/taken holds a value that is not a published token" in one_error_line(result)
    assert snapshot(emulator) == before
    assert _kv_version(bao, "vgs/tokens/taken") == 1


def test_adopt_as_a_process_reads_the_secret_from_a_pipe(emulator, moto_url, tmp_path):
    """What a shell does: `printf %s "$SECRET" | vgs-rotate adopt ... --secret-stdin`."""
    setting = _refusal(emulator, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "VGS_CLIENT_SECRET"}
    proc = subprocess.run(
        [sys.executable, "-m", "rotation.cli", "adopt", setting["secret_name"], "--client-id", setting["client_id"],
         "--manager-secret-arn", setting["manager"], "--hosts", setting["hosts"], "--secret-stdin"],
        input=setting["secret"], capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert document(setting["secret_name"]).client_id == setting["client_id"]
    assert_no_secret(
        proc.stdout + proc.stderr, setting["secret"], emulator.bootstrap["client_secret"], emulator=emulator
    )


def _weak_manager(emulator, scopes):
    weak = hand_made_account(emulator, name="weak", scopes=scopes)
    return manager_secret(emulator, client_id=weak.client_id, client_secret=weak.client_secret.reveal())


AC_REFUSALS = {
    "credential does not exist": (lambda emu, s: s.update(credential="no-such-credential"), 1, "is not in vault"),
    "wrong password": (lambda emu, s: s.update(secret="wrong-password"), 3, "the password given in VGS_CREDENTIAL_PASSWORD does not work"),
    "vault the manager cannot see": (lambda emu, s: s.update(vault="tntnotavault"), 1, "does not exist or the manager cannot see it"),
    "manager cannot list credentials": (
        lambda emu, s: s.update(manager=_weak_manager(emu, ("service-accounts:write",))), 3,
        "cannot see the access credentials of vault",
    ),
    "no vault API URL to prove the password": (lambda emu, s: s.update(hosts=["--host", "token_url=" + emu.bootstrap["token_url"]]), 2, "vault_api_url"),
    "--name for access credentials": (lambda emu, s: s["extra"].extend(["--name", "proxy"]), 2, "not for access credentials"),
    "--publish-to for access credentials": (lambda emu, s: s["extra"].extend(["--publish-to", "vgs/tokens/x"]), 2, "only service accounts mint"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(AC_REFUSALS))
def test_each_access_credential_refusal_writes_nothing(emulator, moto_url, tmp_path, case):
    arrange, code, says = AC_REFUSALS[case]
    made = hand_made_credential(emulator)
    setting: dict[str, Any] = {
        "credential": made.id, "secret": made.password.reveal(), "vault": emulator.bootstrap["vault_id"],
        "manager": manager_secret(emulator), "hosts": ["--hosts", hosts_file(emulator, tmp_path)], "extra": [],
    }  # fmt: skip
    arrange(emulator, setting)
    before = snapshot(emulator)
    result = adopt(
        "vgs/rotated/proxy", "--credential-id", setting["credential"], "--vault-id", setting["vault"],
        "--manager-secret-arn", setting["manager"], *setting["hosts"], *setting["extra"],
        env={"VGS_CREDENTIAL_PASSWORD": setting["secret"]},
    )  # fmt: skip
    assert result.exit_code == code, result.output
    line = one_error_line(result)
    assert says in line and "nothing written" in line, line
    assert snapshot(emulator) == before, "a refused adoption wrote something"
    assert_no_secret(result.output, made.password.reveal(), emulator.bootstrap["client_secret"], emulator=emulator)


def test_json_output_masks_the_document(emulator, moto_url, tmp_path):
    manager = manager_secret(emulator)
    made = hand_made_account(emulator)
    secret = made.client_secret.reveal()
    result = adopt(*sa_args(made, manager, hosts_file(emulator, tmp_path)), "--json", env={"VGS_CLIENT_SECRET": secret})
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["credential"] == made.client_id and out["kind"] == "service-account" and out["dry_run"] is False
    assert out["document"]["client_secret"] == "***" and out["secret"].startswith("arn:aws:secretsmanager:")
    assert out["actions"][0].startswith("create secret vgs/rotated/app")
    assert_no_secret(result.output, secret, emulator=emulator)


class RecordingStore(AwsSecretStore):
    """moto's store, with RotateSecret recorded instead of sent: moto would run neither the
    function nor the test step, and with RotateImmediately=true relabels AWSCURRENT onto an
    empty version. What adopt asks of Secrets Manager is what is checked here."""

    def __init__(self) -> None:
        super().__init__()
        self.rotations: list[dict[str, Any]] = []

    def configure_rotation(self, secret_id, *, function_arn, schedule_expression, rotate_immediately):
        self.rotations.append(
            {
                "secret": secret_id,
                "function": function_arn,
                "schedule": schedule_expression,
                "immediately": rotate_immediately,
            }
        )
        return None


@pytest.mark.parametrize("immediately", [False, True])
def test_rotate_immediately_only_when_asked(emulator, moto_url, tmp_path, immediately):
    from rotation.onboarding.adopt import Adoption
    from rotation.onboarding.request import AdoptRequest

    made = hand_made_account(emulator)
    hosts = {k: emulator.bootstrap[k] for k in HOST_KEYS}
    function = "arn:aws:lambda:us-east-1:123456789012:function:vgs-rotation-dev-rotation"
    request = AdoptRequest(
        secret_id="vgs/rotated/app", manager_secret=manager_secret(emulator), kind="service-account",
        credential=made.client_id, secret=made.client_secret, hosts=hosts, rotation_function=function,
        schedule="cron(0 4 ? * SUN *)", rotate_immediately=immediately,
    )  # fmt: skip
    store = RecordingStore()
    with VGSHttp(timeout=5.0) as http:
        result = Adoption(store, default_issuer_factory(), http).run(request)
    arn = sm().describe_secret(SecretId="vgs/rotated/app")["ARN"]
    assert store.rotations == [
        {"secret": arn, "function": function, "schedule": "cron(0 4 ? * SUN *)", "immediately": immediately}
    ]
    assert ("rotate now" in result.actions[-1]) is immediately
