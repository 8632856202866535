"""Real HTTP: the simulator's app served by uvicorn on 127.0.0.1, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn

from reconciler.errors import SimulatorError
from reconciler.simulator.app import AQL_PATH, install_log_filter

if TYPE_CHECKING:
    from reconciler.simulator.simulator import Simulator


class _Server(uvicorn.Server):
    """uvicorn's server, woken at once when asked to stop (its own loop polls every 0.1 s)."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def wake(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)


class RunningSimulator:
    """A simulator listening on ``host:port``; a context manager that stops it on exit.

    ``base_url`` serves the Aculab paths at its root; ``aql_url`` is the aql gateway.
    """

    def __init__(self, simulator: Simulator, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self.host = host
        install_log_filter()
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and without
        # it a reply written in two parts waits ~40 ms for a delayed ACK (docs/performance.md).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
            sock.listen(2048)
        except OSError as err:
            sock.close()
            raise SimulatorError(
                f"the simulator cannot listen on {host}:{port}: {err.strerror or err}",
                hint="pick another --port, or --port 0 for any free port",
            ) from None
        self._sock = sock
        self.port: int = sock.getsockname()[1]
        config = uvicorn.Config(
            simulator.app,
            log_level="warning",
            log_config=None,  # leave the process's logging alone
            access_log=False,
            lifespan="off",
            # Served on 127.0.0.1 with no proxy in front: no X-Forwarded-* to trust, and no
            # middleware to run on every request for them.
            proxy_headers=False,
            # uvloop where it is installed (a dependency where it has wheels): about a quarter
            # less CPU per request, which a benchmark's client shares the machine with
            # (docs/performance.md). uvicorn >= 0.36 makes it this server's loop only: the
            # command's own loop, under --simulate in the same process, is its own choice
            # (reconciler/eventloop.py).
            loop="auto",
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._error: BaseException | None = None
        simulator._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"simulator-{self.port}", daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                sock.close()
                raise SimulatorError(f"the simulator failed to start: {self._error!r}")
            time.sleep(0.002)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as err:  # reported by the starting thread
            self._error = err

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the Aculab Cloud web services."""
        return f"http://{self.host}:{self.port}"

    @property
    def aql_url(self) -> str:
        """The aql relay gateway."""
        return self.base_url + AQL_PATH

    def stop(self) -> None:
        """Stop serving: stalled replies are abandoned, in-flight ones get 2 s to finish."""
        if not self._thread.is_alive():
            return
        self.simulator._stopping.set()
        self._server.should_exit = True
        self._server.wake()
        self._thread.join(10)
        if self._thread.is_alive():  # pragma: no cover - a request that would not finish
            self._server.force_exit = True
            self._thread.join(5)
        self._sock.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread.is_alive():
            self._thread.join(0.2)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ what to tell a user

    def account_yaml(self) -> str:
        """The ``aculab:`` and ``aql:`` sections of a desired-state file pointing here."""
        creds = self.simulator.credentials
        return (
            "aculab:\n"
            f'  cloud_id: "{creds.cloud_id}"\n'
            f"  username: {creds.username}\n"
            f"  api_key: ${{ACULAB_API_KEY}}      # {creds.api_key}\n"
            f"  endpoint: {self.base_url}\n"
            "aql:\n"
            f"  username: {creds.aql_username}\n"
            f"  password: ${{AQL_PASSWORD}}       # {creds.aql_password}\n"
            f"  endpoint: {self.aql_url}\n"
        )

    def banner(self) -> str:
        """What ``reconciler simulator serve`` prints: URLs, credentials, how to point at it.
        (The credentials are this local test server's own; printing them is the point.)"""
        sim = self.simulator
        creds = sim.credentials
        if sim.state_file is None:
            origin = f"state in memory, seed {sim.seed}"
        elif sim.resumed:
            origin = f"state resumed from {sim.state_file}"
        else:
            origin = f"state in {sim.state_file}, seed {sim.seed}"
        return (
            f"Simulator of Aculab Cloud and the aql relay gateway ({origin})\n"
            f"  Aculab web services: {self.base_url}\n"
            f"  aql relay gateway:   {self.aql_url}\n"
            "\n"
            "Credentials of this local test server:\n"
            f"  Aculab  cloud ID {creds.cloud_id}, username {creds.username}, "
            f"API key {creds.api_key}\n"
            f"          (HTTP Basic user {creds.basic_username})\n"
            f"  aql     username {creds.aql_username}, password {creds.aql_password}\n"
            "\n"
            "Try:\n"
            f"  curl -u '{creds.basic_username}:{creds.api_key}' {self.base_url}/tel_list_numbers\n"
            "\n"
            "Point a desired-state file at it:\n"
            f"  export ACULAB_API_KEY='{creds.api_key}' AQL_PASSWORD='{creds.aql_password}'\n"
            + "".join(f"  {line}\n" for line in self.account_yaml().splitlines())
            + "\n"
            f"Faults: {sim.faults.describe()}\n"
            f"Dialect: {sim.dialect.describe()}\n" + self._hosted()
        )

    def _hosted(self) -> str:
        """The other accounts this simulator hosts, and their credentials."""
        others = [a for a in self.simulator.accounts.values() if a.name]
        if not others:
            return ""
        lines = ["", f"Also hosted ({len(others)} accounts, each with its own state):"]
        for account in others:
            c = account.credentials
            lines.append(
                f"  {account.name}: cloud ID {c.cloud_id}, username {c.username}, "
                f"API key {c.api_key}; aql {c.aql_username} / {c.aql_password}"
            )
        return "\n".join(lines) + "\n"
