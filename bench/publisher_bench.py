"""The publisher's wall time for 200 credentials against the emulator, concurrent vs sequential.

    python bench/publisher_bench.py

200 credential documents (the emulator allows 50 service accounts per organization, so
they share 40 accounts: every target still reads its document, reads its destination,
mints a token over HTTP and writes it) published from scratch into in-memory stores, so
the figure is the publisher and VGS, not moto. Run on loopback as is, and with 50 ms added
to each token request (the emulator's delay fault), closer to a real token server.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table
from rotation.emulator import Emulator
from rotation.publisher import Publisher, PublishTarget
from rotation.vgs import AccountsClient, CachedTokenAuth, ClientCredentials, Secret, TokenClient, VGSHttp

TARGETS = 200
ACCOUNTS = 40
MANAGER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf"


class MemoryStore:
    """Secrets Manager's AWSCURRENT values in a dict (thread-safe enough for the bench)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.lock = threading.Lock()

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        return self.values.get(secret_id)

    def put_value(self, secret_id: str, value: str) -> None:
        with self.lock:
            self.values[secret_id] = value

    def describe(self, secret_id: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def put_pending(self, *a: Any, **k: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def move_stage(self, *a: Any, **k: Any) -> None:  # pragma: no cover
        raise NotImplementedError


def documents(emu: Emulator) -> dict[str, str]:
    boot = emu.bootstrap
    http = VGSHttp(timeout=10)
    manager = CachedTokenAuth(
        TokenClient(boot["token_url"], http=http), ClientCredentials(boot["client_id"], Secret(boot["client_secret"]))
    )
    accounts = AccountsClient(boot["accounts_url"], boot["organization_id"], auth=manager, http=http)
    made = [
        accounts.create(
            name=f"bench-{i}", scopes=["cards:write"], vaults=[boot["vault_id"]], access_token_lifespan=1200
        )
        for i in range(ACCOUNTS)
    ]
    hosts = {k: boot[k] for k in ("token_url", "accounts_url", "vault_management_url", "cmp_url")}
    out = {}
    for i in range(TARGETS):
        acct = made[i % ACCOUNTS]
        out[f"cred-{i}"] = json.dumps(
            {
                "kind": "service-account", "client_id": acct.client_id, "client_secret": acct.client_secret.reveal(),
                "organization_id": boot["organization_id"], "vault_ids": [boot["vault_id"]], "scopes": ["cards:write"],
                "token_lifespan": 1200, "manager_secret_arn": MANAGER_ARN, "hosts": hosts,
            }
        )  # fmt: skip
    return out


def run(docs: dict[str, str], concurrency: int) -> float:
    targets = [PublishTarget(credential_secret_id=f"cred-{i}", token_secret_id=f"tok-{i}") for i in range(TARGETS)]
    with VGSHttp(timeout=10) as http:
        publisher = Publisher(secrets=MemoryStore(docs), http=http, concurrency=concurrency)
        began = time.perf_counter()
        result = publisher.run(targets)
        seconds = time.perf_counter() - began
    assert result.counts()["published"] == TARGETS, result.counts()
    return seconds


def main() -> None:
    rows: list[tuple[str, str]] = []
    with Emulator(port=0) as emu:
        docs = documents(emu)
        run(docs, 8)  # warm up
        for label, delay in (("loopback", None), ("+50 ms per token request", 0.05)):
            timings = {}
            for concurrency in (1, 8, 32):
                if delay:
                    emu.faults.inject("token", delay=delay, count=TARGETS)
                timings[concurrency] = run(docs, concurrency)
                emu.faults.clear()
            seq = timings[1]
            for concurrency, seconds in timings.items():
                ratio = "" if concurrency == 1 else f"  (sequential / concurrent = {seq / seconds:.1f})"
                rows.append((f"{label}, concurrency {concurrency:>2}", f"{seconds:.2f} s{ratio}"))
    table(rows)


if __name__ == "__main__":
    main()
