"""``vgs-rotate adopt``: bring an existing VGS credential under rotation in one command.

A thin adapter over :mod:`rotation.onboarding.adopt`: reads the credential's secret (from an
environment variable or stdin, never an argument), the hosts, and the flags; prints what was
done (or, with ``--dry-run``, what would be, and the document with its secret masked).
Refusals and failures go to the error boundary as one line.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from rotation.cli.common import issuers, read_json_object, secret_from_env, secret_from_stdin, secret_store, vgs_http

if TYPE_CHECKING:
    from rotation.onboarding.adopt import AdoptResult
    from rotation.onboarding.request import AdoptRequest

_DEFAULT_ENV = {"service-account": "VGS_CLIENT_SECRET", "access-credentials": "VGS_CREDENTIAL_PASSWORD"}
_HOST_HELP = "token_url, accounts_url, vault_management_url, cmp_url, vault_api_url, jwks_url"
_VGS_ATTEMPTS = 3  # tries per VGS call unless VGS_MAX_ATTEMPTS says otherwise


def _read_secret(kind: str, secret_env: str | None, from_stdin: bool) -> tuple[str, str]:
    """(secret, where it came from). Never from an argument: shell history and ``ps`` keep those."""
    what = "client secret" if kind == "service-account" else "password"
    if from_stdin:
        source = "the prompt" if sys.stdin.isatty() else "stdin"
        return secret_from_stdin(what, "--secret-stdin"), source
    env = secret_env or _DEFAULT_ENV[kind]
    return secret_from_env(env, what, "or pipe it in with --secret-stdin"), env


def _hosts(hosts_file: str | None, host: tuple[str, ...], allow_insecure_http: bool) -> dict[str, Any] | None:
    """None when no host option was given: adopt then keeps the hosts of a document the
    secret already holds, else VGS live."""
    from rotation.onboarding.request import HOST_KEYS

    if not hosts_file and not host and not allow_insecure_http:
        return None
    hosts: dict[str, Any] = {}
    if hosts_file:
        data = read_json_object(hosts_file, "--hosts")
        hosts.update({k: data[k] for k in HOST_KEYS if isinstance(data.get(k), str) and data[k]})
        if data.get("allow_insecure_http") is True:
            hosts["allow_insecure_http"] = True
    for item in host:
        key, sep, url = item.partition("=")
        if not sep or key not in HOST_KEYS or not url:
            raise click.UsageError(f"--host {item!r}: give KEY=URL with KEY one of {_HOST_HELP}")
        hosts[key] = url
    if allow_insecure_http:
        hosts["allow_insecure_http"] = True
    return hosts


@click.command("adopt")
@click.argument("secret_id", metavar="SECRET")
@click.option("--client-id", help="The service account to adopt (its secret: VGS_CLIENT_SECRET or --secret-stdin).")
@click.option(
    "--credential-id", help="Or the access credential to adopt (its password: VGS_CREDENTIAL_PASSWORD or stdin)."
)
@click.option(
    "--manager-secret-arn", required=True, metavar="ARN", help="The manager secret (name or ARN; stored as its ARN)."
)
@click.option("--secret-env", metavar="VAR", help="Environment variable holding the credential's secret.")
@click.option("--secret-stdin", is_flag=True, help="Read the credential's secret from stdin (one line).")
@click.option("--organization-id", help="VGS organization (default: organization_id of the manager secret).")
@click.option("--vault-id", help="Access credentials: the vault they belong to.")
@click.option("--name", help="Base name of the accounts rotations create (1-11 characters; default: VGS's name).")
@click.option(
    "--revoke",
    type=click.Choice(["next-rotation", "immediate", "never"]),
    help="The document's revoke policy [next-rotation].",
)
@click.option(
    "--hosts", "hosts_file", type=click.Path(dir_okay=False), help="JSON file with VGS URLs (the emulator's bootstrap)."
)
@click.option("--host", multiple=True, metavar="KEY=URL", help=f"One VGS URL; KEY: {_HOST_HELP}.")
@click.option("--allow-insecure-http", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@click.option("--cmp-probe/--no-cmp-probe", default=None, help="Probe CMP when testing service accounts [on].")
@click.option("--kms-key-id", help="KMS key for a secret adopt creates (the stack's KmsKeyArn).")
@click.option("--rotation-function", metavar="ARN", help="Also configure rotation with this function...")
@click.option("--schedule", metavar="EXPR", help="...on this schedule: rate(N hours|days) or cron(0 ...), >= 4 h.")
@click.option("--rotate-immediately", is_flag=True, help="Rotate as soon as rotation is configured.")
@click.option(
    "--publish-to",
    multiple=True,
    metavar="SECRET|kv:PATH",
    help="Set up this token destination (created if missing, first token published).",
)
@click.option(
    "--publisher-config", type=click.Path(dir_okay=False), help="Add the publisher target to this JSON config file."
)
@click.option(
    "--vault-addr", help="For kv: destinations: Vault/OpenBao address (default: VAULT_ADDR; token: VAULT_TOKEN)."
)
@click.option("--force", is_flag=True, help="Replace another credential the secret holds.")
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing; print the document (masked).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (secrets masked).")
@click.option("--http-timeout", type=float, default=10.0, show_default=True, help="VGS HTTP timeout in seconds.")
def adopt(
    secret_id: str,
    client_id: str | None,
    credential_id: str | None,
    manager_secret_arn: str,
    secret_env: str | None,
    secret_stdin: bool,
    organization_id: str | None,
    vault_id: str | None,
    name: str | None,
    revoke: str | None,
    hosts_file: str | None,
    host: tuple[str, ...],
    allow_insecure_http: bool,
    cmp_probe: bool | None,
    kms_key_id: str | None,
    rotation_function: str | None,
    schedule: str | None,
    rotate_immediately: bool,
    publish_to: tuple[str, ...],
    publisher_config: str | None,
    vault_addr: str | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
    http_timeout: float,
) -> None:
    """Turn an existing VGS credential into the rotated secret SECRET (created, or a new version).

    Reads the credential at VGS through the manager (scopes, vaults, lifespan, name), proves
    the given secret with the rotation's own testSecret checks, then writes the document and,
    when asked, configures rotation and a publisher destination. Refuses, writing nothing, when
    anything is wrong. Without --rotate-immediately, rotation is configured with
    RotateImmediately=false: nothing rotates until the schedule's next window.
    """
    if bool(client_id) == bool(credential_id):
        raise click.UsageError(
            "give exactly one of --client-id (service account) or --credential-id (access credential)"
        )
    from rotation.onboarding.request import AdoptRequest
    from rotation.vgs import Secret

    kind = "service-account" if client_id else "access-credentials"
    secret, source = _read_secret(kind, secret_env, secret_stdin)
    request = AdoptRequest(
        secret_id=secret_id, manager_secret=manager_secret_arn, kind=kind, credential=client_id or credential_id or "",
        secret=Secret(secret), secret_source=source, organization_id=organization_id, vault_id=vault_id,
        hosts=_hosts(hosts_file, host, allow_insecure_http), name=name, revoke=revoke, cmp_probe=cmp_probe,
        kms_key_id=kms_key_id, rotation_function=rotation_function, schedule=schedule,
        rotate_immediately=rotate_immediately, publish_to=publish_to, publisher_config=publisher_config, force=force,
    )  # fmt: skip
    _check_arguments(request)
    _print(_run(request, dry_run, http_timeout, vault_addr), as_json)


def _check_arguments(request: AdoptRequest) -> None:
    """What is wrong with the arguments whatever AWS and VGS hold: a usage error (exit 2),
    before Secrets Manager or VGS is asked anything."""
    from rotation.onboarding.publishing import parse_destinations
    from rotation.onboarding.request import AdoptError

    try:
        request.check()
        parse_destinations(request.publish_to)
    except AdoptError as exc:
        raise click.UsageError(f"not adopted, nothing written: {exc}") from None


def _run(request: AdoptRequest, dry_run: bool, http_timeout: float, vault_addr: str | None) -> AdoptResult:
    """Adopt over the transports every command uses: Secrets Manager with its retry progress
    lines, VGS with ``VGS_MAX_ATTEMPTS`` tries per call (progress lines too). Refusals and
    failures go to the error boundary (:mod:`rotation.cli.errors`)."""
    from rotation.onboarding.adopt import Adoption
    from rotation.vault_store import VaultKV  # connects (and imports hvac) only for a kv: destination

    vgs_issuers = issuers(http_timeout, _VGS_ATTEMPTS)  # VGS_MAX_ATTEMPTS checked before anything is asked
    store = secret_store()
    with vgs_http(http_timeout, _VGS_ATTEMPTS) as http:
        return Adoption(store, vgs_issuers, http, kv=VaultKV(url=vault_addr)).run(request, dry_run=dry_run)


def _print(result: AdoptResult, as_json: bool) -> None:
    if as_json:
        out = {
            "secret": result.secret,
            "kind": result.found.kind,
            "credential": result.found.ref,
            "dry_run": result.dry_run,
            "actions": list(result.actions),
            "notes": list(result.notes),
            "publisher_target": result.publisher_target,
            "document": result.masked_document(),
        }
        click.echo(json.dumps(out, indent=2))
        return
    if result.dry_run:
        click.echo("dry run: checked everything, wrote nothing")
    click.echo(f"adopting {result.found.summary()}")
    click.echo("  the given secret passes the rotation's testSecret checks")
    verb = "would" if result.dry_run else "done"
    for action in result.actions:
        click.echo(f"{verb}: {action}")
    if not result.actions:
        click.echo("nothing to write: already adopted")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.publisher_target:
        click.echo(
            "publisher target (add it to the publisher's configuration, e.g. the stack's PublisherConfig): "
            + json.dumps(result.publisher_target, sort_keys=True)
        )
    if result.dry_run:
        click.echo("document (secrets masked):")
        click.echo(json.dumps(result.masked_document(), indent=2, sort_keys=True))
    else:
        click.echo(f"next: vgs-rotate doctor {result.secret}")
    sys.stdout.flush()
