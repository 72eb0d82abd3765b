"""API calls of one full rotation, and the rotation handler's import cost.

    python bench/rotation_bench.py

Runs one service-account rotation (the four steps, as Secrets Manager drives them) against
moto's server and the emulator, counting Secrets Manager API calls and VGS HTTP calls, then
times ``import rotation.lambda_rotation`` against ``import boto3`` (Lambda cold starts pay it).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import import_seconds, table


def count_calls() -> tuple[int, int, dict[str, int]]:
    import boto3

    from rotation.aws_store import AwsSecretStore
    from rotation.core import Rotation
    from rotation.demo import local_stack
    from rotation.driver import run_local
    from rotation.issuers import default_issuer_factory
    from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, Secret, TokenClient, VGSHttp

    with local_stack() as (emu, _moto):
        boot = emu.bootstrap
        sm = boto3.client("secretsmanager")
        http = VGSHttp()
        auth = CachedTokenAuth(
            TokenClient(boot["token_url"], http=http),
            ClientCredentials(boot["client_id"], Secret(boot["client_secret"])),
        )
        initial = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http).create(
            name="bench", scopes=["cards:read"]
        )
        manager = sm.create_secret(
            Name="m", SecretString=json.dumps({"client_id": boot["client_id"], "client_secret": boot["client_secret"]})
        )["ARN"]
        hosts = {k: boot[k] for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url")}
        doc = {
            "kind": "service-account", "client_id": initial.client_id, "client_secret": initial.client_secret.reveal(),
            "organization_id": boot["organization_id"], "scopes": ["cards:read"], "manager_secret_arn": manager, "hosts": hosts,
        }  # fmt: skip
        arn = sm.create_secret(Name="s", SecretString=json.dumps(doc))["ARN"]
        run_local(
            Rotation(
                AwsSecretStore(), default_issuer_factory(), allow_new_version=True, require_rotation_enabled=False
            ),
            arn,
        )
        emu_before = sum(emu.request_counts.values())
        store = AwsSecretStore()
        vgs_calls = {"n": 0}

        def http_factory() -> VGSHttp:
            class Counting(VGSHttp):
                def _send_once(self, *a, **k):  # type: ignore[no-untyped-def]
                    vgs_calls["n"] += 1
                    return super()._send_once(*a, **k)

            return Counting()

        before = dict(emu.request_counts)
        run_local(
            Rotation(
                store,
                default_issuer_factory(http_factory=http_factory),
                allow_new_version=True,
                require_rotation_enabled=False,
            ),
            arn,
            token=str(uuid.uuid4()),
        )
        by_route = {k: v - before.get(k, 0) for k, v in emu.request_counts.items() if v - before.get(k, 0)}
        del emu_before
        return store.calls, vgs_calls["n"], by_route


def main() -> None:
    sm_calls, vgs_calls, by_route = count_calls()
    handler = import_seconds("rotation.lambda_rotation")
    boto3 = import_seconds("boto3")
    table(
        [
            ("Secrets Manager API calls, one rotation", str(sm_calls)),
            ("VGS HTTP calls, one rotation", str(vgs_calls)),
            ("VGS calls by route", ", ".join(f"{k}={v}" for k, v in sorted(by_route.items()))),
            ("import rotation.lambda_rotation", f"{handler * 1000:.1f} ms"),
            ("import boto3", f"{boto3 * 1000:.1f} ms"),
            ("handler import / boto3 import", f"{handler / boto3:.2f}"),
        ]
    )


if __name__ == "__main__":
    main()
