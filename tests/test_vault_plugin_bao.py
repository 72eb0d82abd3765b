# ruff: noqa: F811 - pytest fixtures imported from tests.vault_fixtures are used as parameters
"""The plugin inside a real OpenBao dev server, against the VGS emulator, through the bao CLI
and hvac."""

from __future__ import annotations

import json
import time
from typing import Any

import hvac.exceptions
import pytest

from rotation.vgs import AccessToken, CMPProbe, Secret
from tests.vault_fixtures import Bao, bao_registered, bao_server, kv, manager_config, mount, wait_until  # noqa: F401
from vault_plugin import __version__

pytestmark = pytest.mark.bao


def configure(bao: Bao, path: str, emulator: Any, **extra: Any) -> None:
    bao.hvac().write_data(f"{path}/config", data={**manager_config(emulator), **extra})


def probe(emulator: Any, raw_token: str) -> None:
    tok = AccessToken(access_token=Secret(raw_token), token_type="Bearer", expires_in=300, issued_at=time.time())
    CMPProbe(emulator.bootstrap["cmp_url"]).check(tok)


def accounts(emulator: Any) -> dict[str, dict[str, Any]]:
    return {a["client_id"]: a for a in emulator.service_accounts()}


def annotations(acct: dict[str, Any]) -> dict[str, str]:
    return dict(acct.get("annotations") or {})


# --- registration, help, errors (no VGS needed) -------------------------------------------


def test_register_and_enable_with_the_cli(bao_server: Bao):
    name = "vgs-cli"
    reg = bao_server.cli(
        "plugin",
        "register",
        f"-sha256={bao_server.sha256}",
        "-command=vgs-secrets-plugin",
        f"-version={__version__}",
        "secret",
        name,
    )
    assert reg.returncode == 0, reg.stderr
    assert (
        bao_server.cli("secrets", "enable", "-path=vgs-cli-mount", f"-plugin-version={__version__}", name).returncode
        == 0
    )
    try:
        mounts = json.loads(bao_server.cli("secrets", "list", "-format=json", check=True).stdout)
        assert mounts["vgs-cli-mount/"]["type"] == name
        assert mounts["vgs-cli-mount/"]["running_plugin_version"] == __version__
        root_help = bao_server.cli("path-help", "vgs-cli-mount/", check=True).stdout
        assert "token/NAME" in root_help and "creds/NAME" in root_help
        helptext = bao_server.cli("path-help", "vgs-cli-mount/token/x", check=True).stdout
        assert "short-lived VGS access token" in helptext
        for path in (
            "config",
            "config/rotate-root",
            "roles/x",
            "creds/x",
            "static-roles/x",
            "static-creds/x",
            "rotate-role/x",
            "tidy",
        ):
            out = bao_server.cli("path-help", f"vgs-cli-mount/{path}")
            assert out.returncode == 0 and len(out.stdout) > 40, (path, out.stderr)
    finally:
        bao_server.cli("secrets", "disable", "vgs-cli-mount")


def test_unknown_paths_and_bad_fields_are_clear_errors(bao_registered: Bao, mount: str):
    out = bao_registered.cli("read", f"{mount}/no-such-path")
    assert out.returncode != 0 and "unsupported path" in out.stderr
    out = bao_registered.cli("write", f"{mount}/roles/r1", "scopes=cards:read", "ttl=soon")
    assert out.returncode != 0 and "field 'ttl'" in out.stderr
    out = bao_registered.cli("write", f"{mount}/roles/r1", "scopes=cards:read", "colour=blue")
    assert out.returncode != 0 and "unknown field(s): colour" in out.stderr
    out = bao_registered.cli("write", f"{mount}/roles/r1", "ttl=1h")
    assert out.returncode != 0 and "'scopes' is required" in out.stderr
    out = bao_registered.cli("delete", f"{mount}/token/r1")
    assert out.returncode != 0 and "not supported" in out.stderr
    client = bao_registered.hvac()
    with pytest.raises(hvac.exceptions.InvalidRequest, match="token_lifespan"):
        client.write_data(f"{mount}/roles/r1", data={"scopes": "cards:read", "token_lifespan": 10})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="unsupported path"):
        client.write_data(f"{mount}/nothing/here", data={"a": 1})
    client.write_data(f"{mount}/roles/r1", data={"scopes": "cards:read"})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="not configured"):
        client.read(f"{mount}/token/r1")


# --- config --------------------------------------------------------------------------------


def test_config_wrong_secret_is_refused_and_nothing_stored(bao_registered: Bao, mount: str, emulator: Any):
    cfg = manager_config(emulator) | {"client_secret": "wrong-secret-value"}
    out = bao_registered.cli("write", f"{mount}/config", *kv(cfg))
    assert out.returncode != 0
    assert "refused the client credentials" in out.stderr
    assert "wrong-secret-value" not in out.stderr
    assert bao_registered.hvac().read(f"{mount}/config") is None
    out = bao_registered.cli(
        "write", f"{mount}/config", *kv(manager_config(emulator) | {"token_url": "http://10.1.2.3/t"})
    )
    assert out.returncode != 0 and "field 'token_url'" in out.stderr


def test_config_read_never_returns_the_secret(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    data = bao_registered.hvac().read(f"{mount}/config")["data"]
    assert data["client_id"] == emulator.bootstrap["client_id"]
    assert "client_secret" not in data
    assert emulator.bootstrap["client_secret"] not in json.dumps(data)
    out = bao_registered.cli("read", "-format=json", f"{mount}/config", check=True)
    assert emulator.bootstrap["client_secret"] not in out.stdout
    assert emulator.bootstrap["client_secret"] not in bao_registered.server_log()


def test_config_defaults_are_vgs_live(bao_registered: Bao, mount: str):
    from rotation.vgs import VGSEndpoints

    out = bao_registered.cli("path-help", f"{mount}/config", check=True).stdout
    assert VGSEndpoints.live().token_url in out


# --- token/NAME ----------------------------------------------------------------------------


def test_token_is_accepted_by_the_probe_and_served_from_cache(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    bao_registered.cli("write", f"{mount}/roles/cmp", "scopes=cards:read,cards:write", "token_lifespan=20m", check=True)
    first = json.loads(bao_registered.cli("read", "-format=json", f"{mount}/token/cmp", check=True).stdout)
    assert first["data"]["token_type"].lower() == "bearer"
    assert first["data"]["cached"] is False
    assert first["lease_id"] == "" and first["lease_duration"] == 0, "no lease per token read"
    assert first["data"]["rotation_period"] == 1200
    assert 1200 - 300 - 60 < first["data"]["ttl"] <= 1200 - 300, "seconds until the engine serves a fresh token"
    probe(emulator, first["data"]["access_token"])
    mints = emulator.request_counts["token"]
    second = bao_registered.hvac().read(f"{mount}/token/cmp")
    assert second["data"]["cached"] is True
    assert second["data"]["access_token"] == first["data"]["access_token"]
    assert emulator.request_counts["token"] == mints, "the second read must not mint"
    # exactly one account for the role, annotated with the role
    role_accounts = [a for a in emulator.service_accounts() if annotations(a).get("vgs-rotation/role") == "cmp"]
    assert len(role_accounts) == 1
    assert annotations(role_accounts[0])["vgs-rotation/kind"] == "token"


def leases(bao: Bao, prefix: str) -> int:
    """Leases OpenBao holds under ``prefix`` (its own lease index, not the plugin's word)."""
    r = bao.api("LIST", f"sys/leases/lookup/{prefix}")
    if r.status_code == 404:
        return 0  # OpenBao answers 404 for an empty listing
    assert r.status_code == 200, r.text
    return len(r.json()["data"]["keys"])


def test_token_reads_leave_no_lease_and_make_no_storage_call(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/hot", data={"scopes": "cards:read", "token_lifespan": "20m"})
    client.write_data(f"{mount}/roles/leased", data={"scopes": "cards:read", "token_leases": True})
    first = client.read(f"{mount}/token/hot")
    assert first["lease_id"] == "" and first["renewable"] is False
    before = client.read(f"{mount}/stats")["data"]
    reads = 40
    for _ in range(reads):
        again = client.read(f"{mount}/token/hot")
        assert again["data"]["access_token"] == first["data"]["access_token"] and again["data"]["cached"] is True
    after = client.read(f"{mount}/stats")["data"]
    assert leases(bao_registered, f"{mount}/token/hot/") == 0, "no lease per token read"
    assert after["storage_calls"] == before["storage_calls"], "cached reads made no storage RPC"
    assert after["token_cache_hits"] - before["token_cache_hits"] == reads
    # the counting is not vacuous: the option turns a lease per read on, and OpenBao counts them
    for _ in range(5):
        leased = client.read(f"{mount}/token/leased")
        assert leased["lease_id"] and leased["renewable"] is False
    assert leases(bao_registered, f"{mount}/token/leased/") == 5
    # creds/ keeps its revocable lease
    client.write_data(f"{mount}/roles/dyn", data={"scopes": "cards:read"})
    secret = client.read(f"{mount}/creds/dyn")
    assert leases(bao_registered, f"{mount}/creds/dyn/") == 1
    client.sys.revoke_lease(secret["lease_id"])


def test_changing_role_scopes_replaces_the_token_account(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/r", data={"scopes": "cards:read"})
    a = client.read(f"{mount}/token/r")["data"]["client_id"]
    client.write_data(f"{mount}/roles/r", data={"scopes": "cards:read,cards:write"})
    assert a not in accounts(emulator)
    b = client.read(f"{mount}/token/r")["data"]
    assert b["client_id"] != a and b["cached"] is False
    client.delete(f"{mount}/roles/r")
    assert b["client_id"] not in accounts(emulator)


# --- creds/NAME ----------------------------------------------------------------------------


def test_creds_create_an_account_and_revoke_deletes_it(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/dyn", data={"scopes": "cards:read", "ttl": "10m", "max_ttl": "1h"})
    secret = client.read(f"{mount}/creds/dyn")
    client_id = secret["data"]["client_id"]
    assert secret["data"]["client_secret"]
    assert secret["renewable"] is True and 0 < secret["lease_duration"] <= 600
    assert client_id in accounts(emulator)
    assert annotations(accounts(emulator)[client_id])["vgs-rotation/kind"] == "creds"
    renewed = client.sys.renew_lease(secret["lease_id"], increment=300)
    assert 0 < renewed["lease_duration"] <= 300
    client.sys.revoke_lease(secret["lease_id"])
    wait_until(lambda: client_id not in accounts(emulator), what="account deleted at the emulator")
    # via the CLI as well
    out = json.loads(bao_registered.cli("read", "-format=json", f"{mount}/creds/dyn", check=True).stdout)
    assert out["data"]["client_id"] in accounts(emulator)
    bao_registered.cli("lease", "revoke", out["lease_id"], check=True)
    wait_until(lambda: out["data"]["client_id"] not in accounts(emulator), what="account deleted (CLI revoke)")


def test_revoke_when_the_account_is_already_gone_succeeds(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/dyn", data={"scopes": "cards:read"})
    secret = client.read(f"{mount}/creds/dyn")
    from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, TokenClient

    boot = emulator.bootstrap
    auth = CachedTokenAuth(TokenClient(boot["token_url"]), ClientCredentials(boot["client_id"], boot["client_secret"]))
    AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth).delete(secret["data"]["client_id"])
    client.sys.revoke_lease(secret["lease_id"])  # synchronous: the plugin's revoke succeeded
    with pytest.raises(hvac.exceptions.InvalidRequest, match="invalid lease"):
        client.sys.read_lease(secret["lease_id"])


# --- rotate-root -----------------------------------------------------------------------------

CRASH_POINTS = ["after-wal", "after-create", "after-validate", "after-store", "after-delete-old"]


def test_rotate_root_without_crash(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    old = emulator.bootstrap["client_id"]
    out = bao_registered.hvac().write_data(f"{mount}/config/rotate-root", data={})
    new = out["data"]["client_id"]
    assert new != old
    assert bao_registered.hvac().read(f"{mount}/config")["data"]["client_id"] == new
    assert old not in accounts(emulator)
    bao_registered.hvac().write_data(f"{mount}/roles/r", data={"scopes": "cards:read"})
    probe(emulator, bao_registered.hvac().read(f"{mount}/token/r")["data"]["access_token"])


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_rotate_root_crash_then_rollback(bao_registered: Bao, mount: str, emulator: Any, point: str):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    old = emulator.bootstrap["client_id"]
    before = set(accounts(emulator))
    with pytest.raises(hvac.exceptions.VaultError):
        client.write_data(f"{mount}/config/rotate-root", data={"crash_at": point})
    # The host restarts the plugin on the next request; tidy runs the rollback (min age 0 in tests).
    wait_until(lambda: client.write_data(f"{mount}/tidy", data={}), what="plugin restarted and tidy ran")
    tidy = client.write_data(f"{mount}/tidy", data={})
    assert tidy["data"]["wal_entries"] == 0
    current = client.read(f"{mount}/config")["data"]["client_id"]
    now = set(accounts(emulator))
    if point in ("after-wal", "after-create", "after-validate"):
        assert current == old, "undone: the old credentials stay"
        assert now == before, "undone: no orphan account"
    else:
        assert current != old, "finished: the new credentials are in use"
        assert old not in now
        assert now - before == {current}
    # the working credentials really work
    client.write_data(f"{mount}/roles/r", data={"scopes": "cards:read"})
    probe(emulator, client.read(f"{mount}/token/r")["data"]["access_token"])


# --- static roles ---------------------------------------------------------------------------


def test_static_role_rotation_keeps_the_previous_credential_for_one_period(
    bao_registered: Bao, mount: str, emulator: Any
):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    created = client.write_data(f"{mount}/static-roles/app", data={"scopes": "cards:read", "rotation_period": "1h"})
    a = created["data"]["client_id"]
    creds = client.read(f"{mount}/static-creds/app")["data"]
    assert creds["client_id"] == a and creds["client_secret"] and 3500 < creds["ttl"] <= 3600
    out = json.loads(bao_registered.cli("write", "-format=json", "-f", f"{mount}/rotate-role/app", check=True).stdout)
    b = out["data"]["client_id"]
    assert b != a and out["data"]["previous_client_id"] == a
    assert {a, b} <= set(accounts(emulator)), "the previous account stays valid during the overlap"
    c = client.write_data(f"{mount}/rotate-role/app", data={})["data"]["client_id"]
    assert a not in accounts(emulator) and {b, c} <= set(accounts(emulator))
    new_creds = client.read(f"{mount}/static-creds/app")["data"]
    assert new_creds["client_id"] == c and new_creds["previous_client_id"] == b
    client.delete(f"{mount}/static-roles/app")
    assert not {b, c} & set(accounts(emulator))


# --- lifecycle ---------------------------------------------------------------------------------


def test_plugin_reload_keeps_state(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/keep", data={"scopes": "cards:read"})
    first = client.read(f"{mount}/token/keep")["data"]
    bao_registered.cli("plugin", "reload", f"-mounts={mount}", check=True)
    again = wait_until(lambda: client.read(f"{mount}/token/keep"), what="token after reload")["data"]
    assert again["cached"] is True and again["access_token"] == first["access_token"]
    assert client.read(f"{mount}/roles/keep")["data"]["scopes"] == ["cards:read"]


def test_two_mounts_at_once(bao_registered: Bao, emulator: Any):
    client = bao_registered.hvac()
    paths = ["vgs-two-a", "vgs-two-b"]
    try:
        for path in paths:
            bao_registered.enable(path)
            configure(bao_registered, path, emulator)
            client.write_data(f"{path}/roles/same", data={"scopes": "cards:read"})
        ta, tb = (client.read(f"{p}/token/same")["data"] for p in paths)
        assert ta["client_id"] != tb["client_id"]
        mounts = {annotations(accounts(emulator)[t["client_id"]])["vgs-rotation/mount"] for t in (ta, tb)}
        assert len(mounts) == 2
    finally:
        for path in paths:
            bao_registered.cli("secrets", "disable", path)


def test_tidy_removes_accounts_whose_lease_record_is_gone(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/dyn", data={"scopes": "cards:read"})
    before = set(accounts(emulator))
    out = bao_registered.cli("read", f"{mount}/creds/dyn", "crash_at=creds-after-create")
    assert out.returncode != 0
    orphans = set(accounts(emulator)) - before
    assert len(orphans) == 1, "the crash left an account without a lease"
    wait_until(lambda: client.write_data(f"{mount}/tidy", data={}), what="plugin restarted and tidy ran")
    assert not orphans & set(accounts(emulator))
    # a live lease's account survives tidy
    live = client.read(f"{mount}/creds/dyn")["data"]["client_id"]
    client.write_data(f"{mount}/tidy", data={})
    assert live in accounts(emulator)


def test_static_rotation_crash_is_undone(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    a = client.write_data(f"{mount}/static-roles/app", data={"scopes": "cards:read"})["data"]["client_id"]
    before = set(accounts(emulator))
    with pytest.raises(hvac.exceptions.VaultError):
        client.write_data(f"{mount}/rotate-role/app", data={"crash_at": "static-after-create"})
    wait_until(lambda: client.write_data(f"{mount}/tidy", data={}), what="plugin restarted and tidy ran")
    assert set(accounts(emulator)) == before
    assert client.read(f"{mount}/static-creds/app")["data"]["client_id"] == a


def test_concurrent_token_reads_mint_once(bao_registered: Bao, mount: str, emulator: Any):
    from concurrent.futures import ThreadPoolExecutor

    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/busy", data={"scopes": "cards:read"})
    creates, mints = emulator.request_counts["accounts.create"], emulator.request_counts["token"]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: bao_registered.hvac().read(f"{mount}/token/busy")["data"], range(8)))
    assert len({r["access_token"] for r in results}) == 1, "one token for all concurrent readers"
    assert sum(not r["cached"] for r in results) == 1
    assert emulator.request_counts["accounts.create"] - creates == 1, "one account for the role"
    # one mint for the role's token (plus at most one for the manager's token)
    assert emulator.request_counts["token"] - mints <= 2


def test_creds_renewal_stops_at_max_ttl_and_secrets_stay_out_of_logs(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/short", data={"scopes": "cards:read", "ttl": "2m", "max_ttl": "3m"})
    secret = client.read(f"{mount}/creds/short")
    assert secret["lease_duration"] <= 120
    renewed = client.sys.renew_lease(secret["lease_id"], increment=3600)
    assert renewed["lease_duration"] <= 180, "capped by max_ttl"
    log = bao_registered.server_log()
    assert secret["data"]["client_secret"] not in log
    assert emulator.bootstrap["client_secret"] not in log
    token = client.read(f"{mount}/token/short")["data"]["access_token"]
    assert token not in bao_registered.server_log()


def test_tidy_removes_a_token_account_lost_in_a_crash(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/t", data={"scopes": "cards:read"})
    before = set(accounts(emulator))
    assert bao_registered.cli("read", f"{mount}/token/t", "crash_at=token-after-create").returncode != 0
    lost = set(accounts(emulator)) - before
    assert len(lost) == 1
    wait_until(lambda: client.write_data(f"{mount}/tidy", data={}), what="plugin restarted and tidy ran")
    assert not lost & set(accounts(emulator))
    current = client.read(f"{mount}/token/t")["data"]["client_id"]
    client.write_data(f"{mount}/tidy", data={})
    assert current in accounts(emulator), "the role's current account survives tidy"


def test_config_refuses_credentials_that_cannot_manage_accounts(bao_registered: Bao, mount: str, emulator: Any):
    from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, TokenClient

    boot = emulator.bootstrap
    auth = CachedTokenAuth(TokenClient(boot["token_url"]), ClientCredentials(boot["client_id"], boot["client_secret"]))
    plain = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth).create(
        name="plain", scopes=["cards:read"]
    )
    cfg = manager_config(emulator) | {"client_id": plain.client_id, "client_secret": plain.client_secret.reveal()}
    with pytest.raises(hvac.exceptions.InvalidRequest, match="cannot manage"):
        bao_registered.hvac().write_data(f"{mount}/config", data=cfg)
    assert bao_registered.hvac().read(f"{mount}/config") is None


def test_vgs_outage_is_a_clear_error_and_a_short_blip_is_retried(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/r", data={"scopes": "cards:read"})
    emulator.faults.inject("accounts.create", status=503, count=1)
    assert client.read(f"{mount}/token/r")["data"]["access_token"], "one 503 is retried by rotation.vgs"
    client.write_data(f"{mount}/roles/r2", data={"scopes": "cards:read"})
    emulator.faults.inject("token", status=503, count=10)
    out = bao_registered.cli("read", f"{mount}/token/r2")
    assert out.returncode != 0
    assert "VGS is unavailable" in out.stderr and "Code: 503" in out.stderr
    emulator.faults.clear()
    assert client.read(f"{mount}/token/r2")["data"]["access_token"]


ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_register_script_and_policies(bao_registered: Bao, emulator: Any):
    import os
    import subprocess

    from tests.vault_fixtures import BAO

    env = dict(os.environ, BAO_ADDR=bao_registered.addr, BAO_TOKEN=bao_registered.token, CLI=BAO)
    script = ROOT / "infra" / "vault" / "register.sh"
    plugin = bao_registered.plugin_dir / "vgs-secrets-plugin"
    out = subprocess.run(
        [str(script), str(plugin), "vgs-script", "vgs-script"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert bao_registered.sha256 in out.stdout
    # running it again upgrades in place (tune + reload) instead of failing
    again = subprocess.run(
        [str(script), str(plugin), "vgs-script", "vgs-script"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    try:
        configure(bao_registered, "vgs-script", emulator)
        root = bao_registered.hvac()
        root.write_data("vgs-script/roles/cmp", data={"scopes": "cards:read"})
        for name in ("consumer", "operator"):
            text = (ROOT / "infra" / "vault" / "policies" / f"{name}.hcl").read_text().replace('"vgs/', '"vgs-script/')
            root.sys.create_or_update_policy(name=f"vgs-{name}", policy=text)
        consumer = bao_registered.hvac()
        consumer.token = root.auth.token.create(policies=["vgs-consumer"], ttl="10m")["auth"]["client_token"]
        assert consumer.read("vgs-script/token/cmp")["data"]["access_token"]
        for forbidden in ("vgs-script/creds/cmp", "vgs-script/config", "vgs-script/roles/cmp"):
            with pytest.raises(hvac.exceptions.Forbidden):
                consumer.read(forbidden)
        operator = bao_registered.hvac()
        operator.token = root.auth.token.create(policies=["vgs-operator"], ttl="10m")["auth"]["client_token"]
        operator.write_data("vgs-script/roles/other", data={"scopes": "cards:read"})
        assert "client_secret" not in operator.read("vgs-script/config")["data"]
        with pytest.raises(hvac.exceptions.Forbidden):
            operator.read("vgs-script/creds/cmp")
    finally:
        bao_registered.cli("secrets", "disable", "vgs-script")


def test_static_role_rotates_on_schedule(bao_registered: Bao, mount: str, emulator: Any):
    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    a = client.write_data(f"{mount}/static-roles/sched", data={"scopes": "cards:read", "rotation_period": "10m"})
    a_id = a["data"]["client_id"]
    client.write_data(f"{mount}/tidy", data={"advance_clock": "5m"})
    assert client.read(f"{mount}/static-creds/sched")["data"]["client_id"] == a_id, "not due yet"
    client.write_data(f"{mount}/tidy", data={"advance_clock": "6m"})
    creds = client.read(f"{mount}/static-creds/sched")["data"]
    assert creds["client_id"] != a_id and creds["previous_client_id"] == a_id
    assert a_id in accounts(emulator), "the previous account is still valid"


def test_token_account_deleted_behind_the_engine_is_replaced(bao_registered: Bao, mount: str, emulator: Any):
    from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, TokenClient

    configure(bao_registered, mount, emulator)
    client = bao_registered.hvac()
    client.write_data(f"{mount}/roles/gone", data={"scopes": "cards:read"})
    first = client.read(f"{mount}/token/gone")["data"]["client_id"]
    boot = emulator.bootstrap
    auth = CachedTokenAuth(TokenClient(boot["token_url"]), ClientCredentials(boot["client_id"], boot["client_secret"]))
    AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth).delete(first)
    client.write_data(f"{mount}/tidy", data={"advance_clock": "2h"})  # the cached token is now stale
    again = client.read(f"{mount}/token/gone")["data"]
    assert again["client_id"] != first and again["cached"] is False
    probe(emulator, again["access_token"])
