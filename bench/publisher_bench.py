"""The publisher on a fleet: 1,000 credentials against a slow, sometimes throttling token server.

    python bench/publisher_bench.py [--targets 1000] [--latency 0.05] [--throttle 0.01]
                                    [--concurrency 1 8 16 32] [--repeat 1]

A token server runs in its own process (so it does not share this one's GIL or CPU
accounting): every request waits ``--latency`` seconds, then answers 429 with
``Retry-After: 1`` if a hash of (client id, its request number in this run) falls under
``--throttle``: every run throttles the same credentials the same way, whatever the bound;
the others get a signed JWT issued to the client, after the client secret is checked. The
publisher reads 1,000 credential documents (one service account each, no two share a token)
and publishes a token for each into empty destinations, from in-memory stores (the figure
is the publisher and the token server, not moto), once per concurrency bound, with the same
code at every bound (1 is the sequential baseline). Only ``Publisher.run`` is timed.

It prints the curve: wall time (the median of ``--repeat`` runs, each shown), the publisher's
CPU per target (this process only), speed-up over the sequential run, and that speed-up
divided by the bound (the goal: at least 0.8 up to 32), and whether the run fits in a
minute; then the same curve without 429s. The machine's load average is printed too: on a
shared machine the figures move with it. With 429s it
also prints the floor the throttling sets: a throttled target is asked again no earlier than
its ``Retry-After``, so a run cannot end before its last 429 plus ``Retry-After`` plus one
request's latency, whatever the bound: on a two-second run (32) that tail weighs, on an
eight-second one (8) it hides. ``ceiling`` is the best ratio the run could have shown given
that floor and the sequential time; and what a publisher with no overhead at all would take
(every request exactly the latency, the same credentials throttled), with its ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
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


RETRY_AFTER = 1.0


def client_ids(n: int) -> list[str]:
    return [f"ACbenchflt-app{i:04d}-{i % 97:05d}" for i in range(n)]


def first_throttled(n: int, share: float) -> frozenset[str]:
    """Exactly ``share`` of the ``n`` credentials, chosen by a seeded draw: their first token
    request of a run gets a 429 (the same ones in every run, at every bound)."""
    return frozenset(random.Random(13).sample(client_ids(n), round(n * share)))


def throttled_again(client_id: str, nth: int, share: float) -> bool:
    """Whether retry ``nth`` of ``client_id`` gets a 429 too (a seeded ``share`` chance)."""
    digest = hashlib.sha256(f"bench-429/{client_id}/{nth}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def serve(latency: float, throttle: float, targets: int) -> None:
    """Serve tokens on a free loopback port, print it, and run until stdin closes.
    ``GET /stats`` counts (and the monotonic time of the last 429); ``GET /reset`` starts a run."""
    import jwt

    lock = threading.Lock()
    stats: dict[str, float] = {"requests": 0, "throttled": 0, "refused": 0, "last_429": 0.0}
    asked: dict[str, int] = {}
    first = first_throttled(targets, throttle)

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
                if self.path == "/reset":
                    asked.clear()
                    stats.update(requests=0, throttled=0, refused=0, last_429=0.0)
                self._answer(200, dict(stats))

        def do_POST(self) -> None:
            form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            client_id = form.get("client_id", [""])[0]
            time.sleep(latency)
            with lock:
                stats["requests"] += 1
                asked[client_id] = nth = asked.get(client_id, 0) + 1
                slow_down = client_id in first if nth == 1 else throttled_again(client_id, nth, throttle)
                if slow_down:
                    stats["throttled"] += 1
                    stats["last_429"] = time.monotonic()  # system-wide clock: comparable with the bench's
            if slow_down:
                self._answer(429, {"error": "slow_down"}, {"Retry-After": f"{RETRY_AFTER:g}"})
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
    for i, client_id in enumerate(client_ids(n)):
        out[f"cred-{i}"] = json.dumps({
            "kind": "service-account", "client_id": client_id, "client_secret": client_secret(client_id),
            "organization_id": "ACbenchfleet", "vault_ids": ["tntbench"], "scopes": ["cards:write"],
            "manager_secret_arn": MANAGER_ARN, "hosts": {"token_url": token_url},
        })  # fmt: skip
    return out


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float  # this process's CPU seconds in the timed region: the publisher's own cost
    counts: dict[str, int]
    throttled: int
    floor: float  # the earliest this run could have ended: its last 429 + Retry-After + latency


def run(port: int, docs: dict[str, str], concurrency: int, latency: float) -> Run:
    from rotation.publisher import Publisher, PublishTarget
    from rotation.vgs import RetryPolicy, VGSHttp

    targets = [PublishTarget(credential_secret_id=f"cred-{i}", token_secret_id=f"tok-{i}") for i in range(len(docs))]
    server_stats(port, reset=True)
    with VGSHttp(timeout=10, retry=RetryPolicy(max_attempts=5, max_total=30)) as http:
        publisher = Publisher(secrets=MemoryStore(docs), http=http, concurrency=concurrency)
        began, cpu = time.monotonic(), time.process_time()
        result = publisher.run(targets)
        seconds, cpu = time.monotonic() - began, time.process_time() - cpu
    stats = server_stats(port)
    floor = stats["last_429"] - began + RETRY_AFTER + latency if stats["throttled"] else 0.0
    return Run(seconds, cpu, result.counts(), int(stats["throttled"]), floor)


def server_stats(port: int, *, reset: bool = False) -> dict[str, float]:
    import httpx

    return dict(httpx.get(f"http://127.0.0.1:{port}/{'reset' if reset else 'stats'}", timeout=5).json())


def zero_overhead(targets: int, bound: int, latency: float, throttle: float) -> float:
    """How long a publisher with no cost at all would take against this token server: every
    request takes exactly ``latency``, a throttled credential is asked again exactly
    ``Retry-After`` after its 429 (its worker taking the next target meanwhile), the same
    credentials throttled as the server does. The best any publisher can do."""
    ids = client_ids(targets)
    first = first_throttled(targets, throttle)
    free = [0.0] * bound  # when each worker is next free
    waiting: list[tuple[float, int, int]] = []  # (due, order, target) of throttled targets
    asked = [0] * targets
    todo, end, order = iter(range(targets)), 0.0, 0
    remaining = targets
    while remaining:
        worker_free = heapq.heappop(free)
        target = next(todo, None)
        if target is None:
            due, _, target = heapq.heappop(waiting)
            worker_free = max(worker_free, due)
        answered = worker_free + latency
        asked[target] += 1
        nth = asked[target]
        if (ids[target] in first) if nth == 1 else throttled_again(ids[target], nth, throttle):
            order += 1
            heapq.heappush(waiting, (answered + RETRY_AFTER, order, target))
        else:
            remaining -= 1
            end = max(end, answered)
        heapq.heappush(free, answered)
    return end


def curve(args: argparse.Namespace, throttle: float) -> list[tuple[str, str]]:
    """One token server process with ``throttle``; the publisher at each concurrency bound,
    ``--repeat`` times (the bounds interleaved, so a change in the machine's load spreads)."""
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--latency", str(args.latency), "--throttle", str(throttle),
         "--targets", str(args.targets)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    runs: dict[int, list[Run]] = {c: [] for c in args.concurrency}
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        docs = documents(port, args.targets)
        run(port, dict(list(docs.items())[:64]), 8, args.latency)  # warm up: imports, code paths
        for _ in range(args.repeat):
            for concurrency in args.concurrency:
                runs[concurrency].append(run(port, docs, concurrency, args.latency))
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
    rows: list[tuple[str, str]] = []
    sequential = statistics.median(r.seconds for r in runs[1]) if 1 in runs else None
    for concurrency, done in runs.items():
        seconds = statistics.median(r.seconds for r in done)
        worst = max(done, key=lambda r: r.seconds)
        line = f"{seconds:6.2f} s"
        if len(done) > 1:
            line += " (" + " ".join(f"{r.seconds:.2f}" for r in done) + ")"
        line += f"  published {worst.counts['published']}/{args.targets}, failed {worst.counts['failed']}"
        if throttle:
            line += f", 429s {worst.throttled}"
        line += f"  cpu {statistics.median(r.cpu for r in done) / args.targets * 1000:.2f} ms/target"
        if sequential is not None and concurrency != 1:
            speedup = sequential / seconds
            line += f"  speed-up {speedup:5.1f} = {speedup / concurrency:.2f} x the bound"
        line += "  within a minute" if worst.seconds <= 60 else "  OVER a minute"
        rows.append((f"  concurrency {concurrency:>2}", line))
        if throttle and sequential is not None and concurrency != 1:
            floor = statistics.median(r.floor for r in done)
            ceiling = min(1.0, sequential / (concurrency * floor))
            best = zero_overhead(args.targets, concurrency, args.latency, throttle)
            best_ratio = zero_overhead(args.targets, 1, args.latency, throttle) / (concurrency * best)
            rows.append(("", f"  tail: last 429 + Retry-After + a request = {floor:.2f} s, ceiling {ceiling:.2f};"
                             f" a zero-overhead publisher: {best:.2f} s, {best_ratio:.2f} x the bound"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--throttle", type=float, default=0.01, help="share of token requests answered 429")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--repeat", type=int, default=1, help="runs per bound; the median is shown")
    parser.add_argument("--no-baseline", action="store_true", help="skip the curve without 429s")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency, args.throttle, args.targets)
        return
    scenarios = [args.throttle] if args.no_baseline or not args.throttle else [args.throttle, 0.0]
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for throttle in scenarios:
        rows = curve(args, throttle)
        what = f"{throttle:.0%} answered 429 + Retry-After: 1" if throttle else "no 429 (the publisher's own scaling)"
        print(f"Publisher, {args.targets} credentials, token server: {args.latency * 1000:.0f} ms per request, {what}")
        table(rows)
        print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
