"""rotation.vgs.TokenCache: a manager token minted once and reused while it has life left,
keyed by the manager secret's version, dropped on a 401; in the rotation (steps and warm
Lambda invocations). Against the emulator (and moto's server) over real HTTP."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from rotation.vgs import (
    AccountsClient,
    ClientCredentials,
    RetryPolicy,
    Secret,
    TokenCache,
    TokenClient,
    VGSHttp,
)
from tests.helpers import LambdaContext, VirtualClock, assert_completed
from tests.rotation_harness import make_world, sm, start_rotation

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def _manager(emu: Any) -> ClientCredentials:
    return ClientCredentials(emu.bootstrap["client_id"], Secret(emu.bootstrap["client_secret"]))


def _mints(emu: Any) -> int:
    return int(emu.request_counts.get("token", 0))


# -- the cache on its own, on a virtual clock shared with the emulator ------------------------


@pytest.fixture
def vgs_clock(running: Any) -> Any:
    emu, clock = running
    emu.reset()
    clock.reset()
    return emu, clock


def _client(emu: Any, clock: VirtualClock) -> TokenClient:
    http = VGSHttp(timeout=5.0, retry=RetryPolicy(sleep=clock.sleep, clock=clock, now=clock))
    return TokenClient(emu.bootstrap["token_url"], http=http, clock=clock)


def test_reused_until_the_margin_then_minted_again(vgs_clock):
    emu, clock = vgs_clock
    tokens, manager = _client(emu, clock), _manager(emu)
    cache = TokenCache(margin=60, clock=clock)
    before = _mints(emu)
    first = cache.token(tokens, manager, version="arn:m@v1")
    life = first.expires_in
    clock.advance(life - 61)  # 61 s left: more than the margin
    assert cache.token(tokens, manager, version="arn:m@v1") is first
    assert _mints(emu) - before == 1
    clock.advance(2)  # 59 s left: inside the margin, never handed out again
    second = cache.token(tokens, manager, version="arn:m@v1")
    assert second is not first
    assert second.remaining(clock()) > life - 1
    assert _mints(emu) - before == 2
    # a caller that needs the token for longer (a Lambda step with 300 s left) gets a new one
    clock.advance(life - 200)
    assert cache.token(tokens, manager, version="arn:m@v1", min_life=300) is not second
    assert _mints(emu) - before == 3


def test_a_different_manager_version_never_reuses(vgs_clock):
    emu, clock = vgs_clock
    tokens, manager = _client(emu, clock), _manager(emu)
    cache = TokenCache(clock=clock)
    before = _mints(emu)
    v1 = cache.token(tokens, manager, version="arn:m@v1")
    v2 = cache.token(tokens, manager, version="arn:m@v2")  # same client id and secret, new version
    assert v2 is not v1
    assert _mints(emu) - before == 2
    assert cache.token(tokens, manager, version="arn:m@v2") is v2
    other_scope = cache.token(tokens, manager, version="arn:m@v2", scope="cards:read")
    assert other_scope is not v2
    with pytest.raises(ValueError, match="version"):
        cache.token(tokens, manager, version="")


def test_a_401_drops_the_token_and_mints_again(vgs_clock):
    emu, clock = vgs_clock
    tokens, manager = _client(emu, clock), _manager(emu)
    cache = TokenCache(clock=clock)
    auth = cache.auth(tokens, manager, version="arn:m@v1")
    accounts = AccountsClient(emu.bootstrap["accounts_url"], emu.bootstrap["organization_id"], auth=auth,
                              http=tokens.http)  # fmt: skip
    accounts.list()
    refused = auth.token()
    before = _mints(emu)
    emu.faults.inject("accounts.list", status=401, count=1)  # VGS revoked or no longer accepts it
    accounts.list()  # retried once with a new token
    assert _mints(emu) - before == 1
    assert auth.token() is not refused
    accounts.list()
    assert _mints(emu) - before == 1  # the new one is reused


def test_concurrent_callers_share_one_mint(vgs_clock):
    emu, clock = vgs_clock
    tokens, manager = _client(emu, clock), _manager(emu)
    cache = TokenCache(clock=clock)
    before = _mints(emu)
    start = threading.Barrier(8)
    got: list[Any] = []

    def call() -> None:
        start.wait()
        got.append(cache.token(tokens, manager, version="arn:m@v1"))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _mints(emu) - before == 1
    assert len({id(t) for t in got}) == 1


def test_bounded_and_holds_no_secret_in_repr(vgs_clock):
    emu, clock = vgs_clock
    tokens, manager = _client(emu, clock), _manager(emu)
    cache = TokenCache(clock=clock, max_entries=2)
    minted = [cache.token(tokens, manager, version=f"arn:m@v{i}") for i in range(4)]
    assert len(cache) == 2
    text = repr(cache) + repr(cache.auth(tokens, manager, version="arn:m@v9"))
    assert minted[0].access_token.reveal() not in text and manager.client_secret.reveal() not in text


# -- in the rotation: across steps, and across invocations of a warm Lambda -----------------


def _lambda_rotation(world: Any) -> str:
    from rotation.lambda_rotation import handler

    token = start_rotation(world.secret_arn)
    for step in STEPS:
        handler({"Step": step, "SecretId": world.secret_arn, "ClientRequestToken": token}, LambdaContext())
    assert_completed(world.stages(), token)
    return token


def test_a_warm_lambda_mints_the_manager_token_once(emulator, moto_url, capsys):
    """First rotation: one manager token for all steps; second rotation in the same
    container: none (the pending credential's own token is minted by testSecret each time).
    A new version of the manager secret is never served the old token."""
    world = make_world(emulator)  # CMP probe on (the document's default)

    def rotation_calls() -> tuple[int, int]:
        before = emulator.request_counts
        _lambda_rotation(world)
        after = emulator.request_counts
        return after["token"] - before["token"], sum(after.values()) - sum(before.values())

    mints, calls = rotation_calls()
    assert mints == 2  # the manager's, the pending credential's
    assert calls <= 6
    mints, calls = rotation_calls()
    assert mints == 1  # only the pending credential's
    assert calls <= 6

    manager = sm().get_secret_value(SecretId=world.manager_arn)["SecretString"]
    sm().put_secret_value(SecretId=world.manager_arn, SecretString=manager)  # same content, new version
    mints, _ = rotation_calls()
    assert mints == 2  # the new version's credentials minted anew
    capsys.readouterr()


def test_test_secret_needs_no_manager(emulator, moto_url):
    """testSecret tests the pending credential alone: it reads no manager secret, even a
    broken one, and mints no manager token."""
    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    world.run(token, ("createSecret", "setSecret"))
    sm().put_secret_value(SecretId=world.manager_arn, SecretString="not json")
    before = emulator.request_counts.get("token", 0)
    world.budget.log.clear()
    world.run(token, ("testSecret",))
    assert emulator.request_counts.get("token", 0) - before == 1  # the pending credential's
    assert [c for c in world.budget.log if c.startswith("aws:")] == ["aws:describe_secret", "aws:get_secret_value"]


# -- in the Vault engine: the manager's token survives the clients' rebuilds -----------------


def test_the_vault_engine_reuses_the_manager_token_across_client_rebuilds(emulator):
    import asyncio

    from vault_plugin.backend import VGSBackend
    from vault_plugin.storage import MemoryStorage

    boot = emulator.bootstrap
    config = {
        "client_id": boot["client_id"], "client_secret": boot["client_secret"],
        "organization_id": boot["organization_id"], "token_url": boot["token_url"],
        "accounts_url": boot["accounts_url"], "vault_management_url": boot["vault_management_url"],
        "allow_insecure_http": True,
    }  # fmt: skip

    async def scenario() -> list[int]:
        backend = VGSBackend()
        storage = MemoryStorage()
        await backend.setup(storage, None, {}, "mount-1")  # type: ignore[arg-type]
        await storage.put("config", config)
        mints = []
        for _ in range(3):  # the config is re-read (an invalidation, a replication event): new clients
            clients = await backend.clients()
            await asyncio.to_thread(clients.accounts.list)
            mints.append(emulator.request_counts["token"])
            backend.invalidate("config")
        # new manager credentials (rotate-root): a new token, never the old one
        made = await asyncio.to_thread((await backend.clients()).accounts.create, name="mgr2",
                                       scopes=["service-accounts:write"])  # fmt: skip
        await storage.put("config", {**config, "client_id": made.client_id,
                                     "client_secret": made.client_secret.reveal()})  # fmt: skip
        backend.invalidate("config")
        clients = await backend.clients()
        await asyncio.to_thread(clients.accounts.list)
        mints.append(emulator.request_counts["token"])
        await backend.cleanup()
        return mints

    first, second, third, rotated = asyncio.run(scenario())
    assert first == second == third  # one mint for the three client sets
    assert rotated == third + 1
