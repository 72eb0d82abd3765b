"""``vgs-rotate rotate`` and ``vgs-rotate status``: the manual trigger and its dashboard."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import click

from rotation.cli.common import EXIT_FAILED, EXIT_UNAVAILABLE, fail, issuers, secret_store
from rotation.cli.fleet_cmd import fleet_options, run_fleet

if TYPE_CHECKING:
    from rotation.status import SecretStatus


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
    from rotation.driver import credential_at, follow, preflight, run_local, verify

    store = secret_store()
    if local:
        from rotation.core import Rotation

        before = credential_at(store, secret_id, store.describe(secret_id).version_with("AWSCURRENT"))
        rotation = Rotation(store, issuers(http_timeout), allow_new_version=True, require_rotation_enabled=False)
        began: dict[str, float] = {}

        def show(step: str, phase: str) -> None:
            if phase == "start":
                began[step] = time.perf_counter()
            else:
                click.echo(f"  [{_STEPS.index(step) + 1}/4] {step:<13} ok      {_ms(began[step])}")

        try:
            version = run_local(rotation, secret_id, on_step=show)
        except BaseException:
            step = next((s for s in reversed(_STEPS) if s in began), _STEPS[0])
            click.echo(f"  [{_STEPS.index(step) + 1}/4] {step:<13} FAILED  {_ms(began.get(step))}")
            raise
        result = verify(store, secret_id, version, before=before)
        if not result.succeeded:
            fail(f"{secret_id}: the steps ran but {result.detail}", EXIT_FAILED)
        click.echo(f"rotated {secret_id}: {result.detail}")
        return

    from botocore.exceptions import BotoCoreError, ClientError

    desc = preflight(store, secret_id)
    previous_current = desc.version_with("AWSCURRENT")
    before = credential_at(store, secret_id, previous_current)
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
    click.echo(f"following it: up to {timeout:.0f} s, until the version holds AWSCURRENT (then checked)")
    result = follow(
        store, secret_id, version, before=before, previous_current=previous_current, timeout=timeout, interval=interval
    )
    if not result.succeeded:
        fail(f"{secret_id}: {result.detail}", EXIT_FAILED)
    click.echo(f"rotated {secret_id}: {result.detail}")


_STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def _ms(since: float | None) -> str:
    return f"{(time.perf_counter() - since) * 1000:8.1f} ms" if since is not None else ""


@click.command("status")
@click.argument("secret_id", required=False)
@click.option("--repair", is_flag=True, help="Clear a stuck AWSPENDING safely (deletes its unused VGS credential).")
@click.option("--no-vgs", is_flag=True, help="Only read Secrets Manager; do not ask VGS.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (unknown values are null).")
@click.option("--http-timeout", type=float, default=10.0, show_default=True)
@fleet_options
def status(secret_id: str | None, repair: bool, no_vgs: bool, as_json: bool, http_timeout: float, **fleet: Any) -> None:
    """Show SECRET_ID's versions and stages, the VGS credentials behind them, and any
    stuck AWSPENDING or orphaned credential; with --all, every rotated secret, one row
    each. Never prints a secret.

    Exit 0 when every check passed, 1 when one failed (stuck AWSPENDING, unusable or
    deleted AWSCURRENT, orphans), 4 when something could not be checked (then the text
    says what, and JSON has null values and an "errors" list)."""
    all_secrets = fleet.pop("all_secrets")
    if all_secrets and not secret_id and not repair:  # the fleet view: rotation.cli.fleet_cmd
        return run_fleet(as_json=as_json, no_vgs=no_vgs, http_timeout=http_timeout, **fleet)
    if all_secrets or not secret_id:
        raise click.UsageError("give SECRET_ID, or --all (without SECRET_ID or --repair)")
    from rotation.status import inspect
    from rotation.status import repair as do_repair

    store = secret_store()
    vgs = None if no_vgs else issuers(http_timeout)
    if repair:
        for line in do_repair(store, vgs or issuers(http_timeout), secret_id):
            click.echo(f"repair: {line}")
    info = inspect(store, vgs, secret_id)
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2))
    else:
        _print_status(info, no_vgs)
    problems = info.problems
    if problems:
        more = f" (and {len(problems) - 1} more problem(s), listed above)" if len(problems) > 1 else ""
        fail(f"{info.name}: {problems[0].removeprefix('STUCK: ')}{more}", EXIT_FAILED)
    if info.errors:
        fail(f"{info.name}: could not check everything: {info.errors[0]}", EXIT_UNAVAILABLE)


def _print_status(info: SecretStatus, no_vgs: bool) -> None:
    not_known = "not checked" if no_vgs else "unknown"
    click.echo(f"secret   {info.name}")
    click.echo(f"arn      {info.arn}")
    function = f", function {info.rotation_function}" if info.rotation_function else ", no rotation function"
    click.echo(f"rotation {'enabled' if info.rotation_enabled else 'not enabled'}{function}")
    click.echo(f"{'VERSION':<38} {'STAGES':<24} {'CREDENTIAL':<34} AT VGS")
    for v in info.versions:
        stages = ",".join(v.stages)
        credential = f"({v.problem})" if v.problem else v.credential or "(not readable)"
        click.echo(f"{v.version_id:<38} {stages:<24} {credential:<34} {v.at_vgs or not_known}")
    if info.orphans is None:
        click.echo(f"orphans  {not_known}")
    else:
        click.echo(f"orphans  {', '.join(info.orphans) or 'none'}")
    if info.retained:
        click.echo(f"retained {', '.join(info.retained)} (revoke: never keeps them)")
    for problem in info.problems:
        click.echo(problem if problem.startswith("STUCK") else f"PROBLEM: {problem}")
    for error in info.errors:
        click.echo(f"UNKNOWN: {error}")
    if no_vgs:
        click.echo("VGS not checked (--no-vgs): credential presence and orphans are not known")
