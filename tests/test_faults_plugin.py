"""The Vault plugin's rotate-root, static roles, creds/ leases and token/ under fault
schedules, its bad-field requests, and regressions found by the schedules. The engine runs
in-process over in-memory storage (a crash = a new engine on the same storage); VGS is the
emulator on a virtual clock shared with the engine, in-process or over loopback HTTP. The
same schedules on a real OpenBao: tests/test_faults_plugin_bao.py."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rotation.emulator import Emulator
from tests.emulator_fixtures import running_emulator
from tests.faults import firing
from tests.faults.inproc import InProcTransport
from tests.faults.plugin_oracle import token_owner
from tests.faults.plugin_schedules import ROLE, PluginSchedule
from tests.faults.schedules import Crash
from tests.faults.vgs_gate import Gate
from vault_plugin.framework import ErrorKind, LeaseInfo, LogicalError, Operation, Request


@pytest.fixture(scope="module")
def vemu() -> Iterator[Emulator]:
    """The emulator on a virtual clock (shared with the engine by the schedules), bound to loopback."""
    with running_emulator() as (emu, _clock):
        yield emu


@pytest.mark.parametrize("block", range(2))
def test_plugin_schedules_in_process(block, vemu, leak_check):
    stats: Counter[str] = Counter()
    for seed in range(block * 25, (block + 1) * 25):
        vemu.reset()
        schedule = PluginSchedule(seed, vemu, InProcTransport(vemu))
        result = schedule.run()
        assert not result.violations, result.describe()
        leak_check(*schedule.secrets)
        stats.update(result.stats)
    # every kind of fault fired in the block (fired, not merely planned)
    assert firing.never_fired(stats, firing.PLUGIN_KINDS) == [], firing.per_kind(stats)


@pytest.mark.parametrize("seed", range(1000, 1006))
def test_plugin_schedule_over_http(seed, vemu, leak_check):
    vemu.reset()
    schedule = PluginSchedule(seed, vemu, httpx.HTTPTransport())
    result = schedule.run()
    assert not result.violations, result.describe()
    assert result.stats["tokens_served"] and result.stats["leases_issued"] and result.stats["revocations"]
    leak_check(*schedule.secrets)


def test_an_exception_in_periodic_work_is_a_violation(vemu, monkeypatch):
    """Periodic work swallows its failures (the host's rollback must not fail), so the
    schedules see them through the ERROR marker: a bug there is a violation, not a warning."""
    import vault_plugin.paths.creds as creds

    async def broken(b: Any) -> None:
        raise KeyError("issued_at")

    monkeypatch.setattr(creds, "tidy", broken)
    vemu.reset()
    result = PluginSchedule(7, vemu, InProcTransport(vemu)).run()
    assert any("unexpected exception(s) in periodic work" in v for v in result.violations), result.describe()


# -- regressions ------------------------------------------------------------------------------


def _engine(emulator) -> PluginSchedule:
    emulator.reset()
    s = PluginSchedule(0, emulator, InProcTransport(emulator))
    s.start()
    boot = emulator.bootstrap
    config = {k: boot[k] for k in ("client_id", "client_secret", "organization_id", "token_url", "accounts_url",
                                   "vault_management_url")}  # fmt: skip
    assert s.request(Operation.UPDATE, "config", config)
    assert s.request(Operation.UPDATE, f"static-roles/{ROLE}", {"scopes": "cards:read", "rotation_period": 3600})
    return s


def _crash_after(s: PluginSchedule, what: str) -> None:
    """The next external call named ``what`` kills the engine right after it returns."""
    real = s.calls.after

    def after(name: str, *, store: bool = False) -> None:
        real(name, store=store)
        if name == what:
            s.calls.after = real  # type: ignore[method-assign]
            raise Crash(f"crash after {what}")

    s.calls.after = after  # type: ignore[method-assign]


def _role(s: PluginSchedule) -> dict[str, Any]:
    return json.loads(s.storage.data[f"static-roles/{ROLE}"])


def _present(emulator) -> set[str]:
    return {a["client_id"] for a in emulator.service_accounts()}


def test_static_rollback_keeps_the_previous_account_a_later_rotation_made_of_it(emulator):
    """rotate-role stored its new account and died before removing its WAL entry; another
    rotation completed (the crashed one's account became the role's previous). The WAL
    rollback used to see "current not made by me: undo" and deleted that account inside
    its overlap window, breaking every consumer still on it."""
    s = _engine(emulator)
    _crash_after(s, "storage:put static-roles")
    assert not s.request(Operation.UPDATE, f"rotate-role/{ROLE}")
    crashed_account = _role(s)["current"]["client_id"]
    assert s.request(Operation.UPDATE, f"rotate-role/{ROLE}")
    assert _role(s)["previous"]["client_id"] == crashed_account
    s.clock.advance(600)
    assert s.request(Operation.UPDATE, "tidy")
    role = _role(s)
    assert {role["current"]["client_id"], role["previous"]["client_id"]} <= _present(emulator)
    assert not [k for k in s.storage.data if k.startswith("wal/")]
    s.stop()


def test_root_rollback_deletes_the_replaced_manager_after_a_later_rotation(emulator):
    """rotate-root stored the new manager and died before deleting the old one; a second
    rotate-root then completed. The WAL rollback saw "configured manager not made by me:
    undo", deleted nothing, and the original manager account stayed live for good: the
    credential the operator rotated away still worked."""
    s = _engine(emulator)
    original = emulator.bootstrap["client_id"]
    _crash_after(s, "storage:put config")
    assert not s.request(Operation.UPDATE, "config/rotate-root")
    assert s.request(Operation.UPDATE, "config/rotate-root")
    s.clock.advance(600)
    assert s.request(Operation.UPDATE, "tidy")
    assert original not in _present(emulator)
    current = json.loads(s.storage.data["config"])
    assert current["client_id"] in _present(emulator)
    assert s.mints(current["client_id"], current["client_secret"]) is None
    assert not [k for k in s.storage.data if k.startswith("wal/")]
    s.stop()


@pytest.mark.parametrize("path", ["creds/dyn1", "token/tok1"])
def test_tidy_keeps_an_account_made_while_it_lists_vgs(vemu, path):
    """Found on a real OpenBao (bench/plugin_bao_bench.py, seeds 82, 172, 181): tidy read the
    engine's lease records and token accounts, then listed VGS; a creds/ or token/ read that
    created and recorded its account in between looked unrecorded and no longer in flight,
    and tidy deleted it, under a running lease or as the role's current account. Only the
    orphans' minimum age hid it, and VGS need not report when an account was created."""
    vemu.reset()
    s = PluginSchedule(0, vemu, InProcTransport(vemu))
    assert s.setup()
    assert s.backend is not None and s.loop is not None
    s.backend.orphan_min_age = 0
    router = s.backend.router
    gate = Gate(vemu)
    hold = gate.hold("accounts.list", 1, "before")  # tidy's look at VGS, after it read its records

    async def read_while_tidy_waits() -> Any:
        await asyncio.to_thread(hold.reached.wait, 30)
        try:
            return await router.handle(Request(Operation.READ, path))
        finally:
            hold.release.set()

    async def both() -> list[Any]:
        return await asyncio.gather(router.handle(Request(Operation.UPDATE, "tidy")), read_while_tidy_waits())

    try:
        _, out = s.loop.run_until_complete(both())
    finally:
        gate.close()
    made = out.data["client_id"] if path.startswith("creds/") else token_owner(out.data["access_token"])
    assert made in _present(vemu), "tidy deleted an account it had not seen being made"
    s.stop()


def test_tidy_keeps_a_creds_account_whose_lease_is_not_recorded_yet(vemu):
    """A creds/ read has created its account at VGS and waits for VGS's answer (its lease is
    not recorded yet) when tidy lists VGS: the account is in flight, not an orphan. Deleting
    it would hand the caller a lease whose account is already gone."""
    vemu.reset()
    s = PluginSchedule(0, vemu, InProcTransport(vemu))
    assert s.setup()
    assert s.backend is not None and s.loop is not None
    s.backend.orphan_min_age = 0
    router = s.backend.router
    gate = Gate(vemu)
    hold = gate.hold("accounts.create", 1, "after")  # made at VGS, the answer not yet sent

    async def tidy_while_the_read_waits() -> Any:
        await asyncio.to_thread(hold.reached.wait, 30)
        try:
            return await router.handle(Request(Operation.UPDATE, "tidy"))
        finally:
            hold.release.set()

    async def both() -> list[Any]:
        return await asyncio.gather(router.handle(Request(Operation.READ, "creds/dyn1")), tidy_while_the_read_waits())

    try:
        out, _ = s.loop.run_until_complete(both())
    finally:
        gate.close()
    assert hold.reached.is_set()
    assert out.data["client_id"] in _present(vemu), "tidy deleted the account of a lease being issued"
    s.stop()


def test_a_creds_lease_does_not_renew_past_its_role_max_ttl(vemu):
    """The role's max_ttl is the engine's to enforce (the host knows only the mount's limits):
    a renewal at or past it is refused, and one before it is cut to what is left."""
    vemu.reset()
    s = PluginSchedule(0, vemu, InProcTransport(vemu))
    assert s.setup()
    assert s.backend is not None and s.loop is not None
    router = s.backend.router
    s.loop.run_until_complete(
        router.handle(Request(Operation.UPDATE, "roles/short", {"scopes": "cards:read", "ttl": 60, "max_ttl": 300}))
    )
    issued = s.loop.run_until_complete(router.handle(Request(Operation.READ, "creds/short")))
    assert issued is not None and issued.secret is not None and issued.secret.max_ttl == 300

    def renew(increment: float) -> Any:
        info = LeaseInfo(dict(issued.secret.internal_data, secret_type=issued.secret.secret_type), ttl=60, increment=increment,
                         issue_time=issued.secret.issue_time)  # fmt: skip
        return s.loop.run_until_complete(router.handle(Request(Operation.RENEW, "creds/short", secret=info)))

    s.clock.advance(200)
    cut = renew(3600)
    assert cut is not None and cut.secret is not None and cut.secret.ttl == pytest.approx(100, abs=1)
    s.clock.advance(100)
    with pytest.raises(LogicalError, match="max_ttl"):
        renew(60)
    s.stop()


# -- bad fields: a clear error, zero writes ------------------------------------------------------

BAD = [
    (Operation.UPDATE, "config", {"client_id": ""}, "client_id"),
    (Operation.UPDATE, "config", {"client_secret": ["x"]}, "client_secret"),
    (Operation.UPDATE, "config", {"token_url": "http://auth.example.com/token"}, "token_url"),
    (Operation.UPDATE, "config", {"accounts_url": "ftp://accounts.example.com"}, "accounts_url"),
    (Operation.UPDATE, "config", {"vault_management_url": "https://"}, "vault_management_url"),
    (Operation.UPDATE, "config", {"allow_insecure_http": "maybe"}, "allow_insecure_http"),
    (Operation.UPDATE, "config", {"client_secret": "wrong-secret-0123456789"}, "refused"),
    (Operation.UPDATE, "config", {"colour": "blue"}, "unknown field"),
    (Operation.UPDATE, "config/rotate-root", {"scopes": 5}, "scopes"),
    (Operation.UPDATE, "config/rotate-root", {"crash_at": "after-create"}, "unknown field"),
    (Operation.UPDATE, "roles/r1", {}, "scopes"),
    (Operation.UPDATE, "roles/r1", {"scopes": "cards:read", "token_lifespan": 10}, "token_lifespan"),
    (Operation.UPDATE, "roles/r1", {"scopes": "cards:read", "ttl": "soon"}, "ttl"),
    (Operation.UPDATE, "roles/r1", {"scopes": "cards:read", "max_ttl": -5}, "max_ttl"),
    (Operation.UPDATE, "roles/-bad", {"scopes": "cards:read"}, "unsupported path"),
    (Operation.UPDATE, "roles/" + "x" * 100, {"scopes": "cards:read"}, "unsupported path"),
    (Operation.UPDATE, f"static-roles/{ROLE}", {"rotation_period": 5}, "rotation_period"),
    (Operation.UPDATE, "static-roles/s2", {}, "scopes"),
    (Operation.UPDATE, "static-roles/s2", {"scopes": "cards:read", "token_lifespan": 30}, "token_lifespan"),
    (Operation.UPDATE, "static-roles/s2", {"scopes": {"a": 1}}, "scopes"),
    (Operation.UPDATE, "rotate-role/nope", {}, "does not exist"),
    (Operation.READ, "static-creds/nope", {}, "does not exist"),
    (Operation.READ, "token/nope", {}, "does not exist"),
    (Operation.READ, "creds/nope", {}, "does not exist"),
    (Operation.UPDATE, "tidy", {"advance_clock": "1h"}, "unknown field"),
    (Operation.DELETE, "config/rotate-root", {}, "not supported"),
    (Operation.UPDATE, "nowhere", {}, "unsupported path"),
]


@pytest.mark.parametrize("op, path, data, says", BAD, ids=[f"{o.value} {p} {d}"[:60] for o, p, d, _ in BAD])
def test_bad_vault_requests_write_nothing(op, path, data, says, emulator):
    s = _engine(emulator)
    storage_before = dict(s.storage.data)
    accounts_before = _present(emulator)
    counts = emulator.request_counts
    assert s.backend is not None and s.loop is not None
    with pytest.raises(LogicalError) as info:
        s.loop.run_until_complete(s.backend.router.handle(Request(op, path, data)))
    assert info.value.kind in (ErrorKind.BAD_REQUEST, ErrorKind.UNSUPPORTED_OPERATION)
    assert says in str(info.value), str(info.value)
    assert emulator.bootstrap["client_secret"] not in str(info.value)
    assert s.storage.data == storage_before
    assert _present(emulator) == accounts_before
    after = emulator.request_counts
    for route in ("accounts.create", "accounts.delete", "accounts.update"):
        assert after[route] == counts[route], route
    s.stop()
