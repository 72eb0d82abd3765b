"""Thousands of fault schedules and bad inputs against the rotation and the Vault plugin.

    python bench/fault_bench.py [--schedules 10000] [--http-schedules 1000] [--seed 0]
                                [--plugin-schedules N] [--bao-schedules 200] [--bao-workers 2]
                                [--workers W] [--verbose]
    python bench/fault_bench.py --compare-moto [N]   # N schedules, memory store vs moto (100)

Each rotation schedule (``tests/faults/schedules.py``) runs rotations through
``Rotation.handle`` under step retries, crashes after any external call, VGS faults
(429/500/502/503/504, drops, delays past the client's timeout, late timeouts), Secrets
Manager throttling and lost answers, concurrent rotations of the same secret and token
publisher runs (between two calls of a rotation and between rotations), then settles and
checks the invariants. Each plugin schedule (``tests/faults/plugin_schedules.py``) does the
same for ``config/rotate-root``, a static role, ``creds/`` leases and ``token/``. Every
in-memory schedule also tries one bad input from the corpus (``tests/faults/corpus.py``);
the whole corpus runs once on top.

Three configurations:

- ``--schedules`` (default 10,000): the store is ``MemorySecretStore`` (Secrets Manager's
  version and stage rules; ``tests/test_faults_schedules.py`` checks it against moto's
  server) and the emulator is served in-process through an httpx transport (no sockets);
  everything else, the VGS client stack included, is the production code. Delay faults
  move a virtual clock and the in-process transport times the client out.
- ``--http-schedules`` (default 0; 1,000 is the documented run): the same schedules over
  real loopback HTTP: each worker process starts its own moto server (``ThreadedMotoServer``
  on 127.0.0.1, a free port) and its own emulator server, and runs its share of the seeds
  with ``MotoBackend`` (boto3 and ``AwsSecretStore``). Delay faults sleep for real and the
  VGS client's socket times out (``fired:client_timeout``).
- ``--plugin-schedules`` (default schedules/10) in-process, and ``--bao-schedules`` (default
  0; 200 is the documented run) on a real OpenBao (``bench/plugin_bao_bench.py``'s workers:
  the built plugin binary, raft storage, plugin kills and OpenBao restarts), over
  ``--bao-workers`` OpenBao servers.

Faults are counted by kind as planned and as fired (``tests/faults/firing.py``); the table
shows both per configuration. Exit status 1 on any violation, on a bad input not refused
cleanly, or when a fault kind never fired in a configuration that ran. Work is split over
``--workers`` processes by seed, so a run is reproducible: a violation prints its seed, and
``--seed SEED --schedules 1 --verbose`` replays it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table


def _try_bad_input(case: Any, backend: Any, emulator: Any, totals: Counter[str], problems: list[str]) -> None:
    """Run one bad-input case from a clean state and count it; a write or an unclear error is a problem."""
    from tests.faults.corpus import run_case

    backend.reset()
    emulator.reset()
    outcome = run_case(case, backend)
    totals["bad_inputs"] += 1
    totals["bad_input_writes"] += len(outcome.writes)
    if not outcome.ok or outcome.writes:
        totals["bad_input_failures"] += 1
        problems.append(f"bad input {case.name!r}: {outcome.problem} {outcome.writes} ({outcome.error[:120]})")


MEMORY, HTTP, PLUGIN, BAO = "in memory", "over HTTP", "plugin in-process", "plugin on OpenBao"
Output = tuple[str, Counter[str], list[str]]


def _quiet() -> None:
    import logging

    logging.getLogger("rotation").setLevel(logging.WARNING)
    logging.getLogger("vault_plugin").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request


def _work(args: tuple[int, int, int, int, bool]) -> list[Output]:
    """Run in-memory rotation schedules [start, stop) and plugin schedules [pstart, pstop)."""
    _quiet()
    from rotation.emulator import Emulator
    from tests.faults.backends import MemoryBackend
    from tests.faults.corpus import cases
    from tests.faults.inproc import InProcTransport
    from tests.faults.plugin_schedules import run_plugin_schedule
    from tests.faults.schedules import run_schedule
    from tests.helpers import VirtualClock

    start, stop, pstart, pstop, verbose = args
    emulator = Emulator(port=9, clock=VirtualClock())  # never bound: served in-process
    backend = MemoryBackend(emulator)
    corpus = cases()
    totals: Counter[str] = Counter()
    plugin: Counter[str] = Counter()
    problems: list[str] = []
    plugin_problems: list[str] = []

    for seed in range(start, stop):
        backend.reset()
        result = run_schedule(seed, backend)
        totals.update(result.stats)
        if result.violations:
            problems.append(result.describe(200 if verbose else 40))
        _try_bad_input(random.Random(seed).choice(corpus), backend, emulator, totals, problems)
    for seed in range(pstart, pstop):
        result = run_plugin_schedule(seed, emulator, InProcTransport(emulator))
        plugin.update(result.stats)
        if result.violations:
            plugin_problems.append(result.describe(200 if verbose else 40))
    return [(MEMORY, totals, problems), (PLUGIN, plugin, plugin_problems)]


def _http_work(args: tuple[int, int, bool]) -> list[Output]:
    """Run rotation schedules [start, stop) over HTTP: this process's own moto server and emulator."""
    _quiet()
    import httpx
    from moto.server import ThreadedMotoServer

    from rotation.emulator import Emulator
    from tests.faults.backends import MotoBackend
    from tests.faults.schedules import run_schedule

    start, stop, verbose = args
    totals: Counter[str] = Counter()
    problems: list[str] = []
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # boto3 (tests.rotation_harness.sm) finds this process's moto server by the standard variables
        os.environ.update(AWS_ENDPOINT_URL=url, AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                          AWS_SECRET_ACCESS_KEY="testing")  # fmt: skip
        os.environ.pop("AWS_PROFILE", None)
        with Emulator(port=0) as emulator:
            backend = MotoBackend(emulator)
            for seed in range(start, stop):
                httpx.post(f"{url}/moto-api/reset", timeout=10)
                result = run_schedule(seed, backend)
                totals.update(result.stats)
                if result.violations:
                    problems.append(result.describe(200 if verbose else 40))
    finally:
        server.stop()
    totals["http_schedules"] = totals["schedules"]
    return [(HTTP, totals, problems)]


def _bao_work(args: tuple[int, int, float, bool]) -> list[Output]:
    """Plugin schedules [start, stop) on this process's own OpenBao (``bench/plugin_bao_bench.py``)."""
    _quiet()
    from bench.plugin_bao_bench import _work as bao_work

    totals, problems = bao_work(args)
    return [(BAO, totals, problems)]


def _whole_corpus() -> tuple[Counter[str], list[str]]:
    from rotation.emulator import Emulator
    from tests.faults.backends import MemoryBackend
    from tests.faults.corpus import cases
    from tests.helpers import VirtualClock

    emulator = Emulator(port=9, clock=VirtualClock())
    backend = MemoryBackend(emulator)
    totals: Counter[str] = Counter()
    problems: list[str] = []
    for case in cases():
        _try_bad_input(case, backend, emulator, totals, problems)
    return totals, problems


def _chunks(start: int, count: int, parts: int) -> list[tuple[int, int]]:
    size, extra = divmod(count, parts)
    out, at = [], start
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        out.append((at, at + n))
        at += n
    return out


def compare_moto(count: int, seed: int) -> int:
    """``--compare-moto N`` (100 when given without a number): schedules ``seed..seed+N-1``
    on ``MemorySecretStore`` and on moto's server (in-process, over loopback HTTP, with the
    emulator over HTTP too); every one must end in the same labelled versions, credential
    count and step outcomes, with no violations. Exit 1 otherwise."""
    import logging

    import httpx
    from moto.server import ThreadedMotoServer

    from rotation.emulator import Emulator
    from tests.faults.backends import MemoryBackend, MotoBackend
    from tests.faults.oracle import end_summary

    logging.getLogger("rotation").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"})  # fmt: skip
    os.environ.pop("AWS_PROFILE", None)
    began, differ, violations = time.perf_counter(), [], 0
    try:
        with Emulator(port=0) as emulator:
            for s in range(seed, seed + count):
                httpx.post(f"{url}/moto-api/reset", timeout=10)
                memory = end_summary(s, MemoryBackend(emulator))
                moto = end_summary(s, MotoBackend(emulator))
                violations += memory[3] + moto[3]
                if memory != moto:
                    differ.append(s)
    finally:
        server.stop()
    table(
        [
            ("schedules compared (memory store vs moto's server)", f"{count:,}"),
            ("end states that differ", f"{len(differ):,}" + (f" (seeds {differ[:10]})" if differ else "")),
            ("invariant violations (both backends)", f"{violations:,}"),
            ("wall time", f"{time.perf_counter() - began:.1f} s"),
        ]
    )
    return 1 if differ or violations else 0


def _call(job: tuple[Any, Any]) -> list[Output]:
    fn, args = job
    out: list[Output] = fn(args)
    return out


def _grid(by: dict[str, Counter[str]], kinds: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """One row per fault kind: fired of planned, per configuration that ran."""
    from tests.faults import firing

    ran = [name for name in (MEMORY, HTTP, PLUGIN, BAO) if by[name]["schedules"] or by[name]["plugin_schedules"]
           or by[name]["plugin_schedules_openbao"]]  # fmt: skip
    every = dict.fromkeys(k for name in ran for k in (*kinds[name], *firing.by_kind(by[name], firing.FIRED)))
    rows = [("fault kind: fired / planned", "   ".join(f"{name:>22}" for name in ran))]
    for kind in every:
        cells = []
        for name in ran:
            f, p = by[name][firing.FIRED + kind], by[name][firing.PLANNED + kind]
            cell = f"{f:,} / {p:,}" if firing.PLANNED + kind in by[name] else f"{f:,}" if f else "-"
            cells.append(f"{cell:>22}")
        rows.append((f"  {kind}", "   ".join(cells)))
    return rows


def main() -> int:
    from tests.faults import firing

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=10_000, help="in-memory rotation schedules (default 10000)")
    parser.add_argument("--http-schedules", type=int, default=0,
                        help="rotation schedules over HTTP: moto's server and the emulator (default 0; try 1000)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--plugin-schedules", type=int, default=None,
                        help="in-process plugin schedules (default schedules/10)")  # fmt: skip
    parser.add_argument("--bao-schedules", type=int, default=0,
                        help="plugin schedules on a real OpenBao (default 0; try 200)")  # fmt: skip
    parser.add_argument("--bao-workers", type=int, default=2, help="OpenBao servers in parallel (default 2)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--verbose", action="store_true", help="full action logs of violations")
    parser.add_argument("--compare-moto", type=int, nargs="?", const=100, default=0, metavar="N",
                        help="only compare N schedules on the memory store and moto's server (N: 100)")  # fmt: skip
    args = parser.parse_args()
    if args.compare_moto:
        return compare_moto(args.compare_moto, args.seed)
    plugin = args.schedules // 10 if args.plugin_schedules is None else args.plugin_schedules
    workers = max(1, args.workers)
    jobs: list[tuple[Any, Any]] = []
    parts = max(1, min(workers, args.schedules + plugin))
    rot, plug = _chunks(args.seed, args.schedules, parts), _chunks(args.seed, plugin, parts)
    jobs += [(_work, (a, b, c, d, args.verbose)) for (a, b), (c, d) in zip(rot, plug, strict=True) if b > a or d > c]
    if args.http_schedules:
        for a, b in _chunks(args.seed, args.http_schedules, max(1, min(workers, args.http_schedules))):
            jobs.append((_http_work, (a, b, args.verbose)))
    if args.bao_schedules:
        bao_parts = max(1, min(args.bao_workers, args.bao_schedules))
        for a, b in _chunks(args.seed, args.bao_schedules, bao_parts):
            jobs.append((_bao_work, (a, b, 0.3, args.verbose)))

    began = time.perf_counter()
    by: dict[str, Counter[str]] = {name: Counter() for name in (MEMORY, HTTP, PLUGIN, BAO)}
    wall: dict[str, float] = {}
    problems: list[str] = []
    corpus_totals, corpus_problems = _whole_corpus()
    by[MEMORY].update(corpus_totals)
    problems += corpus_problems
    pool_size = max(1, min(workers + (bao_parts if args.bao_schedules else 0), len(jobs)))
    if pool_size == 1:
        finished = [(_call(job), time.perf_counter() - began) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=pool_size) as pool:
            futures = [pool.submit(_call, job) for job in jobs]
            finished = []
            for future in as_completed(futures):
                finished.append((future.result(), time.perf_counter() - began))
    for outputs, at in finished:
        for name, totals, found in outputs:
            by[name].update(totals)
            problems += found
            if totals:
                wall[name] = max(wall.get(name, 0.0), at)
    total_wall = time.perf_counter() - began

    kinds = {MEMORY: firing.ROTATION_KINDS, HTTP: firing.ROTATION_KINDS, PLUGIN: firing.PLUGIN_KINDS,
             BAO: firing.PLUGIN_BAO_KINDS}  # fmt: skip
    runs = {MEMORY: by[MEMORY]["schedules"], HTTP: by[HTTP]["schedules"], PLUGIN: by[PLUGIN]["plugin_schedules"],
            BAO: by[BAO]["plugin_schedules_openbao"]}  # fmt: skip
    never = {name: firing.never_fired(by[name], kinds[name]) for name, n in runs.items() if n}
    violations = sum(by[name]["violations"] for name in by)
    every: Counter[str] = sum(by.values(), Counter())

    def done(name: str) -> str:
        if not runs[name]:
            how = {HTTP: "--http-schedules N", BAO: "--bao-schedules N, or bench/plugin_bao_bench.py"}
            return f"0 (run them with {how.get(name, '--schedules N')})"
        return f"{runs[name]:,} ({by[name]['violations']:,} violations, done at {wall.get(name, 0):.0f} s)"

    steps = f"{every['steps']:,} / {every['plugin_requests']:,} / {every['bao_requests']:,}"
    table(
        [
            ("rotation schedules in memory", done(MEMORY)),
            ("rotation schedules over HTTP (moto + emulator)", done(HTTP)),
            ("plugin schedules in-process", done(PLUGIN)),
            ("plugin schedules on OpenBao", done(BAO)),
            ("rotation steps / plugin requests / OpenBao requests", steps),
            ("publisher runs (between rotations and calls)", f"{every['publisher_runs']:,}"),
            ("rotations given up after promotion", f"{every['given_up_after_promotion']:,}"),
            ("repairs (status --repair)", f"{every['repairs']:,}"),
            ("OpenBao restarts / plugin kills", f"{every['bao_restarts']:,} / {every['kills']:,}"),
            ("invariant violations", f"{violations:,}"),
            ("bad inputs tried", f"{every['bad_inputs']:,}"),
            ("bad inputs not refused cleanly", f"{every['bad_input_failures']:,}"),
            ("writes on bad input", f"{every['bad_input_writes']:,}"),
            ("workers", f"{workers}" + (f" (+ {bao_parts} OpenBao)" if args.bao_schedules else "")),
            ("wall time", f"{total_wall:.1f} s"),
        ]
    )
    print()
    table(_grid(by, kinds))
    for problem in problems[:20]:
        print("\n" + problem)
    if len(problems) > 20:
        print(f"\n... and {len(problems) - 20} more")
    for name, kinds_never in never.items():
        if kinds_never:
            print(f"\nnever fired {name}: {', '.join(kinds_never)}")
    failed = violations or problems or every["bad_input_failures"] or every["bad_input_writes"]
    return 1 if failed or any(never.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
