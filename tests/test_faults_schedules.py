"""Randomized fault schedules through ``Rotation.handle`` (see ``tests/faults/schedules.py``).

Each schedule is a seed: a failure prints the seed, the violated invariants and the action
log; replay it with ``run_schedule(seed, backend)`` or
``python bench/fault_bench.py --seed SEED --schedules 1 --verbose``.
CI runs a bounded number: some against moto's server and the emulator over HTTP, more
against the in-memory store with the emulator in-process (the bench's configuration).
``FAULT_SCHEDULES_SEED`` shifts the seeds (default 0) to explore other schedules.
"""

from __future__ import annotations

import os

import pytest

from tests.faults.backends import MemoryBackend, MotoBackend
from tests.faults.schedules import Schedule
from tests.rotation_harness import sm

BASE = int(os.environ.get("FAULT_SCHEDULES_SEED", "0"))
HTTP_SCHEDULES = 8
MEMORY_SCHEDULES = 120


def _run(seed: int, backend, leak_check) -> Schedule:
    backend.emulator.reset()
    schedule = Schedule(seed, backend)
    result = schedule.run()
    assert not result.violations, result.describe()
    leak_check(*schedule.secrets)
    return schedule


@pytest.mark.parametrize("seed", range(BASE, BASE + HTTP_SCHEDULES))
def test_schedule_over_http(seed, emulator, moto_url, leak_check):
    """moto's Secrets Manager and the emulator over real loopback HTTP; then the CLI's
    status (text and JSON) and a local rotation show the secret without its values."""
    from click.testing import CliRunner

    from rotation.cli import cli
    from tests.helpers import assert_no_secret

    schedule = _run(seed, MotoBackend(emulator), leak_check)
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
    # the schedules exercise what they claim to
    for what in ("crashes", "vgs_faults", "store_throttles", "concurrent_rotations", "late_timeouts"):
        assert stats.get(what, 0) > 0, what


def test_schedules_exercise_every_fault_kind(emulator):
    """A sanity check of the generator: over a few schedules every kind of fault shows up."""
    backend = MemoryBackend(emulator)
    seen: set[str] = set()
    for seed in range(40):
        backend.reset()
        emulator.reset()
        schedule = Schedule(seed, backend)
        schedule.run()
        seen |= {entry.split()[2] for entry in schedule.result.log if entry.startswith("fault ")}
    assert seen >= {"429", "500", "502", "503", "504", "drop", "delay", "late"}


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
