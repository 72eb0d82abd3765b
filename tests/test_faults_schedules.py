"""Randomized fault schedules through ``Rotation.handle`` (see ``tests/faults/schedules.py``).

Each schedule is a seed: a failure prints the seed, the violated invariants and the action
log; replay it with ``run_schedule(seed, backend)`` or
``python bench/fault_bench.py --seed SEED --schedules 1 --verbose``.
CI runs a bounded number: some against moto's server and the emulator over HTTP, more
against the in-memory store with the emulator in-process (the bench's configuration).
``FAULT_SCHEDULES_SEED`` shifts the seeds (default 0) to explore other schedules.
Fault counts are of faults that fired (``tests/faults/firing.py``), not of planned ones.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.faults import firing
from tests.faults.backends import MemoryBackend, MotoBackend
from tests.faults.schedules import Schedule
from tests.rotation_harness import sm

BASE = int(os.environ.get("FAULT_SCHEDULES_SEED", "0"))
HTTP_SCHEDULES = 16
# Seeds 22-37: over them every fault kind fires, a delay past the client's timeout included
# (a real socket timeout over HTTP); test_http_schedules_fire_every_fault_kind fails when a
# change to the schedules' draws makes the window miss a kind (pick another window then).
HTTP_SEEDS = range(BASE + 22, BASE + 22 + HTTP_SCHEDULES)
MEMORY_SCHEDULES = 120
_http_fired: dict[int, Counter[str]] = {}  # seed -> its fired:* stats, from the HTTP runs


def _run(seed: int, backend, leak_check) -> Schedule:
    backend.emulator.reset()
    schedule = Schedule(seed, backend)
    result = schedule.run()
    assert not result.violations, result.describe()
    leak_check(*schedule.secrets)
    return schedule


def _fired(stats: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in stats.items() if k.startswith(firing.FIRED)})


@pytest.mark.parametrize("seed", HTTP_SEEDS)
def test_schedule_over_http(seed, emulator, moto_url, leak_check):
    """moto's Secrets Manager and the emulator over real loopback HTTP; then the CLI's
    status (text and JSON) and a local rotation show the secret without its values."""
    from click.testing import CliRunner

    from rotation.cli import cli
    from tests.helpers import assert_no_secret

    schedule = _run(seed, MotoBackend(emulator), leak_check)
    _http_fired[seed] = _fired(schedule.stats)
    runner = CliRunner()
    outputs = []
    for args in (["status", schedule.arn], ["status", schedule.arn, "--json"], ["rotate", schedule.arn, "--local"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "STUCK" not in outputs[0]
    if schedule.revoke != "never":  # "never" keeps every credential, by design
        assert '"orphans": []' in outputs[1]
    schedule.harvest()
    assert_no_secret("\n".join(outputs), *schedule.secrets, emulator=emulator)


@pytest.mark.parametrize("block", range(4))
def test_schedules_in_memory(block, emulator, leak_check):
    """The in-memory store and the emulator in-process, many more schedules."""
    per = MEMORY_SCHEDULES // 4
    backend = MemoryBackend(emulator)
    stats: dict[str, int] = {}
    for seed in range(BASE + 10_000 + block * per, BASE + 10_000 + (block + 1) * per):
        backend.reset()
        schedule = _run(seed, backend, leak_check)
        for k, v in schedule.stats.items():
            stats[k] = stats.get(k, 0) + v
    # the schedules exercise what they claim to: faults that fired, not merely planned ones
    for kind in ("crash", "store_throttle", "concurrent_rotation", "late", "delay", "client_timeout", "503"):
        assert stats.get(firing.FIRED + kind, 0) > 0, kind


def test_schedules_exercise_every_fault_kind(emulator):
    """Over a few in-memory schedules every kind of fault fires (not only is planned)."""
    backend = MemoryBackend(emulator)
    stats: Counter[str] = Counter()
    for seed in range(40):
        backend.reset()
        emulator.reset()
        stats.update(Schedule(seed, backend).run().stats)
    assert firing.never_fired(stats, firing.ROTATION_KINDS) == []


def test_http_schedules_fire_every_fault_kind(emulator, moto_url):
    """Over the CI's HTTP subset every kind of fault fires, a real client timeout included
    (a delay fault far past the VGS client's read timeout, the emulator sleeping for real).
    Seeds the HTTP tests did not run in this session (``-k``, another worker) run here."""
    if BASE != 0:
        pytest.skip("the subset is chosen for the default seeds; FAULT_SCHEDULES_SEED explores others")
    for seed in HTTP_SEEDS:
        if seed not in _http_fired:
            emulator.reset()
            _http_fired[seed] = _fired(Schedule(seed, MotoBackend(emulator)).run().stats)
    stats = sum(_http_fired.values(), Counter())
    assert firing.never_fired(stats, firing.ROTATION_KINDS) == [], firing.per_kind(stats)
    assert stats[firing.FIRED + "client_timeout"] >= 1


@pytest.mark.parametrize("seed", [3, 7, 19, 37, 41, 58, 63, 77, 90, 105])
def test_memory_store_matches_moto(seed, emulator, moto_url):
    """The same schedule on the in-memory store and on moto's server ends in the same
    versions and stages, the same number of credentials at VGS, the same step outcomes and
    no violations: the bench's store keeps Secrets Manager's stage semantics
    (``bench/fault_bench.py --compare-moto N`` runs more seeds)."""
    from tests.faults.oracle import end_summary

    memory = end_summary(seed, MemoryBackend(emulator))
    assert memory == end_summary(seed, MotoBackend(emulator))
    assert memory[3] == 0
    sm()  # moto's client stays usable
