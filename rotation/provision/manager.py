"""Store the VGS manager service account in Secrets Manager (the secret every rotated
document names as ``manager_secret_arn``).

    # from the environment (e.g. exported by your password manager's CLI)
    VGS_MANAGER_CLIENT_ID=... VGS_MANAGER_CLIENT_SECRET=... VGS_ORGANIZATION_ID=AC... \\
        vgs-rotate bootstrap-manager --secret-id vgs/dev/manager

    # or as JSON on stdin: {"client_id": ..., "client_secret": ..., "organization_id": ...}
    vgs-rotate bootstrap-manager --secret-id vgs/dev/manager --stdin < manager.json

    # or typed at a prompt (nothing echoed) when neither is given and stdin is a terminal

The client id and secret are never taken from the command line (shell history, ``ps``).
The secret must exist (the SAM stack creates it empty) unless ``--create`` is given.
Writing is idempotent: when the stored value already equals the new one, nothing is
written. ``--verify-token-url`` first mints a token with the credentials, so a typo is
caught before it reaches the secret. Every AWS call honours ``AWS_ENDPOINT_URL`` and the
region environment, so the same command works against moto's server.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

ENV_CLIENT_ID = "VGS_MANAGER_CLIENT_ID"
ENV_CLIENT_SECRET = "VGS_MANAGER_CLIENT_SECRET"
ENV_ORGANIZATION = "VGS_ORGANIZATION_ID"


class BootstrapError(Exception):
    """Something to tell the operator; never holds a secret value."""


@dataclass(frozen=True)
class Result:
    arn: str
    version_id: str | None
    changed: bool
    created: bool


def manager_document(client_id: str, client_secret: str, organization_id: str | None) -> str:
    """The manager secret's JSON, validated by the same parser the rotation uses."""
    from rotation.document import DocumentError, parse_manager

    doc: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
    if organization_id:
        doc["organization_id"] = organization_id
    try:
        parse_manager(doc)
    except DocumentError as exc:
        raise BootstrapError(str(exc)) from None
    return json.dumps(doc, sort_keys=True)


def read_credentials(
    *,
    use_stdin: bool,
    environ: Mapping[str, str] = os.environ,
    stdin: TextIO | None = None,
    organization_id: str | None = None,
) -> tuple[str, str, str | None]:
    """(client_id, client_secret, organization_id) from stdin JSON, the environment or a prompt."""
    stdin = stdin or sys.stdin
    if use_stdin:
        try:
            data = json.loads(stdin.read())
        except ValueError:
            raise BootstrapError("stdin is not a JSON object with client_id and client_secret") from None
        if not isinstance(data, dict):
            raise BootstrapError("stdin is not a JSON object with client_id and client_secret")
        org = organization_id or data.get("organization_id")
        return str(data.get("client_id") or ""), str(data.get("client_secret") or ""), org
    client_id = environ.get(ENV_CLIENT_ID, "")
    client_secret = environ.get(ENV_CLIENT_SECRET, "")
    org = organization_id or environ.get(ENV_ORGANIZATION) or None
    if not (client_id and client_secret):
        if not stdin.isatty():
            raise BootstrapError(f"set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, or pass --stdin with a JSON document")
        client_id = client_id or input("VGS manager client id: ").strip()
        client_secret = client_secret or getpass.getpass("VGS manager client secret (not echoed): ").strip()
    return client_id, client_secret, org


def verify(token_url: str, client_id: str, client_secret: str) -> str:
    """Mint a token with the credentials; return the granted client id (azp)."""
    from rotation.vgs import ClientCredentials, Secret, TokenClient, VGSHttp, errors

    with VGSHttp(timeout=10.0) as http:
        try:
            token = TokenClient(token_url, http=http).mint(ClientCredentials(client_id, Secret(client_secret)))
        except errors.VGSError as exc:
            raise BootstrapError(f"the credentials do not mint a token at {token_url}: {exc}") from None
    return str(token.client_id or client_id)


def store(
    secret_id: str,
    value: str,
    *,
    create: bool = False,
    kms_key_id: str | None = None,
    client: Any | None = None,
) -> Result:
    """Write ``value`` as the secret's AWSCURRENT (or create the secret); idempotent."""
    from botocore.exceptions import ClientError

    from rotation.aws_store import _error

    if client is None:
        from rotation.aws_store import secretsmanager_client

        client = secretsmanager_client()
    try:
        current = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            current = None
        else:
            raise _error("get_secret_value", exc, secret_id) from None
    if current is not None and current.get("SecretString") == value:
        return Result(current["ARN"], current.get("VersionId"), changed=False, created=False)
    try:
        if current is None:
            try:
                desc = client.describe_secret(SecretId=secret_id)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                if not create:
                    raise BootstrapError(
                        f"secret {secret_id} does not exist; deploy the stack first or pass --create"
                    ) from None
                kwargs: dict[str, Any] = {
                    "Name": secret_id,
                    "SecretString": value,
                    "Description": "VGS manager service account (vgs-rotation)",
                }
                if kms_key_id:
                    kwargs["KmsKeyId"] = kms_key_id
                out = client.create_secret(**kwargs)
                return Result(out["ARN"], out.get("VersionId"), changed=True, created=True)
            secret_id = desc["ARN"]
        out = client.put_secret_value(SecretId=secret_id, SecretString=value)
    except ClientError as exc:
        raise _error("put_secret_value", exc, secret_id) from None
    return Result(out["ARN"], out.get("VersionId"), changed=True, created=False)


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """The argparse entry of ``python -m infra.aws.bootstrap_manager``; ``vgs-rotate
    bootstrap-manager`` is the same through the CLI's error boundary."""
    from rotation.stores import StoreError

    out = stdout or sys.stdout
    parser = argparse.ArgumentParser(
        prog="vgs-rotate bootstrap-manager",
        description="Store the VGS manager service account in Secrets Manager. Credentials come from "
        f"{ENV_CLIENT_ID}/{ENV_CLIENT_SECRET}, from --stdin (JSON), or from a prompt; never from arguments.",
    )
    parser.add_argument("--secret-id", required=True, help="name or ARN (the stack's ManagerSecretArn output)")
    parser.add_argument("--organization-id", help=f"VGS organization id (default: ${ENV_ORGANIZATION})")
    parser.add_argument("--stdin", action="store_true", help="read a JSON document with client_id, client_secret")
    parser.add_argument("--create", action="store_true", help="create the secret when it does not exist")
    parser.add_argument("--kms-key-id", help="KMS key for --create (the stack's KmsKeyArn output)")
    parser.add_argument("--verify-token-url", help="mint a token at this VGS token URL before storing")
    args = parser.parse_args(argv)
    try:
        client_id, client_secret, org = read_credentials(
            use_stdin=args.stdin, stdin=stdin, organization_id=args.organization_id
        )
        value = manager_document(client_id, client_secret, org)
        if args.verify_token_url:
            verify(args.verify_token_url, client_id, client_secret)
            print(f"verified: the credentials mint a token at {args.verify_token_url}", file=out)
        result = store(args.secret_id, value, create=args.create, kms_key_id=args.kms_key_id)
    except (BootstrapError, StoreError) as exc:
        print(f"bootstrap_manager: {exc}", file=sys.stderr)
        return 1
    what = "created" if result.created else ("updated" if result.changed else "unchanged (same value)")
    print(f"{result.arn}: {what}; client id {client_id}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
