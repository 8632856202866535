"""The :class:`Simulator`: simulated accounts, their app, its faults and its record of calls.

One simulator hosts one account, or many (:meth:`Simulator.add_account`): each has distinct
credentials and its own state (and state file), so a fleet of hundreds of accounts is tested
and measured in one process. A request is answered from the account its credentials name.
"""

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


@dataclass(eq=False)
class SimAccount:
    """One simulated account: its credentials, its state, and where that state is saved."""

    name: str
    credentials: SimCredentials
    state: SimState
    state_file: Path | None = None
    resumed: bool = False
    _version: int = field(default=0, repr=False)
    _written: int = field(default=0, repr=False)
    _write_lock: asyncio.Lock | None = field(default=None, repr=False)
    _lock_loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    def save(self) -> None:
        """Write the state file now (no-op without one)."""
        if self.state_file is not None:
            write_atomic(self.state_file, self.state.to_json())

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


def fleet_credentials(name: str) -> SimCredentials:
    """The credentials of a hosted account named ``name``: distinct for every name (the
    test values of a local server)."""
    return SimCredentials(
        cloud_id="1-2-0",
        username=f"{name}@example.com",
        api_key=f"sim-api-key-{name}",
        aql_username=f"aql-{name}",
        aql_password=f"sim-aql-password-{name}",
    )


class Simulator:
    """A faithful, stateful stand-in for Aculab Cloud's web services and aql's relay gateway.

    ``seed`` (``"empty"`` or ``"demo"``) makes a new account; with a ``state_file`` that
    exists, the account is loaded from it instead (and the seed is ignored), and every change
    is saved back to it atomically before the reply is sent. ``rng_seed`` decides the numbers
    that purchases produce. ``faults`` (see :class:`Faults`) may be changed at any time.
    ``dialect`` (see :class:`Dialect`) picks the alternatives the vendor pages leave open; by
    default the one ``RECONCILER_SIMULATOR_DIALECT`` names, else the documented one.

    The account made here is the primary one (:attr:`state`, :attr:`credentials`);
    :meth:`add_account` hosts more, each with its own credentials and state.

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
        self.seed = seed
        self.calls: list[SimCall] = []
        self._faults = faults or Faults()
        self._occurrences: dict[bytes, int] = {}
        self._lost_replies = 0
        self._stopping = threading.Event()
        self._app: Starlette | None = None
        self.primary = self._make_account(
            "", credentials or SimCredentials(), seed, rng_seed, state_file
        )
        # Every hosted account, the primary first; looked up by credentials per request.
        self.accounts: dict[str, SimAccount] = {"": self.primary}
        self._by_basic: dict[bytes, SimAccount] = {}
        self._by_aql: dict[str, SimAccount] = {}
        self._index(self.primary)

    @staticmethod
    def _make_account(
        name: str,
        credentials: SimCredentials,
        seed: str,
        rng_seed: int,
        state_file: Path | str | None,
    ) -> SimAccount:
        path = Path(state_file) if state_file is not None else None
        resumed = path is not None and path.exists()
        if path is not None and resumed:
            state = SimState.load(path)
        else:
            state = SimState.seeded(seed, rng_seed)
        account = SimAccount(name, credentials, state, path, resumed)
        if not resumed:
            account.save()
        return account

    def _index(self, account: SimAccount) -> None:
        creds = account.credentials
        basic = creds.basic_username.encode()
        if basic in self._by_basic or creds.aql_username in self._by_aql:
            raise ValueError(f"account {account.name!r}: its credentials are another's")
        self._by_basic[basic] = account
        self._by_aql[creds.aql_username] = account

    def add_account(
        self,
        name: str,
        credentials: SimCredentials | None = None,
        *,
        seed: str = "empty",
        rng_seed: int | None = None,
        state_file: Path | str | None = None,
    ) -> SimAccount:
        """Host another account (before serving requests for it). Credentials default to
        :func:`fleet_credentials` of ``name``; the numbers its purchases produce differ from
        the other accounts' (``rng_seed`` defaults to one derived from the name). Adding a
        name again returns the account already hosted."""
        if not name:
            raise ValueError("an added account needs a name")
        if name in self.accounts:
            return self.accounts[name]
        if rng_seed is None:
            rng_seed = int.from_bytes(digest(name.encode())[:4], "big")
        account = self._make_account(
            name, credentials or fleet_credentials(name), seed, rng_seed, state_file
        )
        self._index(account)
        self.accounts[name] = account
        return account

    def account_for_basic(self, user: bytes) -> SimAccount | None:
        """The account whose HTTP Basic user name (``cloudID/username``) this is."""
        return self._by_basic.get(user)

    def account_for_aql(self, username: str) -> SimAccount:
        """The account of an aql user name (the primary when none is: its reply is 401)."""
        return self._by_aql.get(username, self.primary)

    # ------------------------------------------------------------------ the primary account

    @property
    def credentials(self) -> SimCredentials:
        return self.primary.credentials

    @property
    def state(self) -> SimState:
        return self.primary.state

    @state.setter
    def state(self, state: SimState) -> None:
        self.primary.state = state

    @property
    def state_file(self) -> Path | None:
        return self.primary.state_file

    @property
    def resumed(self) -> bool:
        return self.primary.resumed

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
        """Write the primary account to its state file now (no-op without one). Changes made
        through the API are saved automatically; call this after changing :attr:`state`
        directly."""
        self.primary.save()

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
