"""The doubles keep AWS's documented semantics, and the schedules' oracle sees what the
product's own bookkeeping would hide (tests/faults/memstore.py, tests/faults/oracle.py).

- RotateSecret is refused while AWSPENDING sits on a version other than AWSCURRENT, in the
  memory store and in the moto harness (moto's own check is inverted); the reattempt with
  the same token and ``vgs-rotate status --repair`` are what unblock it;
- RemoveFromVersionId naming a version without the label is refused;
- unlabelled versions past 100 are pruned;
- every PutSecretValue's RotationToken is recorded (memory store; moto through a botocore
  hook on the test client), and the schedules fail a rotation that drops it;
- with annotations removed from every created credential, the schedules report violations
  (the oracle does not read annotations); the unchanged product reports none.
"""

from __future__ import annotations

import json

import pytest

from rotation.core import STEPS, Rotation
from rotation.issuers import default_issuer_factory
from rotation.status import repair
from rotation.stores import CURRENT, PENDING, PREVIOUS, StoreError
from tests.faults.backends import MemoryBackend
from tests.faults.memstore import MAX_VERSIONS, MemorySecretStore
from tests.faults.oracle import credential_ref, versions
from tests.faults.schedules import Schedule

# Schedules whose end state shows unreferenced live credentials once annotations are gone
# (measured: 8 of seeds 0-199 with the schedules of this commit).
NO_ANNOTATION_SEEDS = (19, 67, 90)


def _stuck(store: MemorySecretStore) -> tuple[str, str]:
    arn = store.create_secret("s", "{}")
    token = store.start_rotation(arn, "t1")
    store.put_pending(arn, token, '{"v": 1}')
    return arn, token


def test_rotate_secret_is_refused_while_pending_is_elsewhere():
    store = MemorySecretStore()
    arn, token = _stuck(store)
    with pytest.raises(StoreError) as err:
        store.start_rotation(arn, "t2")
    assert err.value.code == "InvalidRequestException"
    assert store.start_rotation(arn, token) == token  # the same request again: accepted, no change
    # the reattempt with the same token completes the rotation: AWSPENDING on AWSCURRENT
    current = store.describe(arn).version_with(CURRENT)
    store.move_stage(arn, CURRENT, to_version=token, from_version=current)
    assert store.start_rotation(arn, "t2") == "t2"
    assert store.describe(arn).stages_of(token) == (CURRENT,)


def test_remove_from_version_without_the_label_is_refused():
    store = MemorySecretStore()
    arn, token = _stuck(store)
    current = store.describe(arn).version_with(CURRENT)
    with pytest.raises(StoreError) as err:
        store.move_stage(arn, PENDING, to_version=None, from_version=current)
    assert err.value.code == "InvalidParameterException"
    with pytest.raises(StoreError):
        store.move_stage(arn, CURRENT, to_version=token, from_version=token)
    store.move_stage(arn, PENDING, to_version=None, from_version=token)  # the one that holds it: accepted
    assert store.describe(arn).version_with(PENDING) is None


def test_put_with_an_existing_token_and_another_value_is_refused():
    store = MemorySecretStore()
    arn, token = _stuck(store)
    store.put_pending(arn, token, '{"v": 1}')  # same value: a no-op
    with pytest.raises(StoreError) as err:
        store.put_pending(arn, token, '{"v": 2}')
    assert err.value.code == "ResourceExistsException"


def test_unlabelled_versions_past_the_limit_are_pruned():
    store = MemorySecretStore()
    arn = store.create_secret("s", "v0")
    for n in range(MAX_VERSIONS + 20):
        store.put_value(arn, f"v{n + 1}")
    values = store.values(arn)
    assert len(values) == MAX_VERSIONS
    assert "v0" not in values.values() and f"v{MAX_VERSIONS + 20}" in values.values()
    desc = store.describe(arn)
    assert desc.version_with(CURRENT) and desc.version_with(PREVIOUS)


def test_rotation_token_is_recorded_per_put():
    store = MemorySecretStore()
    arn = store.create_secret("s", "{}")
    store.start_rotation(arn, "t1")
    store.put_pending(arn, "t1", "x", rotation_token="rt-1")
    assert [(r.version_id, r.rotation_token) for r in store.put_log] == [("t1", "rt-1")]
    assert "rt-1" not in repr(store.put_log)


def test_moto_harness_refuses_rotate_secret_and_records_rotation_tokens(emulator, moto_url):
    """moto's rotate_secret refuses when AWSPENDING is *on* AWSCURRENT (inverted); the
    harness applies AWS's rule. moto ignores RotationToken; the test client records it."""
    from tests.rotation_harness import PUT_LOG, RotationInProgress, make_world, start_rotation

    world = make_world(emulator)
    token = start_rotation(world.secret_arn)
    with pytest.raises(RotationInProgress):
        start_rotation(world.secret_arn)
    before = len(PUT_LOG)
    world.rotation().handle(
        {
            "Step": "createSecret",
            "SecretId": world.secret_arn,
            "ClientRequestToken": token,
            "RotationToken": "rt-" + "x" * 60,
        }
    )
    assert PUT_LOG[before:] == [(world.secret_arn, token, "rt-" + "x" * 60)]
    # status --repair clears the stuck label (and the credential behind it): RotateSecret works again
    repair(world.rotation().store, default_issuer_factory(), world.secret_arn)
    start_rotation(world.secret_arn)


def test_repair_unblocks_rotate_secret_in_the_memory_store(emulator):
    backend = MemoryBackend(emulator)
    emulator.reset()
    schedule = Schedule(1, backend)
    schedule.setup()
    arn = schedule.arn
    backend.start_rotation(arn, "t1")
    rot = Rotation(backend.store, default_issuer_factory())
    rot.handle({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": "t1"})
    with pytest.raises(StoreError):
        backend.start_rotation(arn, "t2")
    pending = credential_ref(schedule.kind, backend.store.get_value(arn, version_id="t1"))
    repair(backend.store, default_issuer_factory(), arn)
    backend.start_rotation(arn, "t2")
    assert pending not in {a["client_id"] for a in emulator.service_accounts()} | {
        c["id"] for c in emulator.access_credentials()
    }
    for step in STEPS:
        rot.handle({"Step": step, "SecretId": arn, "ClientRequestToken": "t2"})
    found = versions(schedule.kind, backend.end_state(arn))
    assert found.pending is None and found.current != pending


def _violations(emulator, seeds) -> list[str]:
    backend = MemoryBackend(emulator)
    out = []
    for seed in seeds:
        backend.reset()
        emulator.reset()
        out += Schedule(seed, backend).run().violations
    return out


def test_the_oracle_sees_credentials_without_annotations(emulator, monkeypatch):
    """The mutant "no annotations" (every created credential untagged): the product can no
    longer find its leftovers, and the oracle, which never reads annotations, reports them."""
    assert _violations(emulator, NO_ANNOTATION_SEEDS) == []
    import rotation.issuers

    monkeypatch.setattr(rotation.issuers._Base, "annotations", lambda self, rotation: {})
    found = _violations(emulator, NO_ANNOTATION_SEEDS)
    assert len(found) >= len(NO_ANNOTATION_SEEDS)
    assert all("no version of any secret references" in v for v in found), found


def test_the_schedules_fail_a_rotation_that_drops_its_rotation_token(emulator, monkeypatch):
    """The mutant "RotationToken dropped" in the product's createSecret."""
    from rotation import core

    original = core.Rotation.create_secret

    def dropping(self, ev):
        return original(self, core.RotationEvent(ev.step, ev.secret_id, ev.token, None))

    seeds = range(6)
    assert _violations(emulator, seeds) == []
    monkeypatch.setattr(core.Rotation, "create_secret", dropping)
    found = _violations(emulator, seeds)
    assert any("without the event's RotationToken" in v for v in found), found


def test_oracle_reads_refs_with_json_only():
    assert credential_ref("service-account", json.dumps({"client_id": "a"})) == "a"
    assert credential_ref("access-credentials", json.dumps({"credential_id": "c"})) == "c"
    assert credential_ref("service-account", "not json") is None
