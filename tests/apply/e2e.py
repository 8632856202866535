"""Helpers of the end-to-end apply tests: a simulator served over HTTP on 127.0.0.1 in this
process, a desired state pointing at it, and the real CLI run as a subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.simulator import Faults, Simulator
from reconciler.simulator.server import RunningSimulator

WAKEUP_PASSWORD = "WAKEPW-e2e-31d7c0de"
SECRETS = ("sim-api-key", "sim-aql-password", WAKEUP_PASSWORD)

# Calls that change the account (the aql gateway's are told apart by `command`).
WRITE_PATHS = ("/tel_purchase", "/tel_delete_numbers")
WRITE_METHODS = ("PUT", "PATCH", "DELETE")


@dataclass
class Served:
    sim: Simulator
    running: RunningSimulator

    def writes(self) -> list[str]:
        out = []
        for call in self.sim.calls:
            if call.method in WRITE_METHODS or call.path in WRITE_PATHS:
                out.append(f"{call.method} {call.path}")
            elif call.path.startswith("/sms/") and call.params.get("command") == "modify":
                out.append(f"aql modify {call.params.get('number')}")
        return out

    def purchased(self) -> list[str]:
        return [n for entry in self.sim.state.purchase_log for n in entry["numbers"]]

    def numbers_at(self, region: str) -> list[str]:
        return sorted(n for n, v in self.sim.state.numbers.items() if v["region"] == region)


@contextlib.contextmanager
def serve(seed: str = "empty", faults: Faults | None = None) -> Iterator[Served]:
    sim = Simulator(seed=seed, faults=faults)
    with sim.serve() as running:
        yield Served(sim, running)


def desired_yaml(
    served: Served, *, london: int = 3, calgary: int = 1, pinned: str = "", extra: str = ""
) -> str:
    base = served.running.base_url
    return f"""\
version: 1
aculab:
  cloud_id: "1-2-0"
  username: ops@example.com
  api_key: ${{ACULAB_API_KEY}}
  endpoint: {base}
aql:
  username: example
  password: ${{AQL_PASSWORD}}
  endpoint: {served.running.aql_url}
templates:
  support-app:
    application_type: REST
    rest:
      first_page: {{address: "https://app.example.com/support/first"}}
numbers:
  pools:
    london-support:
      country: United Kingdom
      region: London
      did_type: geographic
      count: {london}
      inbound: {{template: support-app}}
    calgary:
      country: Canada
      state: Alberta
      region: Calgary
      count: {calgary}
{pinned}inbound_services:
  sales-sip:
    application_type: REST
    rest: {{first_page: {{address: "https://app.example.com/sales"}}}}
outbound_services:
  wakeup:
    service_password: ${{WAKEUP_PASSWORD}}
    application_type: REST
    rest: {{first_page: {{address: "https://app.example.com/wakeup"}}}}
{extra}"""


def pool_yaml(base_url: str, pool: str) -> str:
    """A desired state of one Aculab account at ``base_url`` with the pools ``pool`` (lines
    indented under ``numbers.pools``) and nothing else."""
    return f"""\
version: 1
aculab:
  cloud_id: "1-2-0"
  username: ops@example.com
  api_key: ${{ACULAB_API_KEY}}
  endpoint: {base_url}
numbers:
  pools:
{pool}"""


def env(**extra: str) -> dict[str, str]:
    out = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ACULAB_API_KEY", "AQL_PASSWORD", "WAKEUP_PASSWORD", "NO_COLOR")
    }
    out.update(
        ACULAB_API_KEY="sim-api-key",
        AQL_PASSWORD="sim-aql-password",
        WAKEUP_PASSWORD=WAKEUP_PASSWORD,
        NO_COLOR="1",
    )
    out.update(extra)
    return out


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def cli(
    cwd: Path,
    *args: str,
    environ: dict[str, str] | None = None,
    timeout: float = 90,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion, no terminal on stdin."""
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=environ if environ is not None else env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(cwd: Path, *args: str, environ: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=environ if environ is not None else env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def explain(result: subprocess.CompletedProcess[str] | Sequence[str]) -> str:
    if isinstance(result, subprocess.CompletedProcess):
        return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return "\n".join(result)
