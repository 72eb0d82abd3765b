"""``python -m infra.local``: the same as ``vgs-rotate local-stack`` (from a checkout)."""

from __future__ import annotations

import sys

from rotation.cli import cli

if __name__ == "__main__":
    cli.main(["local-stack", *sys.argv[1:]], prog_name="python -m infra.local")
