"""``python -m vault_plugin`` serves the plugin (when launched by Vault/OpenBao);
``python -m vault_plugin build OUT_DIR`` writes the single-file plugin executable."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "build":
        from vault_plugin.build import main as build_main

        return build_main(args[1:])
    import os

    from vault_plugin import __version__
    from vault_plugin.engine import new_backend
    from vault_plugin.transport.logs import setup_logging
    from vault_plugin.transport.server import run

    setup_logging(os.environ.get("VGS_PLUGIN_LOG_LEVEL", "INFO"))
    return run(new_backend, version=__version__)


if __name__ == "__main__":
    sys.exit(main())
