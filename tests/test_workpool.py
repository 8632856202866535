"""The one worker pool: bounded, in order, the first failure stops it, and jobs for several
API hosts share the workers (the host whose pace lets a call go soonest first)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from reconciler.workpool import WorkPool, run_bounded


class Host:
    """A lane whose calls would wait ``delay`` seconds for their turn."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def pace_delay(self) -> float:
        return self.delay


def test_results_in_job_order_with_at_most_concurrency_running() -> None:
    running = peak = 0

    def job(i: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001 * (i % 3))
            running -= 1
            return i

        return run

    results = asyncio.run(run_bounded([job(i) for i in range(50)], 4))
    assert results == list(range(50))
    assert peak == 4


def test_the_first_failure_stops_the_pool_and_is_raised() -> None:
    started: list[int] = []

    def job(i: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            started.append(i)
            if i == 3:
                raise RuntimeError("job 3 failed")
            await asyncio.sleep(0.01)

        return run

    with pytest.raises(RuntimeError, match="job 3 failed"):
        asyncio.run(run_bounded([job(i) for i in range(100)], 4))
    assert len(started) < 100


def test_jobs_added_while_running_are_run() -> None:
    async def go() -> list[str]:
        done: list[str] = []
        pool = WorkPool(3)

        async def listing() -> None:
            await asyncio.sleep(0.001)
            for n in range(5):
                pool.add(lambda n=n: read(n))  # type: ignore[misc]
            done.append("list")

        async def read(n: int) -> None:
            done.append(f"read {n}")

        pool.add(listing)
        await pool.run()
        assert pool.done == pool.total == 6
        return done

    assert asyncio.run(go()) == ["list"] + [f"read {n}" for n in range(5)]


def test_hosts_share_the_workers_and_a_paced_host_waits_its_turn() -> None:
    aculab, aql = Host(), Host()
    order: list[str] = []

    async def go() -> None:
        pool = WorkPool(1)
        for n in range(3):
            pool.add(lambda n=n: call("aql", n), aql)  # type: ignore[misc]
        for n in range(3):
            pool.add(lambda n=n: call("aculab", n), aculab)  # type: ignore[misc]
        await pool.run()

    async def call(host: str, n: int) -> None:
        order.append(f"{host} {n}")
        if host == "aql" and n == 0:
            aql.delay = 0.5  # aql's pace now makes a call wait: aculab goes first

    asyncio.run(go())
    assert order == ["aql 0", "aculab 0", "aculab 1", "aculab 2", "aql 1", "aql 2"]
