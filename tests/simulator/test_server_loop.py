"""The served simulator's event loop: uvloop where it is installed, in its own thread only.

Under ``--simulate`` the simulator runs in a thread of the command itself: its choice of loop
must not become the command's (uvicorn before 0.36 set the process's event loop policy).
"""

from __future__ import annotations

import asyncio
import importlib.util

import httpx
import pytest

from reconciler.simulator import Simulator
from reconciler.simulator.server import RunningSimulator


def _served_loop(running: RunningSimulator) -> asyncio.AbstractEventLoop:
    loop = running._server._loop
    assert loop is not None
    return loop


def test_the_command_keeps_asyncios_loop_while_a_simulator_serves() -> None:
    policy = asyncio.get_event_loop_policy()
    with Simulator(seed="empty").serve() as running:
        assert asyncio.get_event_loop_policy() is policy
        loops: list[asyncio.AbstractEventLoop] = []

        async def here() -> int:
            loops.append(asyncio.get_running_loop())
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"{running.base_url}/service/v1/outbound")
            return reply.status_code

        assert asyncio.run(here()) == 401  # answered: no credentials given
        assert type(loops[0]).__module__.startswith("asyncio")
        assert _served_loop(running) is not loops[0]


@pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None, reason="uvloop has no build for this platform"
)
def test_the_simulator_serves_on_uvloop_where_it_is_installed() -> None:
    with Simulator(seed="empty").serve() as running:
        assert type(_served_loop(running)).__module__.startswith("uvloop")
