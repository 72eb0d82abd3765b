"""``vgs-rotate rotate`` and ``vgs-rotate status``: the manual trigger and its dashboard."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from rotation.cli.common import EXIT_FAILED, fail
from rotation.cli.fleet_cmd import fleet_options, run_fleet

if TYPE_CHECKING:
    from rotation.aws_store import AwsSecretStore
    from rotation.issuers import IssuerFactory


def _store() -> AwsSecretStore:
    from rotation.aws_store import AwsSecretStore

    return AwsSecretStore()


def _issuers(timeout: float) -> IssuerFactory:
    from rotation.issuers import default_issuer_factory

    return default_issuer_factory(http_timeout=timeout)


@click.command("rotate")
@click.argument("secret_id")
@click.option("--local", is_flag=True, help="Run the four steps in this process, as Secrets Manager would.")
@click.option(
    "--rotate-immediately/--no-rotate-immediately",
    default=True,
    show_default=True,
    help="Without --local: with --no-rotate-immediately Secrets Manager runs testSecret only.",
)
@click.option("--timeout", type=float, default=300.0, show_default=True, help="Seconds to follow the rotation.")
@click.option("--interval", type=float, default=2.0, show_default=True, help="Seconds between status polls.")
@click.option("--http-timeout", type=float, default=10.0, show_default=True, help="VGS HTTP timeout (--local).")
def rotate(
    secret_id: str, local: bool, rotate_immediately: bool, timeout: float, interval: float, http_timeout: float
) -> None:
    """Rotate SECRET_ID now and follow it until it succeeds or fails (exit code tells).

    By default this asks Secrets Manager (RotateSecret), which invokes the rotation
    function; --local runs the steps here, for break-glass and places without the Lambda.
    """
    from rotation.core import Rotation

    store = _store()
    if local:
        from rotation.driver import run_local

        rotation = Rotation(store, _issuers(http_timeout), allow_new_version=True, require_rotation_enabled=False)

        def show(step: str, phase: str) -> None:
            if phase == "start":
                click.echo(f"  {step:<13} ...", nl=False)
            else:
                click.echo(" ok")

        try:
            version = run_local(rotation, secret_id, on_step=show)
        except BaseException:
            click.echo(" FAILED")
            raise
        click.echo(f"rotated {secret_id}: new AWSCURRENT version {version}")
        return

    from botocore.exceptions import BotoCoreError, ClientError

    from rotation.driver import follow

    try:
        out = store.client.rotate_secret(SecretId=secret_id, RotateImmediately=rotate_immediately)
    except (ClientError, BotoCoreError) as exc:
        from rotation.aws_store import _error

        raise _error("rotate_secret", exc, secret_id) from None
    version = out.get("VersionId", "")
    click.echo(f"rotation started for {secret_id}: version {version}")
    if not rotate_immediately:
        click.echo("testSecret only (RotateImmediately=false): see the rotation function's logs for the result")
        return
    result = follow(store, secret_id, version, timeout=timeout, interval=interval)
    if not result.succeeded:
        fail(result.detail, EXIT_FAILED)
    click.echo(f"rotated {secret_id}: {result.detail}")


@click.command("status")
@click.argument("secret_id", required=False)
@click.option("--repair", is_flag=True, help="Clear a stuck AWSPENDING safely (deletes its unused VGS credential).")
@click.option("--no-vgs", is_flag=True, help="Only read Secrets Manager; do not ask VGS.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--http-timeout", type=float, default=10.0, show_default=True)
@fleet_options
def status(secret_id: str | None, repair: bool, no_vgs: bool, as_json: bool, http_timeout: float, **fleet: Any) -> None:
    """Show SECRET_ID's versions and stages, the VGS credentials behind them, and any
    stuck AWSPENDING or orphaned credential; with --all, every rotated secret, one row
    each. Never prints a secret."""
    all_secrets = fleet.pop("all_secrets")
    if all_secrets and not secret_id and not repair:  # the fleet view: rotation.cli.fleet_cmd
        return run_fleet(as_json=as_json, no_vgs=no_vgs, http_timeout=http_timeout, **fleet)
    if all_secrets or not secret_id:
        raise click.UsageError("give SECRET_ID, or --all (without SECRET_ID or --repair)")
    from rotation.status import inspect
    from rotation.status import repair as do_repair

    store = _store()
    issuers = None if no_vgs else _issuers(http_timeout)
    if repair:
        for line in do_repair(store, issuers or _issuers(http_timeout), secret_id):
            click.echo(f"repair: {line}")
    info = inspect(store, issuers, secret_id)
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2))
        return
    click.echo(f"secret   {info.name}")
    click.echo(f"arn      {info.arn}")
    click.echo(f"rotation {'enabled' if info.rotation_enabled else 'not enabled'}")
    click.echo(f"{'VERSION':<38} {'STAGES':<24} {'CREDENTIAL':<34} AT VGS")
    for v in info.versions:
        stages = ",".join(v.stages)
        credential = v.credential or f"({v.problem})" if v.problem else v.credential or "-"
        click.echo(f"{v.version_id:<38} {stages:<24} {credential:<34} {v.at_vgs}")
    if info.stuck_pending:
        click.echo(
            f"STUCK: AWSPENDING is on version {info.stuck_pending}, not AWSCURRENT; later rotations fail "
            "until it is cleared (`vgs-rotate status SECRET_ID --repair`)"
        )
    if info.orphans:
        click.echo(f"orphans: credentials made for this secret that no version uses: {', '.join(info.orphans)}")
    if info.vgs_error:
        click.echo(f"VGS not checked: {info.vgs_error}")
