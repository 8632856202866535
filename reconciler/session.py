"""A session: one command's run against one account.

It owns what every account-touching command (plan, apply, drift, export) shares: the global
settings, the working directory ``.reconciler/``, the embedded simulator under ``--simulate``,
and the API clients. Commands in :mod:`reconciler.cli` open a session, call the domain
modules through it, and print what they return.

Under ``--simulate`` the session starts :class:`reconciler.simulator.Simulator` on a free
loopback port, with its state in ``.reconciler/simulator.json`` (seeded with the demo
account when the file is new), and replaces the account credentials and endpoints of the
desired state with the simulator's: the environment variables the YAML names need not be set.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.clients.limits import DEFAULT_CALL_DEADLINE, DEFAULT_RETRY_BUDGET, RetryBudget
from reconciler.errors import ConfigError

# The model is imported where it is used: `reconciler --version` loads this module and should
# not pay for the model's dataclasses.
if TYPE_CHECKING:
    from reconciler.clients.aculab import AculabClient
    from reconciler.clients.aql import AqlClient
    from reconciler.desired import LoadResult
    from reconciler.desired.model import AculabAccount, AqlAccount, DesiredState
    from reconciler.live.model import LiveState
    from reconciler.live.progress import ProgressCallback
    from reconciler.simulator import SimAccount, Simulator

WORKDIR = Path(".reconciler")


def check_workdir(workdir: Path) -> None:
    """Raise :class:`ConfigError` when something other than a directory is in the way of the
    working directory (journal, lock, simulator state); whoever creates it sets its mode."""
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(
            f"cannot use {workdir} as reconciler's working directory: it is not a directory",
            hint=f"reconciler keeps its journal, lock and simulator state in {workdir}/; "
            "move the file that is in the way, or run from another directory",
        )


SIMULATOR_STATE = "simulator.json"


@dataclass
class Settings:
    """Global options of every command (docs/commands.md)."""

    simulate: bool = False
    verbose: int = 0
    color: bool | None = None  # None: decide from the terminal and NO_COLOR
    concurrency: int = 16
    workdir: Path = WORKDIR
    call_deadline: float = DEFAULT_CALL_DEADLINE
    retry_budget: int = DEFAULT_RETRY_BUDGET


class Session:
    """One command's run. Use as a context manager: the embedded simulator (if any) stops
    when the session closes.

    Extension point: a command that needs the account calls :meth:`load`, then
    ``async with session.clients(desired) as (aculab, aql)``.
    """

    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.environ = environ
        self._stack = contextlib.ExitStack()
        # The redactor of this run: the command's when one is active (the command line makes
        # one per command), or its own. Every Secret made in the session is known to it.
        from reconciler.secret import Redactor, active_redactor

        self.redactor = active_redactor() or Redactor()
        self._simulator: Simulator | None = None
        self._sim_base_url: str | None = None
        self._sim_aql_url: str | None = None
        self._sim_account: SimAccount | None = None
        self.retry_budget = RetryBudget(settings.retry_budget)

    def __enter__(self) -> Session:
        self._stack.enter_context(self.redactor.active())
        try:
            if self.settings.simulate:
                self._start_simulator()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # ----------------------------------------------------------------- the simulator

    def _start_simulator(self) -> None:
        from reconciler.errors import SimulatorError
        from reconciler.simulator import Simulator

        check_workdir(self.settings.workdir)
        self.settings.workdir.mkdir(parents=True, exist_ok=True)
        state_file = self.settings.workdir / SIMULATOR_STATE
        try:
            sim = Simulator(seed="demo", state_file=state_file)
        except SimulatorError as err:
            # The simulator's own hint names `simulator serve --state`, which --simulate has not.
            raise SimulatorError(
                err.message,
                hint=f"delete {state_file} to start again from the demo account",
            ) from None
        running = self._stack.enter_context(sim.serve())
        self._simulator = sim
        self._sim_base_url = running.base_url
        self._sim_aql_url = running.aql_url

    @property
    def simulator(self) -> Simulator | None:
        return self._simulator

    def for_account(self, name: str, workdir: Path) -> Session:
        """This session for one account of a fleet: its working directory (journal, lock) is
        ``workdir``, and under ``--simulate`` the embedded simulator hosts the account (its own
        credentials, its state in ``workdir``). The view shares this session's simulator and
        closes with it; don't use it as a context manager."""
        view = copy.copy(self)
        view.settings = dataclasses.replace(self.settings, workdir=workdir)
        if self._simulator is not None:
            check_workdir(workdir)
            workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
            view._sim_account = self._simulator.add_account(
                name, seed="demo", state_file=workdir / SIMULATOR_STATE
            )
        return view

    # ----------------------------------------------------------------- desired state

    def load(self, path: str | Path) -> LoadResult:
        """Load and validate the desired state (raises ValidationFailed)."""
        from reconciler.desired import load

        return load(path, environ=self.environ, simulate=self.settings.simulate)

    def accounts(self, desired: DesiredState) -> tuple[AculabAccount | None, AqlAccount | None]:
        """The accounts to talk to: those of the vendors the YAML names (its ``aculab:`` and
        ``aql:`` sections), as the YAML gives them or, under ``--simulate``, the simulator's.
        An aql customer's YAML has no ``aculab:`` section: then Aculab is never called."""
        if desired.aculab is None and desired.aql is None:
            raise ConfigError(
                "the desired state has neither an `aculab:` nor an `aql:` section, so there is "
                "no account to read",
                hint="add `aculab: {cloud_id, username, api_key}` for numbers and services, "
                "or `aql: {username, password}` for relay routes",
            )
        if self._simulator is not None:
            from reconciler.desired.model import AculabAccount, AqlAccount
            from reconciler.secret import Secret

            hosted = self._sim_account or self._simulator.primary
            creds = hosted.credentials
            aculab = AculabAccount(
                cloud_id=creds.cloud_id,
                username=creds.username,
                api_key=Secret(creds.api_key),
                endpoint=self._sim_base_url,
            )
            aql = AqlAccount(
                username=creds.aql_username,
                password=Secret(creds.aql_password),
                endpoint=self._sim_aql_url,
            )
            return (
                aculab if desired.aculab is not None else None,
                aql if desired.aql is not None else None,
            )
        return desired.aculab, desired.aql

    # ----------------------------------------------------------------- clients

    @staticmethod
    def preload() -> None:
        """Import now what reading an account imports on first use (the API clients and
        httptools under them): a fleet's forked workers then inherit it, where each would
        otherwise import it again, compiling it too where no bytecode is written
        (``PYTHONDONTWRITEBYTECODE``, common in containers)."""
        import reconciler.clients.aculab
        import reconciler.clients.aql
        import reconciler.clients.http11
        import reconciler.live.reader  # noqa: F401

    @contextlib.asynccontextmanager
    async def clients(
        self, desired: DesiredState
    ) -> AsyncIterator[tuple[AculabClient | None, AqlClient | None]]:
        """Open a client for each vendor the YAML names (:meth:`accounts`)."""
        from reconciler.clients.aculab import AculabClient
        from reconciler.clients.aql import AqlClient

        aculab_account, aql_account = self.accounts(desired)
        settings = self.settings
        # One retry budget for the run, shared by both APIs' clients.
        limits: dict[str, Any] = {
            "concurrency": settings.concurrency,
            "deadline": settings.call_deadline,
            "budget": self.retry_budget,
        }
        async with contextlib.AsyncExitStack() as stack:
            aculab: AculabClient | None = None
            if aculab_account is not None:
                aculab = await stack.enter_async_context(AculabClient(aculab_account, **limits))
            aql: AqlClient | None = None
            if aql_account is not None:
                aql = await stack.enter_async_context(AqlClient(aql_account, **limits))
            yield aculab, aql

    async def read_live(
        self,
        desired: DesiredState,
        aculab: AculabClient | None,
        aql: AqlClient | None,
        progress: ProgressCallback | None = None,
        *,
        fingerprint: bool = True,
    ) -> LiveState:
        """Read the whole live account the desired state needs (raises LiveReadError);
        ``fingerprint``: for a plan that may be saved (:func:`reconciler.live.reader.read_live`)."""
        from reconciler.live.reader import read_live

        return await read_live(
            desired,
            aculab,
            aql,
            concurrency=self.settings.concurrency,
            progress=progress,
            fingerprint=fingerprint,
        )


@contextlib.contextmanager
def open_session(settings: Settings, **kw: Any) -> Iterator[Session]:
    """``with open_session(settings) as session:`` — the usual way in."""
    with Session(settings, **kw) as session:
        yield session
