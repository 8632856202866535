"""The :class:`Simulator`: one simulated account, its app, its faults and its record of calls."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.simulator.account import SimState, write_atomic
from reconciler.simulator.app import SimCall, build_app, digest
from reconciler.simulator.dialect import Dialect
from reconciler.simulator.faults import Dice, Faults

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from reconciler.simulator.server import RunningSimulator

# sim.calls keeps at most this many calls (a long-running server would otherwise grow
# without bound); past it, the oldest half is forgotten.
MAX_CALLS = 200_000


@dataclass
class SimCredentials:
    """The credentials the simulator accepts. These are test values of a local server."""

    cloud_id: str = "1-2-0"
    username: str = "ops@example.com"
    api_key: str = field(default="sim-api-key", repr=False)
    aql_username: str = "example"
    aql_password: str = field(default="sim-aql-password", repr=False)

    @property
    def basic_username(self) -> str:
        """The HTTP Basic user name of the Aculab API: ``cloudID/username``."""
        return f"{self.cloud_id}/{self.username}"


class Simulator:
    """A faithful, stateful stand-in for Aculab Cloud's web services and aql's relay gateway.

    ``seed`` (``"empty"`` or ``"demo"``) makes a new account; with a ``state_file`` that
    exists, the account is loaded from it instead (and the seed is ignored), and every change
    is saved back to it atomically before the reply is sent. ``rng_seed`` decides the numbers
    that purchases produce. ``faults`` (see :class:`Faults`) may be changed at any time.
    ``dialect`` (see :class:`Dialect`) picks the alternatives the vendor pages leave open; by
    default the one ``RECONCILER_SIMULATOR_DIALECT`` names, else the documented one.

    Use :attr:`app` with ``httpx.ASGITransport`` in-process, or :meth:`serve` for real HTTP::

        sim = Simulator(seed="demo")
        with sim.serve() as running:
            httpx.get(running.base_url + "/tel_list_numbers", auth=("1-2-0/ops@example.com",
                      "sim-api-key"))
    """

    def __init__(
        self,
        seed: str = "empty",
        credentials: SimCredentials | None = None,
        state_file: Path | str | None = None,
        faults: Faults | None = None,
        rng_seed: int = 0,
        dialect: Dialect | None = None,
    ) -> None:
        self.dialect = dialect if dialect is not None else Dialect.from_environment()
        self.credentials = credentials or SimCredentials()
        self.state_file = Path(state_file) if state_file is not None else None
        self.seed = seed
        self.calls: list[SimCall] = []
        self._faults = faults or Faults()
        self._occurrences: dict[bytes, int] = {}
        self._lost_replies = 0
        self._stopping = threading.Event()
        self._app: Starlette | None = None
        self._write_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._version = 0
        self._written = 0
        self.resumed = self.state_file is not None and self.state_file.exists()
        if self.state_file is not None and self.resumed:
            self.state = SimState.load(self.state_file)
        else:
            self.state = SimState.seeded(seed, rng_seed)
            self.save()

    # ------------------------------------------------------------------ public surface

    @property
    def app(self) -> Starlette:
        """The ASGI app (built once)."""
        if self._app is None:
            self._app = build_app(self)
        return self._app

    @property
    def faults(self) -> Faults:
        """The faults in force; assigning a new :class:`Faults` restarts their dice."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._faults = faults
        self._occurrences = {}
        self._lost_replies = 0

    def serve(self, port: int = 0, host: str = "127.0.0.1") -> RunningSimulator:
        """Serve over real HTTP in a background thread; use the result as a context manager.
        ``port=0`` picks a free port."""
        from reconciler.simulator.server import RunningSimulator

        return RunningSimulator(self, host=host, port=port)

    def save(self) -> None:
        """Write the account to the state file now (no-op without one). Changes made through
        the API are saved automatically; call this after changing :attr:`state` directly."""
        if self.state_file is not None:
            write_atomic(self.state_file, self.state.to_json())

    # ------------------------------------------------------------------ for the app

    def record(self, call: SimCall) -> None:
        if len(self.calls) >= MAX_CALLS:
            del self.calls[: MAX_CALLS // 2]
        self.calls.append(call)

    def faults_active(self) -> bool:
        f = self._faults
        return bool(
            f.latency_ms
            or f.latency_jitter_ms
            or f.error_rate
            or f.rate_limit
            or f.rate_limit_per_s
            or f.garbage_rate
            or f.lost_purchase_reply
        )

    def dice(self, identity: bytes) -> Dice:
        key = digest(identity)
        occurrence = self._occurrences.get(key, 0)
        self._occurrences[key] = occurrence + 1
        return Dice(self._faults.seed, identity, occurrence)

    def may_lose_reply(self) -> bool:
        limit = self._faults.lost_purchase_limit
        return limit is None or self._lost_replies < limit

    def count_lost_reply(self) -> None:
        self._lost_replies += 1

    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def persist(self) -> None:
        """Save after a change, before the reply goes out. Writes are serialised; a write
        covers every change made before it started, so concurrent changes share one write."""
        if self.state_file is None:
            return
        self._version += 1
        mine = self._version
        loop = asyncio.get_running_loop()
        if self._write_lock is None or self._lock_loop is not loop:
            self._write_lock, self._lock_loop = asyncio.Lock(), loop
        async with self._write_lock:
            if self._written >= mine:
                return
            version = self._version
            data = self.state.to_json()
            await asyncio.to_thread(write_atomic, self.state_file, data)
            self._written = version
