"""Token client overhead and import cost.

    python bench/client_bench.py

Prints the token client's mint time against a bare httpx POST to the same emulator
(median of N, ratio), and ``import rotation`` / ``import rotation.vgs`` against
``import boto3`` (fresh interpreters, median, ratio).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._util import import_seconds, table
from rotation.emulator import Emulator
from rotation.vgs import ClientCredentials, Secret, TokenClient, VGSHttp

N = 200


def main() -> None:
    with Emulator(port=0) as emu:
        boot = emu.bootstrap
        creds = ClientCredentials(boot["client_id"], Secret(boot["client_secret"]))
        form = {
            "grant_type": "client_credentials",
            "client_id": boot["client_id"],
            "client_secret": boot["client_secret"],
        }
        # Interleaved, so that load from elsewhere on the machine hits both sides alike.
        with httpx.Client() as bare, VGSHttp() as http:
            client = TokenClient(boot["token_url"], http=http)
            bare.post(boot["token_url"], data=form).raise_for_status()
            client.mint(creds)
            bare_times, client_times = [], []
            for _ in range(N):
                began = time.perf_counter()
                bare.post(boot["token_url"], data=form).json()
                bare_times.append(time.perf_counter() - began)
                began = time.perf_counter()
                client.mint(creds)
                client_times.append(time.perf_counter() - began)
    bare_ms = statistics.median(bare_times) * 1000
    client_ms = statistics.median(client_times) * 1000
    imp_rotation = import_seconds("rotation")
    imp_vgs = import_seconds("rotation.vgs")
    imp_boto3 = import_seconds("boto3")
    table(
        [
            (f"mint, TokenClient (median of {N})", f"{client_ms:.2f} ms"),
            (f"mint, bare httpx POST (median of {N})", f"{bare_ms:.2f} ms"),
            ("TokenClient / bare ratio", f"{client_ms / bare_ms:.2f}"),
            ("import rotation", f"{imp_rotation * 1000:.1f} ms"),
            ("import rotation.vgs", f"{imp_vgs * 1000:.1f} ms"),
            ("import boto3", f"{imp_boto3 * 1000:.1f} ms"),
            ("import rotation / import boto3", f"{imp_rotation / imp_boto3:.3f}"),
            ("import rotation.vgs / import boto3", f"{imp_vgs / imp_boto3:.2f}"),
        ]
    )


if __name__ == "__main__":
    main()
