"""Concurrency: two applies started at the same moment in one directory.

Both are real ``reconciler`` processes, launched together against one simulator (with latency,
so that the one that wins holds the lock for a while). Whichever wins, exactly one applies and
the other stops at once with a message naming the holder, having read and written nothing of
the account: the journal holds one run, the purchases are those of one apply, and the loser
never even showed a plan. The same holds when both find a lock left by a dead process: only
one of them takes it over.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from apply.e2e import env, start

from reconciler.simulator import Faults, Simulator

from .scenario import ENVIRON
from .support import account_yaml, journal_records

pytestmark = pytest.mark.e2e

DESIRED = """\
numbers:
  pools:
    london: {country: United Kingdom, region: London, count: 3, inbound: {template: app}}
templates:
  app:
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/first"}}
outbound_services:
  wakeup:
    service_password: "${PW_WAKEUP}"
    application_type: REST
    rest: {first_page: {address: "https://app.example.com/wakeup"}}
"""


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


@pytest.mark.parametrize("stale_lock", [False, False, True], ids=["race-1", "race-2", "stale"])
def test_two_applies_at_once_one_runs_the_other_stops_and_changes_nothing(
    tmp_path: Path, stale_lock: bool
) -> None:
    lock = tmp_path / ".reconciler" / "apply.lock"
    if stale_lock:
        lock.parent.mkdir()
        lock.write_text(
            json.dumps(
                {
                    "pid": _dead_pid(),
                    "host": socket.gethostname(),
                    "started": "2026-01-01T00:00:00+00:00",
                    "command": "reconciler apply old.yaml",
                    "token": "dead",
                }
            )
        )
    sim = Simulator(seed="empty", faults=Faults(latency_ms=60))
    environ = env(**ENVIRON)
    with sim.serve() as running:
        path = tmp_path / "desired.yaml"
        path.write_text(account_yaml(running.base_url, running.aql_url, DESIRED))
        args = ("apply", str(path), "--yes")
        both = [start(tmp_path, *args, environ=environ), start(tmp_path, *args, environ=environ)]
        outputs = [p.communicate(timeout=120) for p in both]

    results = sorted(
        zip((p.returncode for p in both), (p.pid for p in both), outputs, strict=True),
        key=lambda r: r[0],
    )
    shown = "\n\n".join(
        f"pid {pid}: exit {code}\n{out}\n{err}" for code, pid, (out, err) in results
    )
    (won, winner, (won_out, won_err)), (lost, _loser, (lost_out, lost_err)) = results
    assert (won, lost) == (0, 1), shown
    assert "Apply complete" in won_out, shown
    assert "another apply is running in this directory" in lost_err, shown
    assert f"pid {winner}" in lost_err and "apply.lock" in lost_err, shown
    if stale_lock:  # the winner took the dead process's lock over, and said so
        assert "took over a stale lock" in won_err and "took over" not in lost_err, shown
    # The loser stopped before reading the account: it showed no plan, journalled nothing.
    assert "will make these changes" not in lost_out + lost_err, shown
    assert len({r["run"] for r in journal_records(tmp_path)}) == 1, shown
    # One apply's worth of changes: three numbers bought once, the service written.
    assert len([n for e in sim.state.purchase_log for n in e["numbers"]]) == 3, shown
    assert "wakeup" in sim.state.services["outbound"]
    assert not lock.exists()  # the winner released it
