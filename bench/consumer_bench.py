"""The consumer's cache: cost of a cached read and fetches per 1,000 reads.

    python bench/consumer_bench.py

A :class:`CachingTokenProvider` over an in-memory source (the read path is what is
measured, not a store): the median µs per cached ``token()`` call (1 thread, and 8
threads sharing one provider), and how many fetches 1,000 reads cause when the reads are
spread over a virtual hour (one every 3.6 s) with 20-minute tokens and a 60 s skew.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import table
from rotation.consumer import CachingTokenProvider
from rotation.published import PublishedToken
from rotation.vgs import Secret

READS = 200_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Source:
    description = "bench"

    def __init__(self, clock: Clock, lifetime: int = 1200) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.fetches = 0

    def fetch(self) -> PublishedToken:
        self.fetches += 1
        now = int(self.clock())
        return PublishedToken(Secret(f"tok-{self.fetches}"), "Bearer", now + self.lifetime, now, "", "c")


def cached_read_us(threads: int) -> float:
    clock = Clock()
    provider = CachingTokenProvider(Source(clock), clock=clock)
    provider.token()
    per_thread = READS // threads
    times: list[float] = []

    def work() -> None:
        token = provider.token
        began = time.perf_counter()
        for _ in range(per_thread):
            token()
        times.append((time.perf_counter() - began) / per_thread)

    runs = [threading.Thread(target=work) for _ in range(threads)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    return statistics.median(times) * 1e6


def fetches_per_1000(spacing: float, skew: float = 60.0, lifetime: int = 1200) -> int:
    clock = Clock()
    source = Source(clock, lifetime)
    provider = CachingTokenProvider(source, skew=skew, clock=clock)
    for _ in range(1000):
        provider.token()
        clock.now += spacing
    return source.fetches


def main() -> None:
    single = statistics.median(cached_read_us(1) for _ in range(5))
    multi = statistics.median(cached_read_us(8) for _ in range(3))
    table(
        [
            ("cached read, 1 thread (median of 5 runs)", f"{single:.3f} µs/call"),
            ("cached read, 8 threads on one provider", f"{multi:.3f} µs/call per thread (GIL-bound)"),
            ("fetches per 1,000 reads, one per 3.6 s (1 h)", str(fetches_per_1000(3.6))),
            ("fetches per 1,000 reads, one per 60 s (16.7 h)", str(fetches_per_1000(60))),
            ("fetches per 1,000 reads, 1,000 per second", str(fetches_per_1000(0.001))),
        ]
    )


if __name__ == "__main__":
    main()
