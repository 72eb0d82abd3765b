"""``vgs-rotate token``: mint an access token, or read the published one, and print it
(alone) on stdout. A published token that is expired (or about to be) is refused."""

from __future__ import annotations

import json

import click

from rotation.cli.common import EXIT_FAILED, fail, secret_from_env, vgs_http


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
@click.option("--from-secret", "from_secret", metavar="ID", help="Print the token the publisher wrote to this secret.")
@click.option("--from-vault", "from_vault", metavar="PATH", help="Print the token published at this KV v2 path.")
@click.option("--vault-addr", help="Vault/OpenBao address (default: VAULT_ADDR); the token comes from VAULT_TOKEN.")
@click.option(
    "--min-remaining",
    type=float,
    default=30.0,
    show_default=True,
    help="With --from-*, refuse a published token with fewer seconds of life left.",
)
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
    from_secret: str | None,
    from_vault: str | None,
    vault_addr: str | None,
    min_remaining: float,
) -> None:
    """Mint an access token with client credentials and print it on stdout.

    The client secret is read from the environment (VGS_CLIENT_SECRET), never from
    arguments, so it stays out of shell history and process listings.
    """
    from rotation.vgs import ClientCredentials, Secret, TokenClient

    if from_secret or from_vault:
        if client_id or token_url or (from_secret and from_vault):
            raise click.UsageError("give one of --from-secret, --from-vault or --client-id/--token-url")
        _print_published(from_secret, from_vault, vault_addr, min_remaining, as_json, show_secrets)
        return
    if not client_id or not token_url:
        raise click.UsageError("--client-id and --token-url are required")
    credentials = ClientCredentials(client_id, Secret(secret_from_env(secret_env)))
    with vgs_http(timeout, attempts=3) as http:
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


def _print_published(
    from_secret: str | None,
    from_vault: str | None,
    vault_addr: str | None,
    min_remaining: float,
    as_json: bool,
    show_secrets: bool,
) -> None:
    import time

    from rotation.consumer import SecretsManagerTokenSource, TokenSource, VaultTokenSource

    source: TokenSource
    if from_secret:
        source = SecretsManagerTokenSource(from_secret)
    else:
        from rotation.vault_store import VaultKV

        assert from_vault is not None
        source = VaultTokenSource(from_vault, kv=VaultKV(url=vault_addr))
    published = source.fetch()
    left = published.remaining(time.time())
    if left <= min_remaining:
        state = f"expired {-left:.0f} s ago" if left <= 0 else f"expires in {left:.0f} s (under --min-remaining)"
        fail(
            f"the token in {source.description} {state}; refusing to print it (is the publisher running?)",
            EXIT_FAILED,
        )
    if as_json:
        body = published.as_dict() if show_secrets else published.public_dict()
        click.echo(json.dumps({**body, "expires_in": int(left)}, indent=2))
    else:
        click.echo(published.access_token.reveal())
