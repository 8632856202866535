"""Benchmark of the live read (issue 4): ``python -m benchmarks.bench_read``.

Writes a simulator state file of 10,000 numbers, 2,000 inbound services, 200 outbound services
and 1,000 relay numbers (built with the simulator's own state classes), starts
``python -m reconciler.simulator serve`` on it in a separate process with 20 ms of latency on
every call, and reads the account with :func:`reconciler.live.reader.read_live` at concurrency
16, through the default HTTP layer (the project's own HTTP/1.1 transport).

The desired state declares everything on the account, so the read is the whole account:
``tel_list_numbers``, both service lists, the 2,200 services (2,000 of them as the inbound
services of pool numbers) and 1,000 relay queries: 3,203 calls. The pools are full (no
catalogue) and every service merges (no schema).

Reported: the wall time against the bound ``latency x (1 + ceil(reads / concurrency))`` (every
read in flight at the concurrency limit, the lists in the first round), the number of calls the
simulator served against the minimum, and the CPU of the client and of the simulator during the
read (they share the machine's cores, so a slow simulator is not mistaken for a slow client).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.account import (
    API_KEY,
    AQL_PASSWORD,
    INBOUND_POOLS,
    OUTBOUND,
    POOL_SIZE,
    POOLS,
    RELAY,
    Size,
    accounts,
    build_desired,
    build_state,
)
from reconciler.clients.aculab import AculabClient
from reconciler.clients.aql import AqlClient
from reconciler.desired.model import DesiredState
from reconciler.live.model import LiveState
from reconciler.live.reader import read_live
from reconciler.simulator.account import SimState

NUMBERS = POOLS * POOL_SIZE


def build_account() -> tuple[SimState, DesiredState]:
    """The account in the simulator, and a desired state that declares all of it (the shared
    benchmark account of :mod:`benchmarks.account`, at full size)."""
    size = Size.scaled(1.0)
    return build_state(size), build_desired(size)


# --------------------------------------------------------------------------- the simulator


class SimProcess:
    """``python -m reconciler.simulator serve`` in its own process."""

    def __init__(self, state_file: Path, latency_ms: float) -> None:
        cmd = [
            sys.executable,
            "-m",
            "reconciler.simulator",
            "serve",
            "--port",
            "0",
            "--state",
            str(state_file),
            "--latency-ms",
            str(latency_ms),
            "--api-key",
            API_KEY,
            "--aql-password",
            AQL_PASSWORD,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.base_url = ""
        assert self.proc.stdout is not None
        seen: list[str] = []
        for line in self.proc.stdout:
            seen.append(line)
            m = re.search(r"Aculab web services:\s*(http://\S+)", line)
            if m:
                self.base_url = m.group(1)
            if "Press Ctrl-C" in line:
                break
        if not self.base_url:
            raise SystemExit("the simulator did not start:\n" + "".join(seen))

    def cpu_seconds(self) -> float:
        """User + system CPU of the simulator process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> int:
        """Stop it; the number of requests it served."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        m = re.search(r"stopped after (\d+) requests", out)
        return int(m.group(1)) if m else -1


# --------------------------------------------------------------------------- the read


async def timed_read(
    base_url: str, desired: DesiredState, concurrency: int, progress: bool
) -> tuple[LiveState, float, float]:
    aculab, aql = accounts(base_url)

    def show(done: int, total: int | None) -> None:
        if done == total or done % 200 == 0:
            of = "" if total is None else f"/{total:,}"
            print(f"\r  Reading live state {done:,}{of}", end="", file=sys.stderr)

    async with (
        AculabClient(aculab, concurrency=concurrency) as c,
        AqlClient(aql, concurrency=concurrency) as a,
    ):
        cpu0, t0 = time.process_time(), time.perf_counter()
        live = await read_live(
            desired, c, a, concurrency=concurrency, progress=show if progress else None
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if progress:
        print(file=sys.stderr)
    return live, wall, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="reads to time (default 3)")
    parser.add_argument("--progress", action="store_true", help="show the progress line")
    parser.add_argument("--profile", action="store_true", help="profile one read with pyinstrument")
    args = parser.parse_args(argv)

    state, desired = build_account()
    minimum = 1 + 2 + INBOUND_POOLS * POOL_SIZE + OUTBOUND + RELAY
    bound = args.latency_ms / 1000 * (1 + math.ceil(minimum / args.concurrency))
    print(
        f"Account: {NUMBERS:,} numbers, {len(state.services['inbound']):,} inbound services, "
        f"{OUTBOUND} outbound services, {RELAY:,} relay numbers; "
        f"latency {args.latency_ms:g} ms, concurrency {args.concurrency}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        state_file = Path(tmp) / "bench-state.json"
        state_file.write_bytes(state.to_json())
        sim = SimProcess(state_file, args.latency_ms)
        walls: list[float] = []
        cpus: list[float] = []
        sim_cpus: list[float] = []
        served = -1
        try:
            live: LiveState | None = None
            for _ in range(args.repeat):
                sim0 = sim.cpu_seconds()
                live, wall, cpu = asyncio.run(
                    timed_read(sim.base_url, desired, args.concurrency, args.progress)
                )
                sim_cpus.append(sim.cpu_seconds() - sim0)
                walls.append(wall)
                cpus.append(cpu)
            if args.profile:
                profile_one(sim.base_url, desired, args.concurrency)
        finally:
            served = sim.stop()
    assert live is not None
    read_count = (
        3 + len(live.inbound) + len(live.outbound) + len(live.relay_routes)
    )  # lists + reads
    assert len(live.numbers) == NUMBERS and len(live.inbound) == INBOUND_POOLS * POOL_SIZE
    assert len(live.outbound) == OUTBOUND and len(live.relay_routes) == RELAY
    reads_done = args.repeat + (1 if args.profile else 0)
    per_read = served / reads_done if served >= 0 else float("nan")
    best, median = min(walls), statistics.median(walls)
    print(f"Reads per snapshot: {read_count:,} (minimum {minimum:,})")
    print(
        f"Calls served by the simulator: {served:,} for {reads_done} reads = "
        f"{per_read:,.0f} per read (minimum {minimum:,})"
    )
    print(
        f"Wall time: best {best:.2f} s, median {median:.2f} s; "
        f"bound {bound:.2f} s = {args.latency_ms:g} ms x (1 + ceil({minimum:,}/{args.concurrency}))"
        f"; best/bound {best / bound:.2f}x, median/bound {median / bound:.2f}x (aim <= 1.30x)"
    )
    print(
        f"CPU during a read (median): client {statistics.median(cpus):.2f} s "
        f"({statistics.median(cpus) / minimum * 1000:.2f} ms/call), simulator "
        f"{statistics.median(sim_cpus):.2f} s ({statistics.median(sim_cpus) / minimum * 1000:.2f}"
        " ms/call)"
    )


def profile_one(base_url: str, desired: DesiredState, concurrency: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed: .venv/bin/pip install pyinstrument")
        return
    profiler = Profiler(async_mode="enabled")
    profiler.start()
    asyncio.run(timed_read(base_url, desired, concurrency, False))
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
