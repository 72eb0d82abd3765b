"""Hundreds of plugin fault schedules on a real OpenBao: the built plugin binary, raft storage,
the HTTP API, the VGS emulator over loopback.

    PYTHONPATH=. python bench/plugin_bao_bench.py [--schedules 200] [--seed 0] [--workers 2]
                                                  [--restart-chance 0.3] [--verbose]

Each schedule (``tests/faults/plugin_bao.py``) runs token/, creds/ (lease renew, revoke,
expiry), rotate-root, rotate-role and tidy steps on two mounts under VGS faults, kills the
plugin processes with SIGKILL between steps and in the middle of them, restarts OpenBao
(SIGTERM or SIGKILL) now and then, and checks everything from outside. Each worker process
runs its own OpenBao and emulator over a share of the seeds; ``--seed S --schedules 1
--verbose`` replays one. Exit status 1 on any violation, or when a fault kind, a mid-request
kill or an OpenBao restart never happened.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table


def _work(args: tuple[int, int, float, bool]) -> tuple[Counter[str], list[str]]:
    """Run schedules [start, stop) on one OpenBao and one emulator."""
    from rotation.emulator import Emulator
    from tests.bao_persistent import persistent_bao
    from tests.faults.bao_view import OffsetClock
    from tests.faults.plugin_bao import BaoPluginSchedule
    from tests.faults.vgs_gate import Gate

    logging.getLogger("rotation").setLevel(logging.WARNING)
    start, stop, restart_chance, verbose = args
    totals: Counter[str] = Counter()
    problems: list[str] = []
    clock = OffsetClock()
    with Emulator(port=0, clock=clock) as emu, persistent_bao() as bao:
        gate = Gate(emu)
        for seed in range(start, stop):
            result = BaoPluginSchedule(seed, bao, emu, clock, gate, restart_chance=restart_chance).run()
            totals.update(result.stats)
            if result.violations:
                problems.append(result.describe(200 if verbose else 40))
            if verbose:
                print(f"seed {seed}: {result.stats['seconds']} s, {len(result.violations)} violation(s)", flush=True)
        gate.close()
    return totals, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="OpenBao servers in parallel (default 2)")
    parser.add_argument("--restart-chance", type=float, default=0.3, help="share of schedules restarting OpenBao")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    workers = max(1, min(args.workers, args.schedules))
    size, extra = divmod(args.schedules, workers)
    jobs, at = [], args.seed
    for i in range(workers):
        n = size + (1 if i < extra else 0)
        jobs.append((at, at + n, args.restart_chance, args.verbose))
        at += n

    began = time.perf_counter()
    if workers == 1:
        outputs = [_work(jobs[0])]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            outputs = list(pool.map(_work, jobs))
    wall = time.perf_counter() - began
    totals: Counter[str] = Counter()
    problems: list[str] = []
    for t, p in outputs:
        totals.update(t)
        problems += p

    from tests.faults import firing

    never = firing.never_fired(totals, firing.PLUGIN_BAO_KINDS)
    schedules = totals["plugin_schedules_openbao"]
    table(
        [
            ("plugin schedules on OpenBao", f"{schedules:,} (2 mounts each)"),
            ("HTTP requests to OpenBao", f"{totals['bao_requests']:,}"),
            *((f"fault {kind}", counts) for kind, counts in firing.per_kind(totals, firing.PLUGIN_BAO_KINDS)),
            (
                "plugin kills (SIGKILL)",
                f"{totals['kills']:,} processes: {totals['kills_mid_request']:,} in the middle of a step, "
                f"{totals['kills_between_steps']:,} between steps, {totals['kills_to_reset_clock']:,} clock resets; "
                f"OpenBao saw {totals['plugin_exits_seen_by_openbao']:,} exits",
            ),
            ("OpenBao restarts (SIGTERM or SIGKILL)", f"{totals['bao_restarts']:,}"),
            (
                "creds/ leases issued / renewed / revoked / expired",
                f"{totals['leases_issued']:,} / {totals['renewals']:,} / {totals['revocations']:,} / "
                f"{totals['expirations']:,}",
            ),
            ("token/ tokens served (each checked at VGS)", f"{totals['tokens_served']:,}"),
            ("concurrent steps", f"{totals['concurrent_steps']:,}"),
            ("server log scanned for secrets", f"{totals['log_bytes_scanned'] / 1e6:.1f} MB"),
            ("invariant violations", f"{totals['violations']:,}"),
            ("workers", str(workers)),
            ("wall time", f"{wall:.0f} s ({wall / max(1, schedules):.1f} s per schedule)"),
        ]
    )
    for problem in problems[:10]:
        print("\n" + problem)
    if len(problems) > 10:
        print(f"\n... and {len(problems) - 10} more")
    if never:
        print(f"\nnever fired: {', '.join(never)}")
    missing = [name for name in ("kills_mid_request", "bao_restarts") if not totals[name]]
    if missing:
        print(f"never happened: {', '.join(missing)}")
    return 1 if totals["violations"] or problems or never or missing else 0


if __name__ == "__main__":
    sys.exit(main())
