"""Helpers of the fleet tests: one simulator hosting several accounts, served over HTTP on
127.0.0.1, and a desired-state file per account pointing at its own credentials."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.simulator import SimAccount, Simulator
from reconciler.simulator.server import RunningSimulator

# The demo account's outbound service, as each account's YAML wants it (the demo has
# "English US Female Polly Joanna": every new account plans one update).
VOICE = "English UK Female Polly Amy"
WAKEUP_PASSWORD = "WAKE-fleet-5e5a1d"


@dataclass
class Fleet:
    """A served simulator and its hosted accounts, by name."""

    sim: Simulator
    running: RunningSimulator
    accounts: dict[str, SimAccount]

    def env(self) -> dict[str, str]:
        """Each account's secrets, as a CI job's environment would hold them."""
        out: dict[str, str] = {}
        for name, account in self.accounts.items():
            out[f"KEY_{var(name)}"] = account.credentials.api_key
            out[f"AQL_{var(name)}"] = account.credentials.aql_password
            out[f"WAKE_{var(name)}"] = WAKEUP_PASSWORD
        return out

    def secrets(self) -> list[str]:
        return [
            WAKEUP_PASSWORD,
            *(
                s
                for a in self.accounts.values()
                for s in (a.credentials.api_key, a.credentials.aql_password)
            ),
        ]

    def write(
        self,
        directory: Path,
        name: str,
        *,
        extra: str = "",
        key: str = "",
        max_purchase: int = 10,
        description: str | None = None,
    ) -> Path:
        """Write ``NAME.yaml`` for account ``name`` into ``directory`` (``description``: the
        wake-up service's, as YAML text)."""
        creds = self.accounts[name].credentials
        described = "" if description is None else f"\n    description: {description}"
        text = f"""\
version: 1
aculab:
  cloud_id: "{creds.cloud_id}"
  username: {creds.username}
  api_key: ${{{key or "KEY_" + var(name)}}}
  endpoint: {self.running.base_url}
aql:
  username: {creds.aql_username}
  password: ${{AQL_{var(name)}}}
  endpoint: {self.running.aql_url}
outbound_services:
  wakeup:
    service_password: ${{WAKE_{var(name)}}}{described}
    rest:
      tts_voice: {VOICE}
safety:
  max_update_percent: 100
  max_purchase: {max_purchase}
{extra}"""
        path = directory / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def settle(self, name: str) -> None:
        """Make account ``name`` match its YAML already (by hand, on the simulator)."""
        wakeup = self.accounts[name].state.services["outbound"]["wakeup"]
        wakeup["rest"]["tts_voice"] = VOICE
        wakeup["service_password"] = WAKEUP_PASSWORD

    def voice(self, name: str) -> str:
        voice: str = self.accounts[name].state.services["outbound"]["wakeup"]["rest"]["tts_voice"]
        return voice


def var(name: str) -> str:
    return name.upper().replace("-", "_").replace(".", "_")


@contextlib.contextmanager
def serve_fleet(names: Sequence[str]) -> Iterator[Fleet]:
    sim = Simulator(seed="empty")
    accounts = {name: sim.add_account(name, seed="demo") for name in names}
    with sim.serve() as running:
        yield Fleet(sim, running, accounts)
