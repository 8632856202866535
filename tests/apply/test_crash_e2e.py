"""SIGKILL an apply at random points, then apply again: it converges, nothing is bought twice,
and the journal accounts for every number bought.

A calibration run (not killed) records the sequence of API calls an apply makes against a
simulator with latency on every call. Each kill point is an index into that sequence: the
test waits until the killed apply's call number ``k`` has reached the simulator, then kills
it after a random part of the call's latency, so kills land before, during and after the
purchase (the simulator commits a purchase after its latency, so a kill there leaves a
purchase that went through without the apply ever hearing of it) and between the purchases
and the inbound services. Iterations run three at a time, each with its own simulator and
directory. Set ``RECONCILER_KILL_SEED`` to replay a failing seed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reconciler.simulator import Faults

from .e2e import Served, cli, desired_yaml, explain, serve, start

pytestmark = pytest.mark.e2e

KILL_POINTS = 10
LATENCY_MS = 60
SEED = int(os.environ.get("RECONCILER_KILL_SEED", "20261122"))


def journal_numbers(workdir: Path) -> set[str]:
    """Every number the journal says was bought (outcomes and re-counts)."""
    path = workdir / ".reconciler" / "journal.jsonl"
    out: set[str] = set()
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line torn by the kill
        if record.get("event") in ("outcome", "resolved") and isinstance(
            record.get("numbers"), list
        ):
            out.update(record["numbers"])
    return out


def converged(served: Served) -> None:
    london = served.numbers_at("London")
    assert len(london) == 3 and len(served.numbers_at("Calgary")) == 1
    inbound = served.sim.state.services["inbound"]
    assert all(n in inbound for n in london)
    assert "sales-sip" in inbound and "wakeup" in served.sim.state.services["outbound"]


def calibrate(tmp_path: Path) -> list[str]:
    work = tmp_path / "calibration"
    work.mkdir()
    with serve("empty", Faults(latency_ms=LATENCY_MS)) as served:
        path = work / "desired.yaml"
        path.write_text(desired_yaml(served))
        result = cli(work, "apply", str(path), "--yes")
        assert result.returncode == 0, explain(result)
        return [f"{c.method} {c.path}" for c in served.sim.calls]


def kill_and_recover(tmp_path: Path, index: int, k: int) -> str:
    rng = random.Random(SEED * 1000 + index)
    work = tmp_path / f"kill-{index}"
    work.mkdir()
    with serve("empty", Faults(latency_ms=LATENCY_MS)) as served:
        path = work / "desired.yaml"
        path.write_text(desired_yaml(served))
        victim = start(work, "apply", str(path), "--yes", "--purchase-wait", "2")
        deadline = time.monotonic() + 60
        while len(served.sim.calls) < k and victim.poll() is None:
            assert time.monotonic() < deadline, "the apply never reached the kill point"
            time.sleep(0.002)
        time.sleep(rng.uniform(0, LATENCY_MS / 1000))
        victim.send_signal(signal.SIGKILL)
        victim.communicate()
        killed_at = [f"{c.method} {c.path}" for c in served.sim.calls]
        served.sim.faults = Faults()

        again = cli(work, "apply", str(path), "--yes", "--purchase-wait", "2")

        where = f"seed {SEED}, point {index}, killed after call {k}: {killed_at[-1:]}"
        assert again.returncode == 0, f"{where}\n{explain(again)}"
        converged(served)
        bought = served.purchased()
        assert len(bought) == 4, f"{where}: bought {served.sim.state.purchase_log}"
        if (work / ".reconciler" / "journal.jsonl").exists():
            assert set(bought) <= journal_numbers(work), f"{where}: the journal forgot some"
        return where


def test_sigkill_at_random_points_then_apply_converges_with_no_extra_purchase(
    tmp_path: Path,
) -> None:
    calls = calibrate(tmp_path)
    purchases = [i + 1 for i, c in enumerate(calls) if c.endswith("/tel_purchase")]
    first_put = next(i + 1 for i, c in enumerate(calls) if c.startswith("PUT "))
    assert purchases and first_put > max(purchases)
    rng = random.Random(SEED)
    # Always: at each purchase, between the purchases and the first service write, at the
    # last call; one point in the reads; the rest anywhere in the writing part of the run.
    writing = next(i + 1 for i, c in enumerate(calls) if c.endswith("/tel_list_numbers") and i)
    points = [*purchases, first_put, len(calls), rng.randint(1, writing - 1)]
    while len(points) < KILL_POINTS:
        points.append(rng.randint(writing, len(calls)))
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(lambda ik: kill_and_recover(tmp_path, *ik), enumerate(points)))
    assert len(done) == KILL_POINTS
    print("\n".join(done))
