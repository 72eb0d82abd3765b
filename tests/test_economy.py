"""The call budget of a happy-path rotation (issue 13): Secrets Manager calls per step, counted
at the store against moto's server, and VGS calls counted at the emulator. A step that starts
reading twice again fails here; ``bench/rotation_bench.py`` prints the same figures."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import assert_completed
from tests.rotation_harness import make_world, start_rotation

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# AWS's multi-user template makes 14 calls on the same work; this project 13.
BUDGET = {"createSecret": 5, "setSecret": 1, "testSecret": 2, "finishSecret": 5}


def _rotate_counting(world) -> tuple[dict[str, Counter[str]], Counter[str]]:
    token = start_rotation(world.secret_arn)  # RotateSecret's first act: AWSPENDING, no value
    rot = world.rotation()  # one factory: the manager's token is shared by the steps
    per_step: dict[str, Counter[str]] = {}
    before = world.emulator.request_counts
    for step in STEPS:
        world.budget.log.clear()
        rot.handle({"Step": step, "SecretId": world.secret_arn, "ClientRequestToken": token})
        per_step[step] = Counter(c.removeprefix("aws:") for c in world.budget.log if c.startswith("aws:"))
    after = world.emulator.request_counts
    assert_completed(world.stages(), token)
    return per_step, Counter({k: after[k] - before[k] for k in after if after[k] - before[k]})


@pytest.mark.parametrize("kind", ["service-account", "access-credentials"])
def test_secrets_manager_calls_per_step(emulator, moto_url, kind):
    world = make_world(emulator, kind=kind)
    for n in (1, 2):  # the first rotation (no AWSPREVIOUS yet) and a later one
        per_step, _ = _rotate_counting(world)
        assert {step: sum(calls.values()) for step, calls in per_step.items()} == BUDGET, (n, per_step)
        writes = sum(n for calls in per_step.values() for op, n in calls.items() if op != "describe_secret"
                     and op != "get_secret_value")  # fmt: skip
        assert writes == 2  # PutSecretValue, and AWSCURRENT's move; AWSPENDING stays on it


def test_vgs_calls_per_rotation_with_the_cmp_probe(emulator, moto_url):
    """One manager token per rotation; a later rotation also deletes what leaves the overlap."""
    world = make_world(emulator)
    assert world.document().test.cmp_probe
    _, first = _rotate_counting(world)
    assert first == {"token": 2, "accounts.list": 2, "accounts.create": 1, "cmp.card": 1}
    _, later = _rotate_counting(world)  # a new Rotation (a cold container): the manager token again
    assert later == {"token": 2, "accounts.list": 2, "accounts.create": 1, "cmp.card": 1, "accounts.delete": 1}


@pytest.mark.parametrize("kind", ["service-account", "access-credentials"])
def test_a_retried_create_whose_value_is_stored_costs_two_reads_and_nothing_at_vgs(emulator, moto_url, kind):
    """Secrets Manager retries createSecret (a timeout, a second delivery): once AWSPENDING
    holds this token's value, the retry reads the stages and that value and stops. It makes
    no VGS call (no token, no listing: VGS's rate limits are shared by every secret)."""
    world = make_world(emulator, kind=kind)
    token = start_rotation(world.secret_arn)
    rot = world.rotation()
    event = {"Step": "createSecret", "SecretId": world.secret_arn, "ClientRequestToken": token}
    rot.handle(event)
    stored = world.document("AWSPENDING")
    world.budget.log.clear()
    before = world.emulator.request_counts
    rot.handle(event)
    after = world.emulator.request_counts
    assert Counter(c.removeprefix("aws:") for c in world.budget.log) == {"describe_secret": 1, "get_secret_value": 1}
    assert {k: after[k] - before[k] for k in after if after[k] - before[k]} == {}
    assert world.document("AWSPENDING").credential_ref == stored.credential_ref
