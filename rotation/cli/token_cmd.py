"""``vgs-rotate token``: mint an access token and print it (alone) on stdout."""

from __future__ import annotations

import json

import click

from rotation.cli.common import handle_errors, secret_from_env


@click.command("token")
@click.option("--client-id", help="Service account client id.")
@click.option("--token-url", help="OAuth2 token endpoint (any standards-compliant server).")
@click.option(
    "--secret-env",
    default="VGS_CLIENT_SECRET",
    show_default=True,
    help="Environment variable holding the client secret.",
)
@click.option("--scope", help="Scopes to request (space separated); optional VGS scopes must be asked for.")
@click.option("--basic", "use_basic", is_flag=True, help="Authenticate with HTTP Basic instead of form fields.")
@click.option("--jwks-url", help="Verify the token's signature against this JWKS URL.")
@click.option("--allow-insecure-http", is_flag=True, help="Allow plain http:// to a non-loopback host.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="HTTP timeout in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the token response as JSON (token masked).")
@click.option("--show-secrets", is_flag=True, help="With --json, print the token unmasked.")
@handle_errors
def token(
    client_id: str | None,
    token_url: str | None,
    secret_env: str,
    scope: str | None,
    use_basic: bool,
    jwks_url: str | None,
    allow_insecure_http: bool,
    timeout: float,
    as_json: bool,
    show_secrets: bool,
) -> None:
    """Mint an access token with client credentials and print it on stdout.

    The client secret is read from the environment (VGS_CLIENT_SECRET), never from
    arguments, so it stays out of shell history and process listings.
    """
    from rotation.vgs import ClientCredentials, RetryPolicy, Secret, TokenClient, VGSHttp

    if not client_id or not token_url:
        raise click.UsageError("--client-id and --token-url are required")
    credentials = ClientCredentials(client_id, Secret(secret_from_env(secret_env)))
    with VGSHttp(timeout=timeout, retry=RetryPolicy(max_attempts=3, max_total=timeout * 3)) as http:
        client = TokenClient(
            token_url,
            http=http,
            auth_method="basic" if use_basic else "post",
            jwks_url=jwks_url,
            verify_signature=bool(jwks_url),
            allow_insecure_http=allow_insecure_http,
        )
        minted = client.mint(credentials, scope=scope)
    if as_json:
        click.echo(json.dumps(minted.public_dict(show_token=show_secrets), indent=2))
    else:
        click.echo(minted.access_token.reveal())
