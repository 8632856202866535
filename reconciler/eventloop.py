"""The event loop every command runs its coroutines on: uvloop's where it is installed.

A fleet's reads are CPU-bound in the client at 20 ms a call (docs/performance.md): uvloop's
loop, written in C over libuv, spends about a tenth less CPU per API call than asyncio's.
uvloop is a dependency where it has builds (Linux and macOS on CPython); elsewhere, and with
``RECONCILER_EVENT_LOOP=asyncio``, commands run on asyncio's own loop. Everything reconciler
does on a loop (timeouts, signal handlers, readers, the transport's sockets) is asyncio's API,
which both loops implement.

While the loop runs, the garbage collector's youngest generation is collected every 50,000
allocations (net of what is freed) instead of every 700: reading an account allocates
hundreds of thousands of small objects (parsed JSON, the snapshot) that reference counting
frees, and the frequent collections of them, and the older generations they triggered, took
about a tenth of a fleet's client CPU, and more again in the caches they emptied. Cycles are
still collected, a little later; peak memory was unchanged (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from reconciler.errors import ConfigError

T = TypeVar("T")

# "auto" (the default: uvloop where installed), "asyncio" or "uvloop".
LOOP_ENV = "RECONCILER_EVENT_LOOP"
CHOICES = ("auto", "asyncio", "uvloop")

# Allocations between two collections of the youngest generation while a loop runs.
GEN0_THRESHOLD = 50_000


def loop_factory(environ: dict[str, str] | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """What makes the loop a command runs on, as ``RECONCILER_EVENT_LOOP`` says."""
    env = os.environ if environ is None else environ
    choice = env.get(LOOP_ENV, "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ConfigError(
            f"{LOOP_ENV}={env[LOOP_ENV]!r} is not an event loop reconciler knows",
            hint=f"set {LOOP_ENV} to one of {', '.join(CHOICES)}, or unset it",
        )
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                f"{LOOP_ENV}=uvloop, but uvloop is not installed here",
                hint=f"install uvloop, or set {LOOP_ENV}=auto to use it only where it is",
            ) from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` makes, with the collector
    tuned (:func:`collector`)."""
    try:
        factory = loop_factory()
    except BaseException:
        main.close()  # never awaited: no warning about it
        raise
    with collector():
        if factory is asyncio.new_event_loop:
            return asyncio.run(main)
        if sys.version_info >= (3, 11):
            with asyncio.Runner(loop_factory=factory) as runner:
                return runner.run(main)
        import uvloop  # pragma: no cover - Python 3.10: asyncio.run has no loop factory

        return uvloop.run(main)  # pragma: no cover


@contextlib.contextmanager
def collector() -> Iterator[None]:
    """The youngest generation collected every :data:`GEN0_THRESHOLD` allocations at most
    often, within the block (the thresholds are restored after it). The simulator's server
    processes run under it too (:func:`serving`)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], GEN0_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextlib.contextmanager
def serving() -> Iterator[None]:
    """For a process that serves what it has loaded (``reconciler simulator serve``, the
    benchmarks' simulator): everything loaded so far frozen, so that no collection walks it
    again (hosting 100 accounts, the simulator's collections took a fifth of its CPU), and
    the block run under :func:`collector`."""
    gc.freeze()
    with collector():
        yield
