"""``vgs-rotate emulator``: run the local VGS in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
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


_IDS = {"organization_id": re.compile(r"^AC[A-Za-z0-9]{22}$"), "vault_id": re.compile(r"^tnt[a-z0-9]{8}$")}


def _id_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and param.name and not _IDS[param.name].match(value):
        raise click.BadParameter("does not look like a VGS id of that kind (see --help)")
    return value


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
@click.option(
    "--organization-id",
    callback=_id_option,
    help="Use this organization id (AC + 22 letters/digits) instead of a random one.",
)
@click.option(
    "--vault-id", callback=_id_option, help="Use this vault id (tnt + 8 letters/digits) instead of a random one."
)
def emulator(
    port: int,
    host: str,
    allow_non_loopback: bool,
    bootstrap_out: Path | None,
    token_lifespan: int,
    organization_id: str | None,
    vault_id: str | None,
) -> None:
    """Run a local VGS emulator (token server, Accounts and vault-management APIs, probes).

    Fixed --organization-id and --vault-id let a document file written in advance (like
    examples/local/cmp-app.json) point at it."""
    if not _is_loopback(host) and not allow_non_loopback:
        raise click.UsageError(
            f"refusing to listen on non-loopback address {host}: the emulator has no TLS and "
            "serves credentials; pass --allow-non-loopback if you really mean it"
        )
    from rotation.emulator import Emulator

    emu = Emulator(
        port=port,
        host=host,
        default_token_lifespan=token_lifespan,
        organization_id=organization_id,
        vault_id=vault_id,
    )
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
