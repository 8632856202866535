"""One simulator served over real HTTP for the whole module run (in the documented dialect,
whatever RECONCILER_SIMULATOR_DIALECT says); each test gets it back with a fresh demo account,
the documented dialect, no faults and no recorded calls."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.simulator import Faults, RunningSimulator, SimState, Simulator
from reconciler.simulator.dialect import DOCUMENTED

AUTH = ("1-2-0/ops@example.com", "sim-api-key")
AQL_CREDENTIALS = {"username": "example", "password": "sim-aql-password"}


@pytest.fixture(scope="session")
def running() -> Iterator[RunningSimulator]:
    with Simulator(seed="demo", dialect=DOCUMENTED).serve() as served:
        yield served


@pytest.fixture
def sim(running: RunningSimulator) -> Simulator:
    simulator = running.simulator
    simulator.state = SimState.seeded("demo")
    simulator.faults = Faults()
    simulator.dialect = DOCUMENTED
    simulator.calls.clear()
    return simulator


@pytest.fixture
def client(running: RunningSimulator, sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=running.base_url, auth=AUTH, headers={"Accept": "application/json"}, timeout=10
    ) as c:
        yield c


@pytest.fixture
def aql(running: RunningSimulator, sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.aql_url, timeout=10) as c:
        yield c
