"""``python -m vault_plugin build OUT_DIR``: a single-file plugin executable.

The file is a zipapp holding the ``vault_plugin`` and ``rotation`` packages (sources plus
hash-checked bytecode, entries in a fixed order with fixed timestamps, so the SHA-256 is
reproducible for a given tree and interpreter). Its shebang is the *absolute path of the
interpreter that ran the build*, and third-party dependencies (grpclib, protobuf, httpx,
cryptography, ...) are imported from that interpreter's site-packages: the host only hashes
the command file, so the environment must stay put. Build from the locked environment that
will run the plugin (a venv on the Vault host), and rebuild + re-register after changing it.
Bundling the dependencies instead would not work for the compiled ones (cryptography's
Rust extension, protobuf's upb) since zipimport cannot load extension modules.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import stat
import sys
import zipfile
from pathlib import Path

PLUGIN_NAME = "vgs-secrets-plugin"
PACKAGES = ("vault_plugin", "rotation")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
ENTRY = "import sys\nfrom vault_plugin.__main__ import main\nsys.exit(main())\n"


def _package_files(name: str) -> list[tuple[str, Path]]:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name!r} not found")
    root = Path(next(iter(spec.submodule_search_locations)))
    out = []
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix in (".py", ".pyi", ".typed", ".proto"):
            out.append((f"{name}/{path.relative_to(root).as_posix()}", path))
    return out


def _pyc(source: bytes, arcname: str) -> bytes:
    """Hash-based, unchecked bytecode (PEP 552): deterministic and valid inside a zip."""
    import importlib._bootstrap_external as be

    code = compile(source, arcname, "exec", dont_inherit=True)
    return bytes(be._code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))  # type: ignore[attr-defined]


def build(out_dir: str) -> tuple[Path, str]:
    target_dir = Path(out_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        entries: list[tuple[str, bytes]] = [("__main__.py", ENTRY.encode())]
        for pkg in PACKAGES:
            for arcname, path in _package_files(pkg):
                data = path.read_bytes()
                entries.append((arcname, data))
                if arcname.endswith(".py"):
                    entries.append((arcname + "c", _pyc(data, arcname)))
        for arcname, data in sorted(entries):
            info = zipfile.ZipInfo(arcname, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    payload = f"#!{sys.executable}\n".encode() + buf.getvalue()
    target = target_dir / PLUGIN_NAME
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(payload)
    os.chmod(tmp, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP)  # noqa: S103 - an executable for the host
    os.replace(tmp, target)
    return target, hashlib.sha256(payload).hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m vault_plugin build OUT_DIR\n")
        return 2
    target, digest = build(argv[0])
    print(f"wrote {target} (interpreter {sys.executable})")
    print(digest)
    return 0
