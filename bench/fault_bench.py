"""Thousands of fault schedules and bad inputs against the rotation and the Vault plugin.

    python bench/fault_bench.py [--schedules 10000] [--seed 0] [--plugin-schedules N]
                                [--workers W] [--verbose]
    python bench/fault_bench.py --compare-moto [N]   # N schedules, memory store vs moto (100)

Each rotation schedule (``tests/faults/schedules.py``) runs rotations through
``Rotation.handle`` under step retries, crashes after any external call, VGS faults
(429/500/502/503/504, drops, delays, late timeouts), Secrets Manager throttling and lost
answers, concurrent rotations of the same secret and token publisher runs (between two
calls of a rotation and between rotations), then settles and checks the invariants. Each plugin schedule (``tests/faults/plugin_schedules.py``) does the same for
``config/rotate-root`` and a static role. Every schedule also tries one bad input from the
corpus (``tests/faults/corpus.py``); the whole corpus runs once on top.

Practical at this scale: the store is ``MemorySecretStore`` (Secrets Manager's version and
stage rules; ``tests/test_faults_schedules.py`` checks it against moto's server on the same
schedules) and the emulator is served in-process through an httpx transport (no sockets);
everything else, the VGS client stack included, is the production code. Work is split
over ``--workers`` processes by seed, so a run is reproducible: a violation prints its seed,
and ``--seed SEED --schedules 1 --verbose`` replays it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
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


def _work(args: tuple[int, int, int, int, bool]) -> tuple[Counter[str], list[str]]:
    """Run rotation schedules [start, stop) and plugin schedules [pstart, pstop) in this process."""
    import logging

    logging.getLogger("rotation").setLevel(logging.WARNING)
    logging.getLogger("vault_plugin").setLevel(logging.WARNING)
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
    problems: list[str] = []

    for seed in range(start, stop):
        backend.reset()
        result = run_schedule(seed, backend)
        totals.update(result.stats)
        if result.violations:
            problems.append(result.describe(200 if verbose else 40))
        _try_bad_input(random.Random(seed).choice(corpus), backend, emulator, totals, problems)
    for seed in range(pstart, pstop):
        result = run_plugin_schedule(seed, emulator, InProcTransport(emulator))
        totals.update(result.stats)
        if result.violations:
            problems.append(result.describe(200 if verbose else 40))
    return totals, problems


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=10_000, help="rotation schedules (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--plugin-schedules", type=int, default=None, help="plugin schedules (default schedules/10)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--verbose", action="store_true", help="full action logs of violations")
    parser.add_argument("--compare-moto", type=int, nargs="?", const=100, default=0, metavar="N",
                        help="only compare N schedules on the memory store and moto's server (N: 100)")  # fmt: skip
    args = parser.parse_args()
    if args.compare_moto:
        return compare_moto(args.compare_moto, args.seed)
    plugin = args.schedules // 10 if args.plugin_schedules is None else args.plugin_schedules
    workers = max(1, min(args.workers, args.schedules + plugin))
    rot = _chunks(args.seed, args.schedules, workers)
    plug = _chunks(args.seed, plugin, workers)
    jobs = [(a, b, c, d, args.verbose) for (a, b), (c, d) in zip(rot, plug, strict=True)]

    began = time.perf_counter()
    totals: Counter[str] = Counter()
    problems: list[str] = []
    corpus_totals, corpus_problems = _whole_corpus()
    totals.update(corpus_totals)
    problems += corpus_problems
    if workers == 1:
        outputs = [_work(jobs[0])]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            outputs = list(pool.map(_work, jobs))
    for t, p in outputs:
        totals.update(t)
        problems += p
    wall = time.perf_counter() - began

    faults = totals["vgs_faults"] + totals["store_throttles"] + totals["store_lost_answers"]
    violations = totals["violations"]
    table(
        [
            ("rotation schedules run", f"{totals['schedules']:,}"),
            ("plugin schedules run", f"{totals['plugin_schedules']:,}"),
            ("rotation steps / plugin requests", f"{totals['steps']:,} / {totals['plugin_requests']:,}"),
            (
                "faults injected",
                f"{faults:,} (VGS {totals['vgs_faults']:,} of which late timeouts fired "
                f"{totals['late_timeouts']:,}; store throttles {totals['store_throttles']:,}, "
                f"lost answers {totals['store_lost_answers']:,})",
            ),
            ("crashes injected", f"{totals['crashes']:,}"),
            ("concurrent rotations", f"{totals['concurrent_rotations']:,} (+ {totals['plugin_concurrent']:,} plugin)"),
            ("publisher runs (between rotations and calls)", f"{totals['publisher_runs']:,}"),
            ("rotations given up after promotion", f"{totals['given_up_after_promotion']:,}"),
            ("repairs (status --repair)", f"{totals['repairs']:,}"),
            ("invariant violations", f"{violations:,}"),
            ("bad inputs tried", f"{totals['bad_inputs']:,}"),
            ("bad inputs not refused cleanly", f"{totals['bad_input_failures']:,}"),
            ("writes on bad input", f"{totals['bad_input_writes']:,}"),
            ("workers", str(workers)),
            ("wall time", f"{wall:.1f} s"),
        ]
    )
    for problem in problems[:20]:
        print("\n" + problem)
    if len(problems) > 20:
        print(f"\n... and {len(problems) - 20} more")
    return 1 if violations or totals["bad_input_failures"] or totals["bad_input_writes"] else 0


if __name__ == "__main__":
    sys.exit(main())
