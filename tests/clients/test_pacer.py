"""The pacer settles under a rate limit it is not told, and leaves 429s that are not about the
rate to the retry policy. Driven on a simulated clock against the simulator's own token bucket,
so the figures are exact and nothing waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from reconciler.clients.pacer import Pacer
from reconciler.simulator.faults import Faults, RateLimiter

LATENCY = 0.002  # one caller, 500 calls a second unpaced


class World:
    """A fake clock, and a caller that makes ``calls`` calls one after another."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def run(self, pacer: Pacer, calls: int, refused: Callable[[int], bool]) -> tuple[int, int]:
        """Make ``calls`` answered calls, each retried through the pacer after a 429 (as the
        HTTP client does). Returns (429s, attempts)."""

        async def go() -> tuple[int, int]:
            throttled = attempts = 0
            for _ in range(calls):
                while True:
                    epoch = await pacer.turn()
                    attempts += 1
                    no = refused(attempts)
                    self.now += LATENCY
                    pacer.observe(epoch, throttled=no, retry_after=1.0, latency=LATENCY)
                    if not no:
                        break
                    throttled += 1
            return throttled, attempts

        return asyncio.run(go())


def bucket(world: World, rate: float) -> Callable[[int], bool]:
    limiter = RateLimiter(clock=world.clock)
    faults = Faults(rate_limit_per_s=rate)
    return lambda _attempt: limiter.admit(faults, "aculab") is not None


def test_settles_just_under_an_unannounced_rate_limit() -> None:
    for rate in (20.0, 100.0, 250.0):
        world = World()
        pacer = Pacer(clock=world.clock, sleep=world.sleep)
        calls = int(rate * 20)
        throttled, attempts = world.run(pacer, calls, bucket(world, rate))

        ideal = calls / rate
        assert world.now <= 1.2 * ideal, (rate, world.now, ideal)
        assert throttled / attempts < 0.05, (rate, throttled, attempts)
        # Near the limit: at most a rise or two above it while probing.
        assert pacer.rate is not None and 0.8 * rate <= pacer.rate <= 1.25 * rate


def test_no_pacing_without_a_limit() -> None:
    world = World()
    pacer = Pacer(clock=world.clock, sleep=world.sleep)
    throttled, _ = world.run(pacer, 2000, lambda _a: False)
    assert throttled == 0 and pacer.rate is None
    assert world.now == pytest.approx(2000 * LATENCY)  # not one wait added


def test_429s_whatever_the_pace_are_left_to_the_retry_policy() -> None:
    world = World()
    pacer = Pacer(clock=world.clock, sleep=world.sleep)
    # One call in five refused, however slowly they come: slowing down can't help.
    _, attempts = world.run(pacer, 2000, lambda attempt: attempt % 5 == 0)

    assert pacer.rate is None  # it tried, saw that, and stopped pacing
    assert world.now < 1.5 * attempts * LATENCY  # a short trial, not a crawl


def test_a_long_retry_after_pauses_the_host_once() -> None:
    world = World()
    pacer = Pacer(clock=world.clock, sleep=world.sleep)
    refuse = bucket(world, 100.0)
    world.run(pacer, 300, refuse)  # learns the limit
    assert pacer.rate is not None
    absorbed = pacer.observe(0, throttled=True, retry_after=5.0, latency=LATENCY)
    assert absorbed
    assert 4.9 <= pacer.delay() <= 5.0
