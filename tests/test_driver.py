"""``rotation.driver``: the follower decides success from the secret's state (stages and
value), on a virtual clock over the in-memory store built to AWS's stage rules."""

from __future__ import annotations

import json

import pytest

from rotation.driver import NotConfigured, follow, preflight, verify
from rotation.stores import CURRENT, PENDING
from tests.faults.memstore import MemorySecretStore
from tests.helpers import VirtualClock

MANAGER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf"


def _doc(client_id: str) -> str:
    return json.dumps({
        "kind": "service-account", "client_id": client_id, "client_secret": "s-" + client_id,
        "organization_id": "ACorg", "vault_ids": ["tntabc"], "scopes": ["cards:read"], "name": "app",
        "manager_secret_arn": MANAGER,
    })  # fmt: skip


@pytest.fixture
def world():
    store = MemorySecretStore()
    arn = store.create_secret("vgs/app", _doc("ACorg-app-old"), rotation_enabled=True)
    return store, arn


def _current(store, arn) -> str:
    version = store.describe(arn).version_with(CURRENT)
    assert version is not None
    return version


def _finish(store, arn, token, *, keep_pending: bool) -> None:
    """What a successful rotation function leaves: AWSCURRENT on the new version, and
    AWSPENDING either removed or (as AWS documents it may be) still on it."""
    store.put_pending(arn, token, _doc("ACorg-app-new"))
    store.move_stage(arn, CURRENT, to_version=token, from_version=_current(store, arn))
    if not keep_pending:
        store.move_stage(arn, PENDING, to_version=None, from_version=token)


@pytest.mark.parametrize("keep_pending", [False, True])
def test_success_whether_or_not_awspending_stays_on_the_current_version(world, keep_pending):
    store, arn = world
    token = store.start_rotation(arn, "t-1")
    _finish(store, arn, token, keep_pending=keep_pending)
    clock = VirtualClock()
    result = follow(store, arn, token, before="ACorg-app-old", sleep=clock.sleep, clock=clock)
    assert result.succeeded, result.detail
    assert result.credential == "ACorg-app-new"


def test_a_label_on_an_empty_version_is_a_failure(world):
    store, arn = world
    token = store.start_rotation(arn, "t-1")
    store.move_stage(arn, CURRENT, to_version=token, from_version=_current(store, arn))
    result = verify(store, arn, token, before="ACorg-app-old")
    assert not result.succeeded and "has no value" in result.detail


def test_the_same_credential_again_is_not_a_rotation(world):
    store, arn = world
    token = store.start_rotation(arn, "t-1")
    store.put_pending(arn, token, _doc("ACorg-app-old"))
    store.move_stage(arn, CURRENT, to_version=token, from_version=_current(store, arn))
    result = verify(store, arn, token, before="ACorg-app-old")
    assert not result.succeeded and "nothing was rotated" in result.detail


def test_another_version_made_current_is_a_failure(world):
    store, arn = world
    old = _current(store, arn)
    token = store.start_rotation(arn, "t-1")
    store.put_value(arn, _doc("ACorg-app-manual"))  # someone writes meanwhile: AWS drops AWSPENDING
    clock = VirtualClock()
    result = follow(store, arn, token, before="ACorg-app-old", previous_current=old, sleep=clock.sleep, clock=clock)
    assert not result.succeeded and "AWSCURRENT moved to version" in result.detail


def test_a_rotation_that_does_not_finish_times_out_on_virtual_time(world):
    store, arn = world
    token = store.start_rotation(arn, "t-1")
    clock = VirtualClock()
    result = follow(store, arn, token, previous_current=None, timeout=30, interval=2, sleep=clock.sleep, clock=clock)
    assert not result.succeeded and "did not finish within 30 s" in result.detail
    assert sum(clock.sleeps) == 30


def test_preflight_names_what_is_missing(world):
    store, arn = world
    store.enable_rotation(arn, False)
    with pytest.raises(NotConfigured) as info:
        preflight(store, arn)
    assert "no rotation function" in str(info.value) and "not enabled" in str(info.value)


def test_losing_awspending_to_another_rotation_is_a_failure(world):
    store, arn = world
    old = _current(store, arn)
    token = store.start_rotation(arn, "t-1")
    # RotateSecret would be refused now (AWSPENDING is on t-1); a PutSecretValue with
    # VersionStages=["AWSPENDING"] (another tool) is not, and takes the label
    ticks = iter([lambda: None, lambda: store.put_pending(arn, "t-2", "{}")])

    def sleep(seconds: float) -> None:
        next(ticks)()

    result = follow(store, arn, token, previous_current=old, sleep=sleep)
    assert not result.succeeded and "another rotation took over AWSPENDING (now on version t-2)" in result.detail
