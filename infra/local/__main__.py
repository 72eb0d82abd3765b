"""``python -m infra.local``: run the local stack until Ctrl-C (see infra/local/__init__.py)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from infra.local import LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--no-emulator", action="store_true", help="do not start the VGS emulator")
    parser.add_argument("--no-moto", action="store_true", help="do not start moto's Secrets Manager server")
    parser.add_argument("--no-bao", action="store_true", help="do not start the OpenBao dev server")
    parser.add_argument("--env-file", type=Path, help="also write the export lines to this file")
    parser.add_argument("--bootstrap-out", type=Path, help="write the emulator's bootstrap JSON here (mode 600)")
    parser.add_argument("--check", action="store_true", help="start, print the environment, stop")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack = LocalStack(emulator=not args.no_emulator, moto=not args.no_moto, bao=not args.no_bao)
        with stack:
            exports = stack.exports()
            if args.env_file:
                args.env_file.write_text(exports)
            if args.bootstrap_out and stack.emulator is not None:
                args.bootstrap_out.touch(mode=0o600)
                args.bootstrap_out.write_text(stack.bootstrap_json())
            sys.stdout.write(exports)
            sys.stdout.flush()
            if args.check:
                return 0
            print("# local stack up; Ctrl-C to stop", file=sys.stderr)
            stop.wait()
    except (RuntimeError, ImportError) as exc:
        print(f"infra.local: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
