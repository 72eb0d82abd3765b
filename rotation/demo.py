"""The demo: two full rotations on the embedded VGS emulator and moto's Secrets Manager.

No AWS account and no network: both servers run in this process on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rotation.document import example_document

Echo = Callable[[str], None]

_SCOPES = ["cards:read", "cards:write"]
_STEP_TEXT = {
    "createSecret": "create a new service account through the manager, store it as AWSPENDING",
    "setSecret": "nothing to push: VGS generated the secret",
    "testSecret": "mint a token with it, check azp and scopes, probe CMP",
    "finishSecret": "promote to AWSCURRENT, delete what leaves the overlap window",
}


@contextmanager
def local_stack() -> Iterator[tuple[Any, str]]:
    """The emulator and moto's server on loopback, with boto3 pointed at moto."""
    from moto.server import ThreadedMotoServer

    from rotation.emulator import Emulator

    # moto's server logs every request through werkzeug, which resets its own level: a
    # filter on the logger holds whatever the level.
    logging.getLogger("werkzeug").addFilter(lambda record: record.levelno >= logging.WARNING)
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
    )
    try:
        with Emulator(port=0) as emulator:
            yield emulator, f"http://{host}:{port}"
    finally:
        moto.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_demo(echo: Echo, *, rotations: int = 2) -> bool:
    """Run the demo, printing as it goes. Returns True when every check passed."""
    import boto3

    from rotation.aws_store import AwsSecretStore
    from rotation.core import Rotation
    from rotation.driver import run_local
    from rotation.issuers import default_issuer_factory
    from rotation.vgs import (
        AccountsClient,
        CachedTokenAuth,
        ClientCredentials,
        CMPProbe,
        Secret,
        TokenClient,
        VGSHttp,
        errors,
    )

    with local_stack() as (emulator, moto_url):
        boot = emulator.bootstrap
        echo(f"VGS emulator            {emulator.url}")
        echo(f"  organization {boot['organization_id']}, vault {boot['vault_id']}")
        echo(f"Secrets Manager (moto)  {moto_url}")
        sm = boto3.client("secretsmanager")
        http = VGSHttp(timeout=5.0)
        tokens = TokenClient(boot["token_url"], http=http)
        manager = ClientCredentials(boot["client_id"], Secret(boot["client_secret"]))
        accounts = AccountsClient(
            boot["accounts_url"], boot["organization_id"], auth=CachedTokenAuth(tokens, manager), http=http
        )

        manager_arn = sm.create_secret(
            Name="vgs/demo/manager",
            SecretString=json.dumps({"client_id": manager.client_id, "client_secret": manager.client_secret.reveal()}),
        )["ARN"]
        initial = accounts.create(name="cmp-app", scopes=_SCOPES, vaults=[boot["vault_id"]], access_token_lifespan=1200)
        hosts = {
            k: boot[k]
            for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url", "vault_api_url", "jwks_url")
        }
        document = example_document(
            manager_secret_arn=manager_arn, hosts=hosts, client_id=initial.client_id,
            client_secret=initial.client_secret.reveal(), organization_id=boot["organization_id"],
            vault_ids=[boot["vault_id"]], scopes=_SCOPES,
        )  # fmt: skip
        secret_arn = sm.create_secret(Name="vgs/demo/cmp-app", SecretString=json.dumps(document))["ARN"]
        echo(f"manager secret          {manager_arn}")
        echo(f"rotated secret          {secret_arn}")
        echo(f"initial service account {initial.client_id}  scopes {' '.join(_SCOPES)}")

        rotation = Rotation(
            AwsSecretStore(),
            default_issuer_factory(http_timeout=5.0),
            allow_new_version=True,
            require_rotation_enabled=False,
        )
        history = [initial.client_id]
        started: dict[str, float] = {}

        def show(step: str, phase: str) -> None:
            if phase == "start":
                started[step] = time.perf_counter()
                return
            index = list(_STEP_TEXT).index(step) + 1
            took = (time.perf_counter() - started[step]) * 1000
            echo(f"  [{index}/4] {step:<13} ok  {took:6.1f} ms  {_STEP_TEXT[step]}")

        for n in range(1, rotations + 1):
            echo("")
            echo(f"Rotation {n}/{rotations}")

            version = run_local(rotation, secret_arn, on_step=show)
            current = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
            history.append(current["client_id"])
            echo(f"  AWSCURRENT is now version {version[:8]}...  service account {current['client_id']}")

        echo("")
        echo("Result")
        present = {a.client_id for a in accounts.list()}
        stage_of = {}
        for version_id, stages in sm.describe_secret(SecretId=secret_arn)["VersionIdsToStages"].items():
            raw = sm.get_secret_value(SecretId=secret_arn, VersionId=version_id)["SecretString"]
            stage_of[json.loads(raw)["client_id"]] = ",".join(stages) or "-"
        ok = True
        for client_id in history:
            at_vgs = "live" if client_id in present else "deleted"
            echo(f"  {client_id:<32} {stage_of.get(client_id, '-'):<12} {at_vgs}")
        current = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
        token = tokens.mint(ClientCredentials(current["client_id"], Secret(current["client_secret"])))
        CMPProbe(boot["cmp_url"], http=http).check(token)
        echo(f"  AWSCURRENT mints: token for {token.client_id}, expires in {token.expires_in} s, CMP probe accepted it")
        try:
            tokens.mint(initial.credentials)
            echo("  UNEXPECTED: the first account still mints")
            ok = False
        except errors.InvalidCredentials:
            echo("  the first account was deleted by the second rotation: its secret no longer mints (invalid_client)")
        ok = ok and history[0] not in present and history[-1] in present and history[-2] in present
        http.close()
    echo("")
    echo("demo " + ("succeeded" if ok else "FAILED") + "; emulator and moto stopped")
    return ok
