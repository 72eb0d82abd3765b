"""``vgs-rotate emulator``: run the local VGS in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

import click


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def write_private_json(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` readable by the owner only (it holds the manager's secret), atomically."""
    path = path.expanduser()
    fd, tmp = tempfile.mkstemp(prefix=".bootstrap-", dir=path.parent or Path("."))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("emulator")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--allow-non-loopback", is_flag=True, help="Allow listening on a non-loopback address.")
@click.option(
    "--bootstrap-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write URLs, ids and the manager's credentials here (mode 0600).",
)
@click.option(
    "--token-lifespan",
    type=click.IntRange(min=60),
    default=1200,
    show_default=True,
    help="Seconds an access token lives when its account sets no lifespan.",
)
def emulator(port: int, host: str, allow_non_loopback: bool, bootstrap_out: Path | None, token_lifespan: int) -> None:
    """Run a local VGS emulator (token server, Accounts and vault-management APIs, probes)."""
    if not _is_loopback(host) and not allow_non_loopback:
        raise click.UsageError(
            f"refusing to listen on non-loopback address {host}: the emulator has no TLS and "
            "serves credentials; pass --allow-non-loopback if you really mean it"
        )
    from rotation.emulator import Emulator

    emu = Emulator(port=port, host=host, default_token_lifespan=token_lifespan)
    try:
        emu.bind()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    where = "not written (use --bootstrap-out FILE)"
    if bootstrap_out is not None:
        write_private_json(bootstrap_out, emu.bootstrap)
        where = str(bootstrap_out)
    signal.signal(signal.SIGTERM, _interrupt)
    click.echo(f"VGS emulator listening on {emu.url}; bootstrap: {where}", nl=True)
    with contextlib.suppress(KeyboardInterrupt):
        emu.serve_forever()
