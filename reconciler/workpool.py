"""Bounded concurrency, done one way: a few worker tasks pulling jobs (docs/performance.md).

Thousands of tasks gathered behind a semaphore cost far more CPU than a few workers pulling
from a queue (docs/performance.md), so every place that runs API calls concurrently (the live
read, the export read, apply's waves) uses :class:`WorkPool` or :func:`run_bounded`.

A job may name a *lane*: the API host it calls (anything with ``pace_delay()``, such as
:class:`~reconciler.clients.http.HttpClient`). A free worker takes the oldest job of the lane
whose next call would wait least for its turn at the host's pace
(:mod:`reconciler.clients.pacer`), and among those, of the lane with the fewest jobs running:
the hosts share the workers instead of taking turns. So under one vendor's rate limit, the
workers don't all queue at that vendor while the other has room, and both vendors' limits are
used from the start.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Job = Callable[[], Awaitable[None]]
Progress = Callable[[int, int], None]


class Lane(Protocol):
    """An API host jobs may queue for (see the module docstring)."""

    def pace_delay(self) -> float: ...


class WorkPool:
    """Runs jobs, at most ``concurrency`` at once, on that many worker tasks.

    Jobs may be added before and while it runs (a finished list adds the reads it unlocks).
    :meth:`run` returns when every job has finished; the first job to raise stops the pool
    (the other workers are cancelled) and its exception is raised. ``progress(done, total)``
    is called as jobs finish.
    """

    def __init__(self, concurrency: int, *, progress: Progress | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.progress = progress
        self.total = 0
        self.done = 0
        self._lanes: dict[int, tuple[Lane | None, deque[tuple[int, Job]]]] = {}
        self._running: dict[int, int] = {}  # jobs running, by lane
        self._ready: asyncio.Queue[None] = asyncio.Queue()
        self._unfinished = 0
        self._finished = asyncio.Event()

    def add(self, job: Job, lane: Lane | None = None) -> None:
        """Queue ``job`` (for ``lane``, when it calls one API host)."""
        key = id(lane)
        entry = self._lanes.get(key)
        if entry is None:
            entry = self._lanes[key] = (lane, deque())
        entry[1].append((self.total, job))
        self.total += 1
        self._unfinished += 1
        self._finished.clear()
        self._ready.put_nowait(None)

    def _take(self) -> tuple[int, Job]:
        best: deque[tuple[int, Job]] | None = None
        best_lane = 0
        best_key: tuple[float, int, int] = (0.0, 0, 0)
        running = self._running
        for lane_id, (lane, jobs) in self._lanes.items():
            if not jobs:
                continue
            delay = lane.pace_delay() if lane is not None else 0.0
            key = (delay, running.get(lane_id, 0), jobs[0][0])
            if best is None or key < best_key:
                best, best_lane, best_key = jobs, lane_id, key
        assert best is not None
        return best_lane, best.popleft()[1]

    async def _worker(self) -> None:
        running = self._running
        while True:
            await self._ready.get()
            lane, job = self._take()
            running[lane] = running.get(lane, 0) + 1
            try:
                await job()
            finally:
                running[lane] -= 1
                self._unfinished -= 1
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
            if self._unfinished == 0:
                self._finished.set()

    async def run(self) -> None:
        """Run until every job has finished (see the class docstring)."""
        if self._unfinished == 0:
            return
        workers = [asyncio.ensure_future(self._worker()) for _ in range(self.concurrency)]
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait([finished, *workers], return_when=asyncio.FIRST_COMPLETED)
            for worker in workers:
                if worker.done() and not worker.cancelled():
                    failure = worker.exception()
                    if failure is not None:
                        raise failure
        finally:
            for task in (finished, *workers):
                task.cancel()
            await asyncio.gather(finished, *workers, return_exceptions=True)


async def run_bounded(
    jobs: Sequence[Callable[[], Awaitable[T]]],
    concurrency: int,
    *,
    lanes: Sequence[Lane | None] | None = None,
    progress: Progress | None = None,
) -> list[T]:
    """Run ``jobs`` (each in ``lanes[i]`` when given), at most ``concurrency`` at once;
    their results in job order. The first job to raise stops the rest (see :class:`WorkPool`).
    """
    results: list[Any] = [None] * len(jobs)
    pool = WorkPool(max(1, min(concurrency, len(jobs) or 1)), progress=progress)

    def slot(index: int) -> Job:
        async def run() -> None:
            results[index] = await jobs[index]()

        return run

    for index in range(len(jobs)):
        pool.add(slot(index), lanes[index] if lanes is not None else None)
    await pool.run()
    return results
