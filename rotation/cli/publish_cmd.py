"""``vgs-rotate publish``: one publisher run, for cron or a Kubernetes job.

The same configuration as the Lambda (``--config FILE``), or one target from flags. Prints
a table of outcomes (never a token) and exits 1 if any target failed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from rotation.cli.common import EXIT_FAILED, fail, read_json_object, vgs_http


def _config(
    config_file: str | None,
    credential_secret: str | None,
    credential_vault_path: str | None,
    token_secret: str | None,
    vault_path: str | None,
    threshold: float | None,
    concurrency: int | None,
    vault_addr: str | None,
) -> Any:
    from rotation.publisher import PublishConfig

    data = read_json_object(config_file, "--config") if config_file else {"targets": []}
    flagged = {
        "credential_secret_id": credential_secret,
        "credential_vault_path": credential_vault_path,
        "token_secret_id": token_secret,
        "vault_path": vault_path,
    }
    if any(flagged.values()):
        data["targets"] = [*data.get("targets", []), {k: v for k, v in flagged.items() if v}]
    if not data.get("targets"):
        raise click.UsageError("give --config FILE, or --credential-secret ID with --token-secret ID / --vault-path")
    if threshold is not None:
        data["refresh_threshold_seconds"] = threshold
    if concurrency is not None:
        data["concurrency"] = concurrency
    if vault_addr:
        data["vault"] = {**data.get("vault", {}), "addr": vault_addr}
    return PublishConfig.from_mapping(data)


def _expires(expires_at: int | None) -> str:
    if expires_at is None:
        return "-"
    left = expires_at - time.time()
    return f"{left / 60:.0f} min" if left > 0 else "EXPIRED"


@click.command("publish")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="Publish config (JSON), as the Lambda's."
)
@click.option("--credential-secret", help="Secret (ID or ARN) holding the credential document (AWSCURRENT is used).")
@click.option("--credential-vault-path", help="Or a KV v2 path (MOUNT/PATH) holding the credential document.")
@click.option("--token-secret", help="Secret to publish the token to (put_secret_value).")
@click.option("--vault-path", help="KV v2 path (MOUNT/PATH) to publish the token to.")
@click.option("--threshold", type=float, help="Publish when less than this many seconds of life are left [720].")
@click.option("--concurrency", type=int, help="Targets published at once [8].")
@click.option("--vault-addr", help="Vault/OpenBao address (default: VAULT_ADDR). The token comes from VAULT_TOKEN.")
@click.option("--http-timeout", type=float, default=10.0, show_default=True, help="VGS HTTP timeout in seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print the run result as JSON.")
def publish(
    config_file: str | None,
    credential_secret: str | None,
    credential_vault_path: str | None,
    token_secret: str | None,
    vault_path: str | None,
    threshold: float | None,
    concurrency: int | None,
    vault_addr: str | None,
    http_timeout: float,
    as_json: bool,
) -> None:
    """Mint and publish access tokens whose published copy is missing, expiring, or from
    a credential that is no longer AWSCURRENT. Exit 1 if any target failed."""
    from rotation.publish_stores import build_publisher

    config = _config(
        config_file, credential_secret, credential_vault_path, token_secret, vault_path, threshold, concurrency,
        vault_addr,
    )  # fmt: skip
    http = vgs_http(http_timeout, attempts=4)
    with http:
        result = build_publisher(config, http=http).run(config.targets)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        rows = [
            (o.target, o.outcome, o.reason, o.client_id or "-", _expires(o.expires_at), o.error or o.warning or "")
            for o in result.outcomes
        ]
        head = ("TARGET", "OUTCOME", "REASON", "CLIENT ID", "EXPIRES IN", "DETAIL")
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
        for row in [head, *rows]:
            click.echo("  ".join(str(v).ljust(w) for v, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
        counts = result.counts()
        click.echo(
            f"{counts['published']} published, {counts['fresh-skipped']} fresh, {counts['failed']} failed "
            f"in {result.seconds:.2f} s"
        )
    if not result.ok:
        fail(*_failure(result.failed, len(result.outcomes)))


def _failure(failed: list[Any], total: int) -> tuple[str, int]:
    """One line for a run with failed targets. When every failure has the same class (no
    VAULT_TOKEN, VGS unreachable, ...), its exit code and what to fix; else exit 1."""
    from rotation.cli.errors import PREFIX, classify

    verdicts = [classify(o.cause) if o.cause is not None else (EXIT_FAILED, PREFIX + str(o.error)) for o in failed]
    codes = {code for code, _ in verdicts}
    first = verdicts[0][1].removeprefix(PREFIX)
    if len(codes) == 1:
        more = f" (and {len(failed) - 1} more failed target(s))" if len(failed) > 1 else ""
        return f"{len(failed)} of {total} targets failed; {failed[0].target}: {first}{more}", codes.pop()
    return f"{len(failed)} of {total} targets failed (see the table); {failed[0].target}: {first}", EXIT_FAILED
