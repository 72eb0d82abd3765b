"""Shared by the bench scripts: import timing in fresh interpreters."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def import_seconds(module: str, runs: int = 7) -> float:
    """Median wall time of ``import module`` in a fresh interpreter, minus an empty start."""

    def once(code: str) -> float:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - began

    base = statistics.median(once("pass") for _ in range(runs))
    return max(0.0, statistics.median(once(f"import {module}") for _ in range(runs)) - base)


def table(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
