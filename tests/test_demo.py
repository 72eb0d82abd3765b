"""The README's main command works and shows what it promises."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_two_rotations_and_checks_the_result():
    proc = subprocess.run([sys.executable, "-m", "rotation.cli", "demo"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("[4/4] finishSecret  ok") == 2
    assert "deleted" in out and "AWSPREVIOUS" in out and "AWSCURRENT" in out
    assert "CMP probe accepted it" in out
    assert "demo succeeded" in out
    assert proc.stderr.strip() == ""
