"""A bounded read load against OpenBao over real HTTP, shared by the CI correctness test
(``tests/test_vault_plugin_load.py``: errors and leases only, never timed) and the bench
(``bench/vault_plugin_bench.py --load``: figures).

Workers are threads; worker ``i`` uses an hvac client or an httpx client (alternating), and
request ``n`` reads ``paths[n % len(paths)]``. A read counts as an error unless it answers
200 with data and, when ``expect_no_lease``, without a lease. Error texts carry the status
and the path, never a response body (tokens stay out of output).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLIENT_KINDS = ("hvac", "httpx")


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reads: Counter[str] = field(default_factory=Counter)  # by client kind
    tokens: dict[str, set[str]] = field(default_factory=dict)  # path -> distinct access tokens seen
    elapsed: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed if self.elapsed else 0.0


def _reader(kind: str, addr: str, token: str) -> Callable[[str], dict[str, Any] | None]:
    if kind == "hvac":
        import hvac

        client = hvac.Client(url=addr, token=token, timeout=30)

        def read_hvac(path: str) -> dict[str, Any] | None:
            result: dict[str, Any] | None = client.read(path)
            return result

        return read_hvac
    http = httpx.Client(base_url=f"{addr}/v1/", headers={"X-Vault-Token": token}, timeout=30)

    def read_httpx(path: str) -> dict[str, Any] | None:
        r = http.get(path)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        body: dict[str, Any] = r.json()
        return body

    return read_httpx


def run_load(
    addr: str,
    token: str,
    paths: Sequence[str],
    total: int,
    concurrency: int,
    *,
    expect_no_lease: bool = True,
    collect_tokens: bool = False,
    kinds: Sequence[str] = CLIENT_KINDS,
) -> LoadResult:
    """``total`` reads of ``paths`` (round robin) by ``concurrency`` threads."""
    result = LoadResult()
    lock = threading.Lock()
    counter = itertools.count()

    def worker(index: int) -> None:
        kind = kinds[index % len(kinds)]
        read = _reader(kind, addr, token)
        lat: list[float] = []
        errs: list[str] = []
        seen: dict[str, set[str]] = {}
        while (n := next(counter)) < total:
            path = paths[n % len(paths)]
            t0 = time.perf_counter()
            try:
                body = read(path)
            except Exception as exc:  # a failed read is a result here: counted, named, not raised
                errs.append(f"{kind} {path}: {type(exc).__name__}: {str(exc)[:80]}")
                continue
            lat.append((time.perf_counter() - t0) * 1000)
            if not body or not body.get("data"):
                errs.append(f"{kind} {path}: empty answer")
            elif expect_no_lease and body.get("lease_id"):
                errs.append(f"{kind} {path}: answered with a lease")
            elif collect_tokens:
                seen.setdefault(path, set()).add(str(body["data"].get("access_token")))
        with lock:
            result.latencies_ms.extend(lat)
            result.errors.extend(errs)
            result.reads[kind] += len(lat)
            for path, values in seen.items():
                result.tokens.setdefault(path, set()).update(values)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    result.elapsed = time.perf_counter() - t0
    return result


def count_leases(addr: str, token: str, prefix: str) -> int:
    """Leases OpenBao holds under ``prefix`` (its own lease index), walking the listing."""
    with httpx.Client(base_url=f"{addr}/v1/", headers={"X-Vault-Token": token}, timeout=30) as http:

        def walk(p: str) -> int:
            r = http.request("LIST", f"sys/leases/lookup/{p}")
            if r.status_code == 404:
                return 0  # OpenBao answers 404 for an empty listing
            r.raise_for_status()
            keys = r.json()["data"]["keys"]
            return sum(walk(p + k) if k.endswith("/") else 1 for k in keys)

        return walk(prefix)


def plugin_rss_kib(server_pid: int, command: str = "vgs-secrets-plugin") -> dict[int, int]:
    """VmRSS (KiB) of each plugin process the server started, by pid (Linux /proc)."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["PPid"].strip()) == server_pid and command.encode() in cmdline:
            out[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    return out


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")
