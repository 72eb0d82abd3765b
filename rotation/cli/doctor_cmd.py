"""``vgs-rotate doctor SECRET_ID``: a read-only preflight of one rotated secret, as a
checklist (✓ passed, ✗ failed with what to do, ? could not check, - does not apply).

Exit codes: 0 every check passed; 1 at least one failed (a failure wins over an unknown:
it is certain and says what to do); 4 none failed but at least one could not check.
``--canary`` is the one write: a throwaway credential created, tested and deleted, after
a prompt (``--yes`` for scripts).
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import click

from rotation.cli.common import EXIT_FAILED, EXIT_UNAVAILABLE, fail, vgs_attempts

if TYPE_CHECKING:
    from rotation.health.doctor import Report, Tools
    from rotation.health.publication import Destination
    from rotation.stores import KVStore
    from rotation.vgs import RetryPolicy


def doctor_retry(http_timeout: float) -> RetryPolicy:
    """Few, quick tries (``VGS_MAX_ATTEMPTS`` overrides the 3): a check that cannot see says
    "unknown" soon rather than after half a minute of backoff."""
    from rotation.vgs import RetryPolicy

    return RetryPolicy(max_attempts=vgs_attempts(3), max_total=http_timeout * 2)


def build_tools(http_timeout: float, vault_addr: str | None = None, *, pool: int | None = None) -> Tools:
    """Secrets Manager (boto3), VGS transports with short, bounded retries, Vault when asked."""
    from rotation.aws_store import AwsSecretStore, secretsmanager_client
    from rotation.health.aws_catalog import AwsSecretCatalog
    from rotation.health.doctor import Tools
    from rotation.issuers import default_issuer_factory
    from rotation.vgs import VGSHttp

    client = secretsmanager_client(pool=pool)
    retry = doctor_retry(http_timeout)

    def http() -> VGSHttp:
        return VGSHttp(timeout=http_timeout, retry=retry)

    @functools.cache
    def kv() -> KVStore:
        from rotation.vault_store import VaultKV

        return VaultKV(url=vault_addr)

    return Tools(
        store=AwsSecretStore(client),
        catalog=AwsSecretCatalog(client),
        issuers=default_issuer_factory(http_timeout=http_timeout, http_factory=http),
        http=http,
        kv=kv,
    )


def read_publish_config(path: str) -> Any:
    """The publisher's configuration file (the Lambda's ``PublisherConfig``)."""
    from rotation.publisher import ConfigError, PublishConfig

    with open(path, encoding="utf-8") as fh:
        raw = fh.read()
    try:
        return PublishConfig.from_json(raw)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--publish-config") from None


@click.command("doctor")
@click.argument("secret_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option("--canary", is_flag=True, help="Also create, test and delete a throwaway credential (asks first).")
@click.option("--yes", is_flag=True, help="With --canary: do not ask.")
@click.option("--token-secret", multiple=True, metavar="ID", help="Check the token published to this secret.")
@click.option("--vault-path", multiple=True, metavar="PATH", help="Check the token published at this KV v2 path.")
@click.option("--vault-addr", help="Vault/OpenBao address (default: VAULT_ADDR). The token comes from VAULT_TOKEN.")
@click.option(
    "--publish-config", type=click.Path(dir_okay=False), help="Check where this publisher config sends the token."
)
@click.option(
    "--min-remaining",
    type=float,
    default=120.0,
    show_default=True,
    help="A published token with fewer seconds of life left is stale.",
)
@click.option("--http-timeout", type=float, default=10.0, show_default=True, help="VGS HTTP timeout in seconds.")
def doctor(
    secret_id: str,
    as_json: bool,
    canary: bool,
    yes: bool,
    token_secret: tuple[str, ...],
    vault_path: tuple[str, ...],
    vault_addr: str | None,
    publish_config: str | None,
    min_remaining: float,
    http_timeout: float,
) -> None:
    """Check everything the next rotation of SECRET_ID needs, and report each problem with
    what to do. Read-only, except --canary. Never prints a secret or a token.

    Exit 0: every check passed; 1: a check failed (✗); 4: none failed but one could not
    check (?)."""
    from rotation.health.doctor import Options, diagnose
    from rotation.health.publication import Destination, from_config

    destinations = [Destination("sm", t) for t in token_secret] + [Destination("kv", p) for p in vault_path]
    tools = build_tools(http_timeout, vault_addr)
    if publish_config:
        info = tools.catalog.info(secret_id)
        destinations += from_config(read_publish_config(publish_config), (info.arn, info.name, secret_id))
    if canary and not yes:
        click.confirm(
            f"--canary creates one throwaway credential of {secret_id}'s kind at VGS through its manager, tests it "
            "and deletes it. Continue?",
            abort=True,
            err=True,
        )
    report = diagnose(secret_id, tools, Options(tuple(_unique(destinations)), min_remaining, canary))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        render(report)
    finish(report)


def _unique(destinations: list[Destination]) -> list[Destination]:
    return list(dict.fromkeys(destinations))


def render(report: Report) -> None:
    from rotation.health.checks import SYMBOLS

    click.echo(f"doctor {report.name} ({report.arn})")
    width = max((len(c.title) for c in report.checks), default=0)
    for check in report.checks:
        click.echo(f"  {SYMBOLS[check.status]} {check.title:<{width}}  {check.detail}")
        if check.fix and check.status != "ok":
            click.echo(f"    {'':<{width}}  -> {check.fix}")
    if report.observations:
        click.echo("what VGS did where its docs are silent:")
        for o in report.observations:
            click.echo(f"  {o.question}")
            click.echo(f"    VGS: {o.answer or 'not seen (the canary did not get that far)'}")
            click.echo(f"    the project: {o.project}")
    counts = report.as_dict()["counts"]
    click.echo(
        f"{counts['ok']} passed, {counts['failed']} failed, {counts['unknown']} could not check, "
        f"{counts['skipped']} not applicable"
    )


def finish(report: Report) -> None:
    """Exit 1 if a check failed, else 4 if one could not check, else 0; one line on stderr."""
    failed = [c.title for c in report.checks if c.status == "failed"]
    unknown = [c.title for c in report.checks if c.status == "unknown"]
    if failed:
        fail(f"doctor: {len(failed)} check(s) failed for {report.name}: {', '.join(failed)}", EXIT_FAILED)
    if unknown:
        fail(
            f"doctor: {len(unknown)} check(s) of {report.name} could not check: {', '.join(unknown)}",
            EXIT_UNAVAILABLE,
        )
