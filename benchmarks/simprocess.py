"""The simulator in its own process, so that it and the client under test don't share a GIL.

The parent writes the account (a :class:`~reconciler.simulator.SimState`) to a file and starts
``python -m benchmarks.simprocess STATE_FILE --latency-ms N``; the child loads it into an
in-memory :class:`~reconciler.simulator.Simulator` (nothing is written back: a real account
doesn't spend time saving a JSON file, and the benchmark measures the client), serves it over
real HTTP on 127.0.0.1 (with ``--fleet N``, as N more accounts too, ``acct-000`` ..., each
with its own copy and the credentials of :func:`reconciler.simulator.fleet_credentials`) and
answers one-line commands on stdin with one JSON line on stdout:

- ``stats``: the calls served since the last ``stats`` (total, and by endpoint: ``GET
  /service/v1/inbound/*``, ``POST aql query``, ...) and the child's CPU seconds since then;
- ``latency MS``: set the latency added to every call;
- ``rate N``: limit each vendor (Aculab, aql) to N requests a second, a token bucket holding one
  second's worth (429 with ``Retry-After`` past it); ``rate 0`` lifts the limit;
- ``quit`` (or end of input): stop.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.account import API_KEY, AQL_PASSWORD, AQL_USERNAME, CLOUD_ID, USERNAME

_NAMED = re.compile(r"^(/service/v1/(?:inbound|outbound))/[^/]+$")


def endpoint(method: str, path: str, params: dict[str, str]) -> str:
    """A call's endpoint, with the service name or aql command in place of the details."""
    if path.startswith("/sms/"):
        return f"aql {params.get('command', '?')}"
    named = _NAMED.match(path)
    if named:
        return f"{method} {named.group(1)}/*"
    return f"{method} {path}"


class SimProcess:
    """The parent's handle on a simulator child process (a context manager)."""

    def __init__(self, state_file: Path, latency_ms: float = 0.0, fleet: int = 0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.simprocess",
            str(state_file),
            "--latency-ms",
            str(latency_ms),
            "--fleet",
            str(fleet),
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        hello = self._reply()
        self.base_url: str = hello["base_url"]
        self.pid: int = self.proc.pid

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=10)
            raise RuntimeError(f"the benchmark simulator exited ({code}) without answering")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def stats(self) -> dict[str, Any]:
        """Calls by endpoint and CPU seconds since the last call (and resets them)."""
        return self.command("stats")

    def set_latency(self, ms: float) -> None:
        self.command(f"latency {ms}")

    def set_rate_limit(self, per_s: float) -> None:
        self.command(f"rate {per_s}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, RuntimeError, ValueError):
                self.command("quit")
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fleet_name(i: int) -> str:
    """The name of the ``i``-th hosted account of ``--fleet``."""
    return f"acct-{i:03d}"


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a benchmark simulator (see the docstring)")
    parser.add_argument("state_file", type=Path)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fleet", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)

    from reconciler.eventloop import serving
    from reconciler.simulator import Faults, SimCredentials, SimState, Simulator

    state = SimState.load(args.state_file)
    credentials = SimCredentials(
        cloud_id=CLOUD_ID,
        username=USERNAME,
        api_key=API_KEY,
        aql_username=AQL_USERNAME,
        aql_password=AQL_PASSWORD,
    )
    faults = Faults(latency_ms=args.latency_ms)
    sim = Simulator(seed="empty", credentials=credentials, faults=faults)
    sim.state = state
    raw = args.state_file.read_bytes()
    for i in range(args.fleet):
        hosted = sim.add_account(fleet_name(i))
        hosted.state = SimState.from_json(raw, source=str(args.state_file))

    def say(payload: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    # As `reconciler simulator serve` does (reconciler/eventloop.py, serving).
    with serving(), sim.serve() as running:
        say({"base_url": running.base_url})
        cpu0, wall0 = _cpu(), time.perf_counter()
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "stats":
                # The list is swapped, not copied: the server thread appends to the new one.
                calls, sim.calls = sim.calls, []
                cpu1, wall1 = _cpu(), time.perf_counter()
                by = Counter(endpoint(c.method, c.path, c.params) for c in calls)
                statuses = Counter(str(c.status) for c in calls)
                answered = Counter(
                    "aql" if c.path.startswith("/sms/") else "aculab"
                    for c in calls
                    if c.status != 429
                )
                say(
                    {
                        "calls": len(calls),
                        "by_endpoint": dict(sorted(by.items())),
                        "statuses": dict(statuses),
                        "answered": dict(answered),
                        "cpu_s": cpu1 - cpu0,
                        "wall_s": wall1 - wall0,
                    }
                )
                cpu0, wall0 = cpu1, wall1
            elif words[0] == "rate":
                sim.faults.rate_limit_per_s = float(words[1])
                say({"rate_limit_per_s": sim.faults.rate_limit_per_s})
            elif words[0] == "latency":
                sim.faults.latency_ms = float(words[1])
                say({"latency_ms": sim.faults.latency_ms})
            else:
                say({"error": f"unknown command {words[0]!r}"})
    sys.stdout.flush()


if __name__ == "__main__":
    main()
