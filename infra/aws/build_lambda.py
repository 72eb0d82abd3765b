#!/usr/bin/env python3
"""Build the Lambda artifact, ``build/lambda.zip``, without ``sam build`` or Docker.

    python3 infra/aws/build_lambda.py                 # for Lambda: python3.12, arm64 (the template)
    python3 infra/aws/build_lambda.py --platform host # for this machine (tests import from it)

Steps: build a wheel of the project from a clean copy of its sources (so setuptools
leaves nothing in the work tree), ``pip install --target build/lambda`` that wheel with its
runtime dependencies (binary wheels only; for Lambda, wheels for manylinux aarch64 and
CPython 3.12 whatever this machine is), prune what a function never uses, and zip it
reproducibly (sorted entries, fixed timestamps) so the same inputs give the same zip.
``build/lambda.manifest.json`` lists the bundled distributions and the zip's sha256.

boto3 and botocore are bundled on purpose. The python3.12 runtime ships its own copy,
but of a version AWS picks and changes without notice; bundling pins the SDK the tests
ran with (for example ``RotationToken`` on ``PutSecretValue`` needs a recent botocore) at
the cost of ~20 MB unzipped, well inside Lambda's 250 MB. ``--without-aws-sdk`` drops
them for teams that prefer the runtime's copy.

``aws-xray-sdk`` is added to the project's dependencies: the handlers use Powertools'
Tracer when ``VGS_TRACING`` is on (the template's ``EnableTracing``), and the Tracer needs
it (Powertools' ``tracer`` extra), which the project does not declare.

No ``.pyc`` files are shipped: Lambda's code directory is read-only, so only byte code
compiled by the same Python version as the runtime would help, and this script usually
runs on another one.

Standard library only; needs ``pip`` and access to a package index.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "build"
# The python3.12 runtime is Amazon Linux 2023 (glibc 2.34) on arm64. pip does not widen an
# explicit --platform to older manylinux tags, so every accepted tag is listed.
LAMBDA_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
LAMBDA_PYTHON = "3.12"
# Runtime needs of the Lambda adapters beyond the project's own dependencies.
LAMBDA_EXTRAS = ("aws-xray-sdk>=2.12",)
AWS_SDK = ("boto3", "botocore", "s3transfer", "jmespath")
# Never needed inside the function: console scripts (host shebangs) and the Vault plugin.
PRUNE_TOP = ("bin", "vault_plugin")
# httpx's command-line client: ``import httpx`` tries it, and it imports click (bundled for
# ``vgs-rotate``) before failing on rich and pygments, which are not: ~60 ms of every cold
# start for nothing. Without the file httpx falls back to its stub at once.
PRUNE_FILES = ("httpx/_main.py",)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MAX_UNZIPPED = 250 * 1024 * 1024


class BuildError(RuntimeError):
    """The build failed; ``output`` holds pip's output."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def _run(cmd: list[str], *, cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(cmd[:6])} ...", out)
    return out


def _source_copy(dest: Path) -> Path:
    """The files a wheel build needs, copied so the build leaves the work tree untouched."""
    src = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("rotation", "vault_plugin"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", src / "pyproject.toml")
    readme = ROOT / "README.md"
    if readme.exists():
        shutil.copy2(readme, src / "README.md")
    else:
        (src / "README.md").write_text("vgs-rotation\n")
    return src


def _prune(target: Path, *, without_aws_sdk: bool) -> None:
    for name in PRUNE_TOP:
        shutil.rmtree(target / name, ignore_errors=True)
    for name in PRUNE_FILES:
        (target / name).unlink(missing_ok=True)
    for cache in list(target.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)
    for pyc in list(target.rglob("*.pyc")):
        pyc.unlink()
    if without_aws_sdk:
        for entry in list(target.iterdir()):
            base = entry.name.split("-", 1)[0].lower()
            if base in AWS_SDK:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _distributions(target: Path) -> dict[str, str]:
    dists: dict[str, str] = {}
    for info in sorted(target.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        dists[name] = version
    return dists


def _zip(target: Path, zip_path: Path) -> int:
    """Zip ``target`` reproducibly; return the unzipped size in bytes."""
    files = sorted(p for p in target.rglob("*") if p.is_file())
    total = 0
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            rel = path.relative_to(target).as_posix()
            info = zipfile.ZipInfo(rel, date_time=FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            total += len(data)
            zf.writestr(info, data)
    tmp.replace(zip_path)
    return total


def build(
    out_dir: Path = DEFAULT_OUT,
    *,
    platform: str = "lambda",
    python_version: str = LAMBDA_PYTHON,
    without_aws_sdk: bool = False,
    python: str = sys.executable,
) -> Path:
    """Build ``out_dir/lambda/`` and ``out_dir/lambda.zip``; return the zip's path."""
    out_dir = Path(out_dir)
    target = out_dir / "lambda"
    zip_path = out_dir / "lambda.zip"
    shutil.rmtree(target, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    with tempfile.TemporaryDirectory(prefix="vgs-lambda-build-") as tmp:
        work = Path(tmp)
        src = _source_copy(work)
        wheels = work / "wheels"
        _run([*pip, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(src)])
        (wheel,) = wheels.glob("vgs_rotation-*.whl")
        install = [*pip, "install", "--target", str(target), "--no-compile", "--only-binary=:all:"]
        if platform == "lambda":
            for tag in LAMBDA_PLATFORMS:
                install += ["--platform", tag]
            install += [
                "--implementation",
                "cp",
                "--python-version",
                python_version,
            ]
        elif platform != "host":
            raise ValueError("platform must be 'lambda' or 'host'")
        _run([*install, str(wheel), *LAMBDA_EXTRAS])
    _prune(target, without_aws_sdk=without_aws_sdk)
    for handler in ("lambda_rotation.py", "lambda_publisher.py"):
        if not (target / "rotation" / handler).exists():
            print(
                f"build_lambda: warning: rotation/{handler} is not in the artifact (not written yet?)", file=sys.stderr
            )
    size = _zip(target, zip_path)
    if size > MAX_UNZIPPED:
        raise BuildError(f"the artifact unzips to {size} bytes, above Lambda's 250 MB")
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    manifest = {
        "platform": list(LAMBDA_PLATFORMS) if platform == "lambda" else "host",
        "python": python_version if platform == "lambda" else ".".join(map(str, sys.version_info[:2])),
        "aws_sdk_bundled": not without_aws_sdk,
        "unzipped_bytes": size,
        "zip_sha256": digest,
        "distributions": _distributions(target),
    }
    (out_dir / "lambda.manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build build/lambda.zip for the rotation and publisher functions.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: build/)")
    parser.add_argument(
        "--platform",
        choices=("lambda", "host"),
        default="lambda",
        help="lambda: manylinux aarch64 wheels for the python3.12 arm64 runtime (default); host: this machine",
    )
    parser.add_argument("--python-version", default=LAMBDA_PYTHON, help="runtime Python for --platform lambda")
    parser.add_argument("--without-aws-sdk", action="store_true", help="leave boto3/botocore to the Lambda runtime")
    args = parser.parse_args(argv)
    try:
        zip_path = build(
            args.out, platform=args.platform, python_version=args.python_version, without_aws_sdk=args.without_aws_sdk
        )
    except BuildError as exc:
        print(f"build_lambda: {exc}\n{exc.output[-4000:]}", file=sys.stderr)
        return 1
    manifest = json.loads((zip_path.parent / "lambda.manifest.json").read_text())
    print(
        f"{zip_path} ({zip_path.stat().st_size // 1024} KiB zipped, {manifest['unzipped_bytes'] // 1024} KiB unzipped, "
        f"{len(manifest['distributions'])} distributions, sha256 {manifest['zip_sha256'][:16]}...)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
