"""The state file: written atomically after every change, resumed on start, survives a kill."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import httpx
import pytest

from reconciler.errors import SimulatorError
from reconciler.simulator import SimState, Simulator

from .conftest import AUTH
from .support import Served

LONDON = {"country": "United Kingdom", "region": "London"}


def buy(base_url: str, n: int = 1) -> list[str]:
    r = httpx.post(base_url + "/tel_purchase", data={**LONDON, "quantity": str(n)}, auth=AUTH)
    numbers: list[str] = r.json()
    return numbers


def test_state_file_is_written_and_resumed(tmp_path: Path) -> None:
    path = tmp_path / "sim" / "state.json"
    sim = Simulator(seed="demo", state_file=path)
    assert SimState.load(path).numbers == sim.state.numbers  # written at creation
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with sim.serve() as running:
        first = buy(running.base_url)
        httpx.put(running.base_url + "/service/v1/inbound/" + first[0], auth=AUTH)
        httpx.post(
            running.aql_url,
            data={
                "username": "example",
                "password": "sim-aql-password",
                "command": "modify",
                "number": "44113000114",
                "action-type": "email",
                "action-detail": "x@example.com",
            },
        )
    saved = json.loads(path.read_text())
    assert first[0] in saved["numbers"] and first[0] in saved["services"]["inbound"]
    assert saved["relay"]["44113000114"] == ["email", "x@example.com"]

    resumed = Simulator(seed="empty", state_file=path)  # the file wins over the seed
    assert resumed.state.numbers == sim.state.numbers
    assert resumed.state.purchase_log == sim.state.purchase_log
    with resumed.serve() as running:
        second = buy(running.base_url)
    assert second != first


def test_resume_continues_the_number_sequence(tmp_path: Path) -> None:
    straight = Simulator(seed="empty", rng_seed=3)
    with straight.serve() as running:
        expected = buy(running.base_url) + buy(running.base_url)
    path = tmp_path / "state.json"
    with Simulator(seed="empty", rng_seed=3, state_file=path).serve() as running:
        got = buy(running.base_url)
    with Simulator(state_file=path).serve() as running:
        got += buy(running.base_url)
    assert got == expected


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{torn",
        b"[]",
        b'{"format": "something else"}',
        b'{"format": "reconciler-simulator-state", "version": 99}',
        b'{"format": "reconciler-simulator-state", "version": 1, "numbers": 3}',
    ],
)
def test_unreadable_state_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(SimulatorError) as info:
        Simulator(state_file=path)
    assert str(path) in info.value.message
    assert info.value.hint


def test_unknown_seed() -> None:
    with pytest.raises(SimulatorError):
        Simulator(seed="full")


def test_state_file_survives_sigkill(tmp_path: Path) -> None:
    """Kill -9 a simulator while concurrent writes are in flight: the file still loads and
    holds every change the simulator acknowledged."""
    path = tmp_path / "state.json"
    served = Served(
        [
            sys.executable,
            "-m",
            "reconciler.simulator",
            "serve",
            "--port",
            "0",
            "--state",
            str(path),
            "--seed",
            "empty",
        ],
        cwd=tmp_path,
    )
    try:
        served.read_until("Press Ctrl-C")
        base_url = served.field("Aculab web services:")
        acked_numbers: list[str] = []
        acked_services: list[str] = []
        lock = threading.Lock()
        enough = threading.Event()

        def worker(k: int) -> None:
            with httpx.Client(base_url=base_url, auth=AUTH, timeout=5) as c:
                for i in range(10_000):
                    try:
                        bought = c.post("/tel_purchase", data=LONDON).json()
                        name = f"svc-{k}-{i}"
                        created = c.put(f"/service/v1/inbound/{name}").status_code == 201
                    except httpx.HTTPError:
                        return  # the simulator is gone
                    with lock:
                        acked_numbers.extend(bought)
                        if created:
                            acked_services.append(name)
                        if len(acked_numbers) >= 40:
                            enough.set()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        assert enough.wait(60), "the simulator did not acknowledge 40 purchases"
        os.kill(served.proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(30)
    finally:
        served.stop()
    assert served.proc.returncode == -signal.SIGKILL

    state = SimState.load(path)  # loads: not torn
    assert set(acked_numbers) <= set(state.numbers)
    assert set(acked_services) <= set(state.services["inbound"])
    assert {n for e in state.purchase_log for n in e["numbers"]} == set(state.numbers)
    resumed = Simulator(state_file=path)
    with resumed.serve() as running:
        listed = httpx.get(running.base_url + "/tel_list_numbers", auth=AUTH).json()
    assert set(acked_numbers) <= set(listed)
