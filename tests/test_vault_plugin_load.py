# ruff: noqa: F811 - pytest fixtures imported from tests.vault_fixtures are used as parameters
"""A small, bounded version of the bench's load (bench/vault_plugin_bench.py --load) as a
correctness test over real OpenBao: concurrent token/NAME reads over several roles and mounts
with hvac and httpx clients give no error and leave no lease; every role's readers share its
one cached token. Never timed (the figures are the bench's)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.vault_fixtures import Bao, bao_registered, bao_server, manager_config  # noqa: F401
from tests.vault_load import count_leases, run_load

pytestmark = pytest.mark.bao

MOUNTS = ("vgs-load-a", "vgs-load-b", "vgs-load-c")
ROLES = tuple(f"r{i}" for i in range(5))


def test_concurrent_token_reads_over_roles_and_mounts_leave_no_lease(bao_registered: Bao, emulator: Any):
    client = bao_registered.hvac()
    try:
        for mount in MOUNTS:
            bao_registered.enable(mount)
            client.write_data(f"{mount}/config", data=manager_config(emulator))
            for role in ROLES:
                client.write_data(f"{mount}/roles/{role}", data={"scopes": "cards:read", "token_lifespan": "20m"})
        paths = [f"{m}/token/{r}" for m in MOUNTS for r in ROLES]
        result = run_load(bao_registered.addr, bao_registered.token, paths, total=300, concurrency=8,
                          collect_tokens=True)  # fmt: skip
        assert result.errors == []
        assert len(result.latencies_ms) == 300
        assert result.reads["hvac"] > 0 and result.reads["httpx"] > 0, "both clients took part"
        assert {p: len(t) for p, t in result.tokens.items()} == dict.fromkeys(paths, 1), "one cached token per role"
        assert len(set().union(*result.tokens.values())) == len(paths), "each role and mount has its own"
        assert sum(count_leases(bao_registered.addr, bao_registered.token, f"{m}/") for m in MOUNTS) == 0
    finally:
        for mount in MOUNTS:
            bao_registered.cli("secrets", "disable", mount)
