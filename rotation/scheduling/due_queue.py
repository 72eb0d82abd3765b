"""A bounded worker pool whose jobs can ask to be run again later without holding a worker.

Why not a ``ThreadPoolExecutor.map`` with a sleep inside the job: a job told to come back
in a second (a 429 with ``Retry-After``) would keep its worker asleep for that second, and a
bound of 32 would run 31 wide. Here the job returns :class:`Later` instead; it goes into a
queue ordered by due time and its worker takes the next job at once. The run ends when
every job has returned a result.

Guarantees: at most ``workers`` steps run at any moment (one per worker thread; with one
worker, in the calling thread); a job is stepped again no earlier than its delay after it
asked (on the injected ``clock``); a job that keeps asking holds no worker while it waits,
so it never delays the others beyond taking its turn. Jobs start in their given order.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class Later:
    """A step's answer meaning "not done: step me again in ``delay`` seconds"."""

    delay: float


class _DueQueue:
    """Indexes of jobs by due time. Idle workers wait on the condition; one of them at a
    time sleeps (the injected ``sleep``) until the earliest due time no one sleeps towards yet."""

    def __init__(self, count: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, int]] = [(-math.inf, i, i) for i in range(count)]
        self._order = itertools.count(count)
        self._remaining = count
        self._alarms: list[float] = []  # due times that sleeping workers will wake for
        self._stopped = False

    def take(self) -> int | None:
        """The next due job's index, waiting as long as needed; None once every job is done."""
        with self._cond:
            while True:
                if self._remaining == 0 or self._stopped:
                    return None
                if self._heap:
                    due = self._heap[0][0]
                    now = self._clock()
                    if due <= now:
                        return heapq.heappop(self._heap)[2]
                    if not self._alarms or due < min(self._alarms):
                        self._sleep_until(due, due - now)
                        continue
                self._cond.wait()

    def _sleep_until(self, due: float, seconds: float) -> None:
        """Called with the condition held; sleeps with it released."""
        self._alarms.append(due)
        self._cond.release()
        try:
            self._sleep(seconds)
        finally:
            self._cond.acquire()
            self._alarms.remove(due)
            self._cond.notify_all()

    def later(self, index: int, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (self._clock() + max(0.0, delay), next(self._order), index))
            self._cond.notify_all()

    def done(self) -> None:
        with self._cond:
            self._remaining -= 1
            if self._remaining == 0:
                self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


def run_bounded(
    jobs: Sequence[J],
    step: Callable[[J, int], R | Later],
    *,
    workers: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    thread_name_prefix: str = "worker",
) -> list[R]:
    """Step every job until it returns a result, at most ``workers`` at a time; the results
    in the jobs' order. ``step(job, worker)`` is told which worker runs it (``0 <= worker <
    workers``: one step at a time per worker, e.g. to give each worker its own connections).
    ``step`` should not raise: an exception stops the run (no new steps start) and is raised
    here once the running steps have returned."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    results: list[R | None] = [None] * len(jobs)
    queue = _DueQueue(len(jobs), clock, sleep)

    def work(worker: int) -> None:
        while (index := queue.take()) is not None:
            try:
                answer = step(jobs[index], worker)
            except BaseException:
                queue.stop()
                raise
            if isinstance(answer, Later):
                queue.later(index, answer.delay)
            else:
                results[index] = answer
                queue.done()

    if not jobs:
        return []
    width = min(workers, len(jobs))
    if width == 1:
        work(0)
    else:
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix=thread_name_prefix) as pool:
            for future in [pool.submit(work, worker) for worker in range(width)]:
                future.result()
    return results  # type: ignore[return-value]  # every slot was filled: done() ran once per job
