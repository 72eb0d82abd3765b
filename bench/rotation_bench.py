"""API calls of a rotation, per step, counted at the servers; and the handlers' cold start.

    python bench/rotation_bench.py [--zip build/lambda.zip] [--skip-cold-start] [--runs 5]

Calls: three service-account rotations with the CMP probe on, driven as Secrets Manager
drives them (rotation enabled, each rotation's AWSPENDING version created first, then the
four steps) through the Lambda handler ``rotation.lambda_rotation.handler`` in this process
(one warm container). Secrets Manager calls are counted at moto's server (a WSGI counter on
``X-Amz-Target``, per step), VGS calls at the emulator (per route). Rotation 1 is the
secret's first (no AWSPREVIOUS yet); rotation 2 reuses the manager token the container
minted in rotation 1; rotation 3 starts with an empty token cache (a cold container, or a
manager token that expired between rotations). The AWS columns are the counts of AWS's own
rotation templates on the same work, as measured in issue 13 (not re-run here).

Cold start: the Lambda artifact is built (``infra/aws/build_lambda.py --platform host``, or
``--zip``), unzipped, and imported in fresh interpreters with ``-I -S -B`` (only the
artifact and the standard library, no byte code written: Lambda's code directory is
read-only and the zip ships none), median of ``--runs``, minus an empty interpreter's start.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
WRITES = {"PutSecretValue", "UpdateSecretVersionStage"}
# Issue 13's table: AWS's rotation templates on the same happy path, and this project before.
REFERENCE = {
    "AWS generic": {"createSecret": 5, "setSecret": 1, "testSecret": 1, "finishSecret": 3},
    "AWS PG single-user": {"createSecret": 5, "setSecret": 4, "testSecret": 2, "finishSecret": 3},
    "AWS PG multi-user": {"createSecret": 5, "setSecret": 4, "testSecret": 2, "finishSecret": 3},
    "vgs-rotation before": {"createSecret": 6, "setSecret": 2, "testSecret": 3, "finishSecret": 7},
}


# -- counting at the servers ----------------------------------------------------------------


class SecretsManagerCounter:
    """WSGI middleware in front of moto's app: Secrets Manager operations per label."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.label = "setup"
        self.counts: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("secretsmanager."):
            with self.lock:
                self.counts[(self.label, target.split(".", 1)[1])] += 1
        return self.app(environ, start_response)

    def step(self, label: str) -> dict[str, int]:
        with self.lock:
            return {op: n for (lab, op), n in self.counts.items() if lab == label}


def counting_moto() -> tuple[Any, SecretsManagerCounter]:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    counter = SecretsManagerCounter(DomainDispatcherApplication(create_backend_app))

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server("127.0.0.1", 0, counter, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server, counter


def count_rotations(
    sink: io.StringIO,
) -> tuple[dict[int, dict[str, dict[str, int]]], dict[int, dict[str, Counter[str]]]]:
    """Secrets Manager operations and VGS routes per step, for rotations 1, 2 (warm) and 3 (cold token)."""
    import logging

    logging.getLogger("werkzeug").addFilter(lambda record: record.levelno >= logging.WARNING)
    server, counter = counting_moto()
    host, port = server.get_host_and_port()
    os.environ.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # fmt: skip
    from rotation.emulator import Emulator
    from tests.helpers import LambdaContext
    from tests.rotation_harness import enable_rotation, sm, start_rotation

    sm_calls: dict[int, dict[str, dict[str, int]]] = {}
    vgs_calls: dict[int, dict[str, Counter[str]]] = {}
    try:
        with Emulator(port=0) as emu, contextlib.redirect_stdout(sink):
            import rotation.lambda_rotation as lam
            from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, Secret, TokenClient, VGSHttp

            boot = emu.bootstrap
            with VGSHttp() as http:
                auth = CachedTokenAuth(TokenClient(boot["token_url"], http=http),
                                       ClientCredentials(boot["client_id"], Secret(boot["client_secret"])))  # fmt: skip
                initial = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=auth, http=http).create(
                    name="bench", scopes=["cards:read"], vaults=[boot["vault_id"]]
                )
            manager = sm().create_secret(Name="vgs/manager", SecretString=json.dumps(
                {"client_id": boot["client_id"], "client_secret": boot["client_secret"]}))["ARN"]  # fmt: skip
            hosts = {k: boot[k] for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url")}
            doc = {
                "kind": "service-account", "client_id": initial.client_id,
                "client_secret": initial.client_secret.reveal(), "organization_id": boot["organization_id"],
                "vault_ids": [boot["vault_id"]], "scopes": ["cards:read"], "manager_secret_arn": manager,
                "hosts": hosts, "test": {"cmp_probe": True},
            }  # fmt: skip
            arn = sm().create_secret(Name="vgs/app", SecretString=json.dumps(doc))["ARN"]
            enable_rotation(arn)
            for n in (1, 2, 3):
                if n == 3 and lam._TOKENS is not None:
                    lam._TOKENS.clear()  # a cold container, or a manager token that expired meanwhile
                token = start_rotation(arn)  # RotateSecret's first act: AWSPENDING, no value
                sm_calls[n], vgs_calls[n] = {}, {}
                for step in STEPS:
                    label = f"{n}:{step}"
                    counter.label = label
                    before = emu.request_counts
                    lam.handler({"Step": step, "SecretId": arn, "ClientRequestToken": token}, LambdaContext())
                    after = emu.request_counts
                    counter.label = "setup"
                    sm_calls[n][step] = counter.step(label)
                    vgs_calls[n][step] = Counter({k: after[k] - before[k] for k in after if after[k] - before[k]})
                stages = sm().describe_secret(SecretId=arn)["VersionIdsToStages"]
                assert "AWSCURRENT" in stages[token], stages
                assert all("AWSPENDING" not in s for v, s in stages.items() if v != token), stages
    finally:
        server.stop()
    return sm_calls, vgs_calls


def sm_table(sm_calls: dict[int, dict[str, dict[str, int]]]) -> None:
    columns = [*REFERENCE, "now, 1st rotation", "now, later rotations"]
    measured = {"now, 1st rotation": sm_calls[1], "now, later rotations": sm_calls[2]}
    rows = [["step", *columns]]
    for step in STEPS:
        cells = [str(REFERENCE[c][step]) for c in REFERENCE]
        cells += [str(sum(measured[c][step].values())) for c in measured]
        rows.append([step, *cells])
    totals = [str(sum(REFERENCE[c].values())) for c in REFERENCE]
    totals[-1] += " (3 writes)"
    for c in measured:
        calls = sum(sum(ops.values()) for ops in measured[c].values())
        writes = sum(n for ops in measured[c].values() for op, n in ops.items() if op in WRITES)
        totals.append(f"{calls} ({writes} writes)")
    rows.append(["total", *totals])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("Secrets Manager calls per rotation (happy path, counted at moto's server)")
    for r in rows:
        print(
            "  "
            + "  ".join(
                cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    print("  operations, later rotation: " + "; ".join(
        f"{step} " + ", ".join(f"{op}={n}" for op, n in sorted(sm_calls[2][step].items())) for step in STEPS))  # fmt: skip
    print()


def vgs_table(vgs_calls: dict[int, dict[str, Counter[str]]]) -> None:
    labels = {1: "1st rotation (mints the manager token)", 2: "later, warm container (token reused)",
              3: "later, empty token cache (cold container)"}  # fmt: skip
    print("VGS HTTP calls per rotation, CMP probe on (counted at the emulator)")
    rows = []
    for n, label in labels.items():
        per_step = " + ".join(str(sum(vgs_calls[n][s].values())) for s in STEPS)
        routes = sum((vgs_calls[n][s] for s in STEPS), Counter())
        rows.append(
            (
                f"  {label}",
                f"{sum(routes.values())} = {per_step}  ({', '.join(f'{k}={v}' for k, v in sorted(routes.items()))})",
            )
        )
    table(rows)
    print()


# -- cold start --------------------------------------------------------------------------------


def build_zip(out: Path) -> Path:
    from infra.aws.build_lambda import build

    return build(out, platform="host")


def import_seconds(artifact: Path, code: str, runs: int) -> float:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip

    def once(body: str) -> float:
        began = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-B", "-c", f"import sys; sys.path.insert(0, {str(artifact)!r})\n{body}"],
                       check=True, env=env, cwd=artifact)  # fmt: skip
        return time.perf_counter() - began

    base = statistics.median(once("pass") for _ in range(runs))
    return max(0.0, statistics.median(once(code) for _ in range(runs)) - base)


def cold_start(zip_path: Path | None, runs: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="vgs-bench-lambda-") as tmp:
        if zip_path is None:
            zip_path = build_zip(Path(tmp) / "build")
        artifact = Path(tmp) / "task"
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(artifact)
            unzipped = sum(i.file_size for i in zf.infolist())
        boto3 = import_seconds(artifact, "import boto3", runs)
        rows = [
            ("Lambda zip", f"{zip_path.stat().st_size / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped"),
            ("import boto3", f"{boto3 * 1000:.0f} ms"),
        ]
        for module in ("rotation.lambda_rotation", "rotation.lambda_publisher"):
            handler = import_seconds(artifact, f"import {module}", runs)
            rows.append(
                (f"import {module}", f"{handler * 1000:.0f} ms = {handler / boto3:.2f} x import boto3 (goal <= 1.2)")
            )
        first = import_seconds(artifact, "import rotation.lambda_rotation as h; h.build_rotation(); import jwt", runs)
        rows.append(("rotation handler + its first invocation's imports",
                     f"{first * 1000:.0f} ms (boto3 client, pyjwt at the first mint)"))  # fmt: skip
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zip", type=Path, help="a built Lambda zip (default: build one for this machine)")
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sink = io.StringIO()
    sm_calls, vgs_calls = count_rotations(sink)
    sm_table(sm_calls)
    vgs_table(vgs_calls)
    if not args.skip_cold_start:
        print(f"Cold start from the Lambda zip (python -I -S -B, median of {args.runs}, minus an empty start)")
        table([(f"  {k}", v) for k, v in cold_start(args.zip, args.runs)])


if __name__ == "__main__":
    main()
