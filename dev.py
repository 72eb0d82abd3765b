#!/usr/bin/env python3
"""One-command set-up for a fresh machine with only Python 3.11+.

    python3 dev.py demo      # the rotation demo on the embedded emulator and moto's server
    python3 dev.py test      # the whole test suite
    python3 dev.py check     # ruff and mypy
    python3 dev.py run ARGS  # any vgs-rotate command inside the project environment, from
                             # the directory you are in (relative paths are yours)

It creates ``.venv`` beside this file, installs the project with its test extras (again
only when pyproject.toml changed), then runs the command inside that environment.
Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-pyproject-sha256"


def _ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs before the project is installed
        sys.exit(f"vgs-rotation needs Python 3.11+, this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not PYTHON.exists():
        print(f"dev.py: creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing vgs-rotation with its test extras", file=sys.stderr)
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def _run(argv: list[str], *, here: bool = False) -> int:
    """Run ``argv`` in the environment: from the repository root, or (``here``) from the
    caller's directory, so that ``dev.py run ... --config good.json`` finds the file."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(argv, cwd=None if here else ROOT, env=env).returncode


def main(args: list[str]) -> int:
    command, rest = (args[0], args[1:]) if args else ("help", [])
    if command in {"help", "-h", "--help"}:
        print(__doc__)
        return 0
    _ensure_env()
    py = str(PYTHON)
    if command == "demo":
        return _run([py, "-m", "rotation.cli", "demo", *rest])
    if command == "test":
        return _run([py, "-m", "pytest", *rest])
    if command == "check":
        code = _run([py, "-m", "ruff", "check", "."])
        code |= _run([py, "-m", "ruff", "format", "--check", "."])
        return code | _run([py, "-m", "mypy", "rotation", "vault_plugin", "infra"])
    if command == "run":
        return _run([py, "-m", "rotation.cli", *rest], here=True)
    print(f"dev.py: unknown command {command!r}; try 'python3 dev.py help'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
