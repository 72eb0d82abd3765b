"""The fleet view's wall time over 200 rotated secrets in moto's server, with VGS (the
emulator) and without, at several concurrencies.

    python bench/fleet_bench.py [--secrets 200] [--runs 3]

Each secret is tagged ``vgs-rotation:kind`` and holds a valid document (the emulator allows
50 service accounts per organization, so the 200 share 40 accounts); 20 other secrets are
not the project's and must not be listed. Every run is ``vgs-rotate status --all --json`` as
a user runs it (a fresh process), checked for the right number of rows; the figures are the
median wall time (interpreter start and imports included, shown apart) and the survey's own
time as the report gives it (``seconds``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table

ACCOUNTS = 40


def seed(emu, client, secrets: int) -> None:
    from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, Secret, TokenClient, VGSHttp

    boot = emu.bootstrap
    manager_arn = client.create_secret(
        Name="vgs/bench/manager",
        SecretString=json.dumps({"client_id": boot["client_id"], "client_secret": boot["client_secret"]}),
    )["ARN"]
    http = VGSHttp(timeout=10)
    auth = CachedTokenAuth(
        TokenClient(boot["token_url"], http=http), ClientCredentials(boot["client_id"], Secret(boot["client_secret"]))
    )
    accounts = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http)
    made = [accounts.create(name=f"bench-{i}", scopes=["cards:read"]) for i in range(ACCOUNTS)]
    hosts = {k: boot[k] for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url", "jwks_url")}

    def one(i: int) -> None:
        account = made[i % ACCOUNTS]
        doc = {
            "kind": "service-account",
            "client_id": account.client_id,
            "client_secret": account.client_secret.reveal(),
            "organization_id": boot["organization_id"],
            "vault_ids": [boot["vault_id"]],
            "scopes": ["cards:read"],
            "name": "bench",
            "manager_secret_arn": manager_arn,
            "hosts": hosts,
        }
        client.create_secret(
            Name=f"vgs/bench/rotated/{i:04d}",
            SecretString=json.dumps(doc),
            Tags=[{"Key": "vgs-rotation:kind", "Value": "service-account"}],
        )

    for i in range(secrets):  # sequentially: moto's backend is not safe for concurrent creates
        one(i)
    for i in range(20):
        client.create_secret(Name=f"other/{i}", SecretString="{}")
    http.close()


def timed(env: dict[str, str], expected: int, *args: str) -> tuple[float, float]:
    """(wall time of the command, the survey's own time as it reports it)."""
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rotation.cli", "status", "--all", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    seconds = time.perf_counter() - began
    report = json.loads(proc.stdout)
    if len(report["secrets"]) != expected or proc.returncode not in (0, 1):
        raise SystemExit(f"wrong answer (exit {proc.returncode}): {len(report['secrets'])} rows; {proc.stderr}")
    if "--no-vgs" not in args and any(r["orphans"] is None for r in report["secrets"]):
        raise SystemExit(f"VGS not seen: {report['secrets'][0]['errors']}")
    return seconds, float(report["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import boto3
    from moto.server import ThreadedMotoServer

    from rotation.emulator import Emulator

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    try:
        with Emulator(port=0) as emu:
            client = boto3.client(
                "secretsmanager",
                endpoint_url=env["AWS_ENDPOINT_URL"],
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            began = time.perf_counter()
            seed(emu, client, args.secrets)
            rows = [
                ("secrets (+20 not the project's)", str(args.secrets)),
                ("seeding", f"{time.perf_counter() - began:.1f} s"),
            ]
            for label, extra in (
                ("status --all --no-vgs, concurrency 8", ["--no-vgs"]),
                ("status --all, concurrency 1", ["--concurrency", "1"]),
                ("status --all, concurrency 8 (default)", []),
                ("status --all, concurrency 16", ["--concurrency", "16"]),
            ):
                before = emu.request_counts
                runs = [timed(env, args.secrets, *extra) for _ in range(args.runs)]
                sent = sum((emu.request_counts - before).values()) // args.runs
                wall = statistics.median(r[0] for r in runs)
                inner = statistics.median(r[1] for r in runs)
                rows.append(
                    (label, f"{wall:.2f} s wall, {inner:.2f} s surveying, {sent} VGS requests (median of {args.runs})")
                )
            began = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", "import rotation.cli.rotate_cmd, rotation.health.fleet, boto3"],
                env=env,
                check=True,
            )
            rows.append(("interpreter start + imports (included in wall)", f"{time.perf_counter() - began:.2f} s"))
            table(rows)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
