"""The publisher on a fleet: 1,000 credentials against a slow, sometimes throttling token server.

    python bench/publisher_bench.py [--targets 1000] [--latency 0.05] [--throttle 0.01]
                                    [--concurrency 1 8 16 32]

A token server runs in its own process (so it does not share this one's GIL): every
request waits ``--latency`` seconds, then a seeded ``--throttle`` share of them answers
429 with ``Retry-After: 1``; the others get a signed JWT issued to the client, after the
client secret is checked. The publisher reads 1,000 credential documents (one service
account each, no two share a token) and publishes a token for each into empty destinations,
from in-memory stores (the figure is the publisher and the token server, not moto), once
per concurrency bound. It prints the curve: wall time, speed-up over the sequential run,
and that speed-up divided by the bound (the goal: at least 0.8 up to 32), and whether the
run fits in a minute; then the same curve without 429s. The difference is the tail a 429
leaves: a target throttled in the run's last second finishes a ``Retry-After`` later
whatever the bound, which weighs on a two-second run (32) and not on an eight-second one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table
from rotation.stores import SecretVersion

MANAGER_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vgs/manager-AbCdEf"
SALT = b"bench-fleet"


def client_secret(client_id: str) -> str:
    return hashlib.sha256(SALT + client_id.encode()).hexdigest()


# -- the token server (its own process) -------------------------------------------------------


def serve(latency: float, throttle: float) -> None:
    """Serve tokens on a free loopback port, print it, and run until stdin closes."""
    import jwt

    rng = random.Random(13)
    lock = threading.Lock()
    stats = {"requests": 0, "throttled": 0, "refused": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:
            return None

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            for k, v in {
                "Content-Type": "application/json",
                "Content-Length": str(len(raw)),
                **(headers or {}),
            }.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            with lock:
                self._answer(200, dict(stats))

        def do_POST(self) -> None:
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            client_id = form.get("client_id", [""])[0]
            time.sleep(latency)
            with lock:
                stats["requests"] += 1
                throttled = rng.random() < throttle
                stats["throttled"] += throttled
            if throttled:
                self._answer(429, {"error": "slow_down"}, {"Retry-After": "1"})
            elif form.get("client_secret", [""])[0] != client_secret(client_id):
                with lock:
                    stats["refused"] += 1
                self._answer(401, {"error": "invalid_client"})
            else:
                now = int(time.time())
                claims = {"azp": client_id, "iat": now, "exp": now + 1200, "scope": "cards:write"}
                token = jwt.encode(claims, "k" * 32, algorithm="HS256")
                self._answer(200, {"access_token": token, "expires_in": 1200, "token_type": "Bearer",
                                   "scope": "cards:write"})  # fmt: skip

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()
    server.shutdown()


# -- the publisher side ------------------------------------------------------------------------


class MemoryStore:
    """AWSCURRENT values of Secrets Manager secrets in a dict, with version ids."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.lock = threading.Lock()

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> str | None:
        return self.values.get(secret_id)

    def get_version(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> Any:
        value = self.values.get(secret_id)
        return None if value is None else SecretVersion("v1", value)

    def put_value(self, secret_id: str, value: str) -> None:
        with self.lock:
            self.values[secret_id] = value

    def describe(self, secret_id: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def put_pending(self, *a: Any, **k: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def move_stage(self, *a: Any, **k: Any) -> None:  # pragma: no cover
        raise NotImplementedError


def documents(port: int, n: int) -> dict[str, str]:
    token_url = f"http://127.0.0.1:{port}/auth/realms/vgs/protocol/openid-connect/token"
    out = {}
    for i in range(n):
        client_id = f"ACbenchflt-app{i:04d}-{i % 97:05d}"
        out[f"cred-{i}"] = json.dumps({
            "kind": "service-account", "client_id": client_id, "client_secret": client_secret(client_id),
            "organization_id": "ACbenchfleet", "vault_ids": ["tntbench"], "scopes": ["cards:write"],
            "manager_secret_arn": MANAGER_ARN, "hosts": {"token_url": token_url},
        })  # fmt: skip
    return out


def run(docs: dict[str, str], concurrency: int) -> tuple[float, dict[str, int]]:
    from rotation.publisher import Publisher, PublishTarget
    from rotation.vgs import RetryPolicy, VGSHttp

    targets = [PublishTarget(credential_secret_id=f"cred-{i}", token_secret_id=f"tok-{i}") for i in range(len(docs))]
    with VGSHttp(timeout=10, retry=RetryPolicy(max_attempts=5, max_total=30)) as http:
        publisher = Publisher(secrets=MemoryStore(docs), http=http, concurrency=concurrency)
        began = time.perf_counter()
        result = publisher.run(targets)
        seconds = time.perf_counter() - began
    return seconds, result.counts()


def server_stats(port: int) -> dict[str, int]:
    import httpx

    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json())


def curve(args: argparse.Namespace, throttle: float) -> list[tuple[str, str]]:
    """One token server process with ``throttle``; the publisher at each concurrency bound."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--latency", str(args.latency), "--throttle", str(throttle)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    rows: list[tuple[str, str]] = []
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        docs = documents(port, args.targets)
        run(dict(list(docs.items())[:64]), 8)  # warm up: imports, connections
        timings: dict[int, float] = {}
        for concurrency in args.concurrency:
            before = server_stats(port)
            seconds, counts = run(docs, concurrency)
            after = server_stats(port)
            timings[concurrency] = seconds
            throttled = after["throttled"] - before["throttled"]
            line = f"{seconds:6.2f} s  published {counts['published']}/{args.targets}, failed {counts['failed']}, 429s {throttled}"
            if 1 in timings and concurrency != 1:
                speedup = timings[1] / seconds
                line += f"  speed-up {speedup:5.1f} = {speedup / concurrency:.2f} x the bound"
            line += "  (within a minute)" if seconds <= 60 else "  (OVER a minute)"
            rows.append((f"  concurrency {concurrency:>2}", line))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--throttle", type=float, default=0.01, help="share of token requests answered 429")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--no-baseline", action="store_true", help="skip the curve without 429s")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency, args.throttle)
        return
    scenarios = [args.throttle] if args.no_baseline or not args.throttle else [args.throttle, 0.0]
    for throttle in scenarios:
        rows = curve(args, throttle)
        what = f"{throttle:.0%} answered 429 + Retry-After: 1" if throttle else "no 429 (the publisher's own scaling)"
        print(f"Publisher, {args.targets} credentials, token server: {args.latency * 1000:.0f} ms per request, {what}")
        table(rows)


if __name__ == "__main__":
    main()
