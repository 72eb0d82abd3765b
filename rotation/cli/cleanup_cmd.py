"""``vgs-rotate cleanup``: delete the orphaned VGS credentials that ``status`` reports."""

from __future__ import annotations

import sys

import click

from rotation.cli.common import EXIT_FAILED, EXIT_UNAVAILABLE, fail, issuers, secret_store


@click.command("cleanup")
@click.argument("secret_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@click.option("--http-timeout", type=float, default=10.0, show_default=True)
def cleanup(secret_id: str, yes: bool, http_timeout: float) -> None:
    """Delete the credentials made for SECRET_ID that no version uses (the orphans
    `vgs-rotate status` reports), after looking again at AWS and VGS.

    Prints what it will delete and asks first (--yes for scripts). Refuses, deleting
    nothing, when VGS cannot be listed or a rotation is under way. Credentials kept by
    `revoke: never` are not orphans and are left alone."""
    from rotation.status import cleanup as do_cleanup
    from rotation.status import inspect

    store = secret_store()
    vgs = issuers(http_timeout)
    info = inspect(store, vgs, secret_id)
    if info.orphans is None:
        reason = info.errors[0] if info.errors else "VGS was not listed"
        fail(f"{info.name}: refusing to clean up, orphans are not known: {reason}; nothing deleted", EXIT_UNAVAILABLE)
    if not info.orphans:
        click.echo(f"{info.name}: nothing to clean up (no orphaned credential at VGS)")
        return
    click.echo(f"{info.name}: {len(info.orphans)} credential(s) at VGS were made for this secret and no version uses:")
    for ref in info.orphans:
        click.echo(f"  {ref}")
    if not yes and not _confirmed("Delete them at VGS?"):
        fail("nothing deleted (not confirmed; --yes deletes without asking)", EXIT_FAILED)
    lines = do_cleanup(store, vgs, secret_id, info.orphans)
    for line in lines:
        click.echo(line)
    deleted = sum(1 for line in lines if line.startswith("deleted"))
    click.echo(f"{info.name}: deleted {deleted} of {len(info.orphans)} orphaned credential(s)")


def _confirmed(question: str) -> bool:
    """Ask on stderr; no answer (end of input) is a no. The answer ends the prompt's line
    even when it came from a pipe, so that an error line after it stands alone."""
    try:
        answer = click.confirm(question, default=False, err=True)
    except click.Abort:
        answer = False
    if not sys.stdin.isatty():
        click.echo("", err=True)
    return answer
