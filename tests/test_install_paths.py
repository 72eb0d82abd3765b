"""Install paths: the built wheel, installed without the demo extra, says in one line what to
install; with it the demo's dependency is declared; ``dev.py run`` keeps the caller's
directory; the set-up helpers run from any directory (they are ``vgs-rotate`` commands in
the package, not scripts of the checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("vgs_rotation-*.whl")
    return path


@pytest.fixture(scope="module")
def plain_install(wheel, tmp_path_factory) -> dict[str, str]:
    """The wheel installed on its own, over this environment's packages minus moto (and
    without the checkout on the path): what ``pip install vgs-rotation`` gives."""
    base = tmp_path_factory.mktemp("plain")
    target, deps = base / "target", base / "deps"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name.lower()
        if name.startswith(("moto", "rotation", "vault_plugin", "vgs_rotation", "__editable__", "_vgs_rotation")):
            continue
        if name.endswith(".pth"):
            continue
        (deps / entry.name).symlink_to(entry)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = f"{target}{os.pathsep}{deps}"
    return env


def _run(args, env, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", "-m", "rotation.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_wheel_declares_the_demo_extra_and_ships_the_helpers(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = next(z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "Provides-Extra: demo" in metadata
    assert any(line.startswith("Requires-Dist: moto[server]") and 'extra == "demo"' in line
               for line in metadata.splitlines())  # fmt: skip
    assert {"rotation/provision/manager.py", "rotation/provision/local_stack.py", "rotation/cli/errors.py"} <= names
    assert not any(n.startswith("infra/") for n in names), "the checkout's infra/ is not a package to install"


def test_plain_install_says_what_to_install(plain_install, tmp_path):
    proc = _run(["demo"], plain_install, tmp_path)
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr == "vgs-rotate: error: `vgs-rotate demo` needs moto's Secrets Manager server: " \
        "pip install 'vgs-rotation[demo]'\n"  # fmt: skip
    stack = _run(["local-stack", "--no-bao", "--check"], plain_install, tmp_path)
    assert stack.returncode == 5, stack.stderr
    assert len(stack.stderr.splitlines()) == 1 and "pip install 'vgs-rotation[demo]'" in stack.stderr
    assert "demo" in _run(["--help"], plain_install, tmp_path).stdout  # still listed, and now it explains itself


def test_set_up_helpers_work_from_any_directory(plain_install, moto_url, tmp_path):
    """bootstrap-manager from a directory that is not the checkout, with the plain install."""
    env = {**plain_install, **{k: os.environ[k] for k in os.environ if k.startswith("AWS_")}}
    manager = tmp_path / "manager.json"
    manager.write_text(json.dumps({"client_id": "ACorg-manager-1", "client_secret": "not-printed-0123456789"}))
    with manager.open() as stdin:
        proc = subprocess.run(
            [sys.executable, "-S", "-m", "rotation.cli", "bootstrap-manager", "--secret-id", "vgs/local/manager",
             "--create", "--stdin"],
            capture_output=True, text=True, env=env, cwd=tmp_path, stdin=stdin, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert ": created; client id ACorg-manager-1" in proc.stdout
    assert "not-printed" not in proc.stdout + proc.stderr


def test_local_stack_runs_from_any_directory(tmp_path):
    env_file = tmp_path / "local.env"
    proc = subprocess.run(
        [sys.executable, "-m", "rotation.cli", "local-stack", "--no-bao", "--check", "--env-file", str(env_file)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in proc.stdout
    assert "export VGS_MANAGER_SECRET_ARN=arn:aws:secretsmanager:" in proc.stdout
    assert env_file.read_text() == proc.stdout


def test_dev_py_run_keeps_the_callers_directory(tmp_path):
    (tmp_path / "good.json").write_text(json.dumps({"targets": [{"credential_secret_id": "a"}]}))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), "run", "publish", "--config", "good.json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    # the file was found (relative to the caller) and read: its content is what is refused
    assert proc.returncode == 5, proc.stderr
    assert "token_secret_id" in proc.stderr and "No such file" not in proc.stderr
