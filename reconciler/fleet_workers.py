"""A fleet's read-only runs over several worker processes (docs/fleet.md, docs/performance.md).

One process runs every account on one event loop, and at ``--parallel 8`` that process is
CPU-bound: parsing the API's answers, diffing and rendering take one core, whatever the
machine has. :func:`run_in_workers` forks W worker processes (:func:`worker_count`); each
runs its share of ``--parallel`` on an event loop of its own. The parent hands the accounts
out one at a time as slots free up (one slow account holds one slot, not a whole share),
and each worker sends back what its account came to: the exit code, the outcome, and what
the command line will show and write (``present``), every string already masked by the
worker's redactor (the worker met the account's secrets, the parent never did). The parent
prints, writes the reports and keeps the runs: memory grows with ``--parallel``, not with
the number of accounts.

Only ``validate``, ``plan`` and ``drift`` run here; ``apply`` stays in one process (its
confirmation and its Ctrl-C protocol need one :class:`~reconciler.apply.applier.Stop`). A
worker is forked (``fork``: the parent's state, the accounts and the command's closures are
inherited, nothing is pickled but plain results), so workers are used only where ``fork``
exists and only from a process without threads (a thread's locks would be copied held);
elsewhere the accounts run in this process as before (:func:`reconciler.fleet.run_accounts`).

A worker that dies (killed, a crash in C) turns the accounts it was running into errors of
their own (exit 1) and a new worker takes its place for the accounts not started yet.
Ctrl-C: workers ignore SIGINT; the parent stops them (SIGTERM) and the interrupt ends the
command as it does in one process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler import eventloop
from reconciler.clients.connections import shared_connections
from reconciler.errors import EXIT_ERROR, ConfigError, ReconcilerError
from reconciler.fleet import Account, AccountRun, run_one

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkProcess

R = TypeVar("R")

# Caps the number of worker processes (default: the machine's cores); 1 runs every account
# in the command's own process.
WORKERS_ENV = "RECONCILER_WORKERS"


def worker_count(parallel: int, accounts: int, environ: Mapping[str, str] | None = None) -> int:
    """How many worker processes a read-only fleet run uses: ``min(parallel, accounts,
    cores)`` (``RECONCILER_WORKERS`` in place of the cores), and 1 (this process) where
    ``fork`` is missing or threads already run here."""
    count = max(1, min(parallel, accounts))
    if count == 1:
        return 1  # nothing to spread: the variable is not read
    env = os.environ if environ is None else environ
    text = env.get(WORKERS_ENV, "").strip()
    if text:
        try:
            cap = int(text)
        except ValueError:
            cap = 0
        if cap < 1:
            raise ConfigError(
                f"{WORKERS_ENV}={text!r} is not a number of worker processes",
                hint=f"set {WORKERS_ENV} to a whole number, at least 1 (1: no workers), "
                "or unset it to use the machine's cores",
            )
    else:
        cap = _cores()
    count = min(count, max(1, cap))
    if count > 1 and not _can_fork():
        return 1
    return count


def _cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may allow fewer than
    the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _can_fork() -> bool:
    """Linux only (docs/fleet.md): macOS lists ``fork`` too, but a forked process there may
    crash in the system's frameworks, which is why Python's default there is ``spawn``."""
    import multiprocessing

    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    )


def shares(parallel: int, workers: int) -> list[int]:
    """Each worker's share of ``parallel``: as even as can be, adding up to ``parallel``."""
    return [parallel // workers + (1 if w < parallel % workers else 0) for w in range(workers)]


class WorkerDied(ReconcilerError):
    """The worker process running an account died before it could say how the run went."""


class FailedInWorker(ReconcilerError):
    """The error of an account that failed in a worker process, as the parent knows it: the
    account's output (its ``present``) says what went wrong; this only marks it failed."""


@dataclass(frozen=True, slots=True)
class Finished:
    """What a worker sends back for one account: plain data, secrets masked."""

    index: int
    code: int
    outcome: str
    started: float
    finished: float
    failed: bool
    view: Any


def redacted(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every string, keys too,
    masked by the active redactor (:func:`reconciler.secret.redact`)."""
    from reconciler.secret import redact

    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redacted(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


def _finished(index: int, run: AccountRun[R], present: Callable[[AccountRun[R]], Any]) -> Finished:
    from reconciler.report import outcome

    view = redacted(present(run))
    return Finished(
        index, run.code, outcome(run), run.started, run.finished, run.error is not None, view
    )


# --------------------------------------------------------------------------- the worker


def _worker_main(
    conn: Connection,
    others: Sequence[Connection],
    accounts: Sequence[Account],
    work: Callable[[Account], Awaitable[R]],
    code_of: Callable[[R], int],
    present: Callable[[AccountRun[R]], Any],
    slots: int,
) -> None:
    """A worker process's life: run the accounts the parent hands out, ``slots`` at once,
    and send each one's :class:`Finished`. Never returns (``os._exit``: the forked copy of
    the parent's buffers, atexit hooks and test harness must not run twice)."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for other in others:  # the parent's ends of the pipes: its own and the others'
            other.close()
        eventloop.run(_serve(conn, accounts, work, code_of, present, slots))
    except BaseException:  # the parent turns this worker's accounts into errors
        if os.environ.get("RECONCILER_DEBUG"):
            import traceback

            traceback.print_exc()
        code = EXIT_ERROR
    finally:
        os._exit(code)


async def _serve(
    conn: Connection,
    accounts: Sequence[Account],
    work: Callable[[Account], Awaitable[R]],
    code_of: Callable[[R], int],
    present: Callable[[AccountRun[R]], Any],
    slots: int,
) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[int | None] = asyncio.Queue()

    def readable() -> None:
        try:
            while conn.poll():
                index = conn.recv()
                if index is None:  # nothing more to hand out: each slot ends
                    loop.remove_reader(conn.fileno())
                    for _ in range(slots):
                        inbox.put_nowait(None)
                    return
                inbox.put_nowait(index)
        except (EOFError, OSError):
            os._exit(EXIT_ERROR)  # the parent is gone: nobody to report to

    loop.add_reader(conn.fileno(), readable)

    async def slot() -> None:
        while (index := await inbox.get()) is not None:
            run = await run_one(accounts[index], work, code_of)
            conn.send(_finished(index, run, present))

    # The worker's accounts share their API connections (reconciler/clients/connections.py).
    async with shared_connections():
        await asyncio.gather(*(slot() for _ in range(slots)))


# --------------------------------------------------------------------------- the parent


@dataclass(eq=False)
class _Worker:
    process: ForkProcess
    conn: Connection
    share: int
    # The accounts it runs (index: when handed out)
    running: dict[int, float] = field(default_factory=dict)
    reading: bool = True
    ended: bool = False  # told that nothing more comes
    broken: bool = False  # a send failed: it is dying


def run_in_workers(
    accounts: Sequence[Account],
    work: Callable[[Account], Awaitable[R]],
    code_of: Callable[[R], int],
    *,
    parallel: int,
    workers: int,
    present: Callable[[AccountRun[R]], Any],
    on_done: Callable[[AccountRun[Any], Any], AccountRun[Any] | None],
) -> list[AccountRun[Any]]:
    """Run ``work`` for every account over ``workers`` forked processes, ``parallel`` at
    once in all, and return the runs (without results) in the order of ``accounts``.

    In the worker, ``present(run)`` makes what the command line shows and writes of a
    finished run (plain, picklable data; its strings are masked there). In this process,
    ``on_done(run, view)`` gets the run (code, outcome, times; no result) and that view as
    each account finishes; the run it returns, if any, is kept instead. Ctrl-C stops every
    worker and is raised here."""
    import multiprocessing
    from multiprocessing.connection import wait

    eventloop.loop_factory()  # a bad RECONCILER_EVENT_LOOP fails here, not in every worker
    # What this process holds (modules, the accounts) is never garbage in a worker: frozen,
    # the workers' collections skip it and leave its memory pages shared with this process.
    gc.freeze()
    ctx = multiprocessing.get_context("fork")
    pending = deque(range(len(accounts)))
    runs: list[AccountRun[Any] | None] = [None] * len(accounts)
    alive: list[_Worker] = []

    def hand_out(worker: _Worker) -> None:
        if worker.broken:
            return
        try:
            if pending:
                index = pending.popleft()
                worker.running[index] = time.time()
                try:
                    worker.conn.send(index)
                except OSError:
                    del worker.running[index]
                    pending.appendleft(index)  # for the worker that takes its place
                    raise
            elif not worker.ended:
                worker.ended = True
                worker.conn.send(None)
        except OSError:
            worker.broken = True

    def start(share: int) -> None:
        parent_end, child_end = ctx.Pipe()
        # The child closes every parent end it inherits, its own too: were one left open,
        # a parent that is killed would never be seen gone (its pipes hold the output).
        others = [*(w.conn for w in alive), parent_end]
        # SIGINT is blocked across the fork, so that a Ctrl-C cannot reach the new worker
        # before it ignores SIGINT (it would die with a traceback); here it is delivered
        # once unblocked.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process = ctx.Process(
                target=_worker_main,
                args=(child_end, others, accounts, work, code_of, present, share),
                name="reconciler-fleet-worker",
                daemon=True,
            )
            process.start()
            worker = _Worker(process, parent_end, share)
            alive.append(worker)  # before a Ctrl-C can come: it stops every worker alive
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        child_end.close()
        for _ in range(share):
            hand_out(worker)
        if not worker.running:
            hand_out(worker)  # nothing to do: tell it so

    def finished(worker: _Worker, done: Finished) -> None:
        worker.running.pop(done.index, None)
        failed = FailedInWorker("failed in a worker process") if done.failed else None
        run: AccountRun[Any] = AccountRun(
            accounts[done.index],
            done.code,
            None,
            failed,
            done.started,
            done.finished,
            done.outcome,
        )
        kept = on_done(run, done.view)
        runs[done.index] = kept if kept is not None else run

    def receive(worker: _Worker) -> bool:
        """One message from ``worker``; False at the end of its pipe."""
        try:
            done = worker.conn.recv()
        except (EOFError, OSError):
            worker.reading = False
            return False
        finished(worker, done)
        return True

    def died(worker: _Worker) -> None:
        while worker.reading and worker.conn.poll():  # what it sent before it went
            if not receive(worker):
                break
        worker.process.join()
        worker.conn.close()
        alive.remove(worker)
        status = worker.process.exitcode or 0
        how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
        for index, handed in sorted(worker.running.items()):
            account = accounts[index]
            error = WorkerDied(
                f"internal error: the worker process running {account.name} died ({how})",
                hint=f"run it again; {WORKERS_ENV}=1 runs every account in one process",
            )
            run: AccountRun[Any] = AccountRun(account, EXIT_ERROR, None, error, handed, time.time())
            kept = on_done(run, redacted(present(run)))  # presented here: it has no result
            runs[index] = kept if kept is not None else run
        if pending:
            start(worker.share)

    sys.stdout.flush()  # a forked copy of unwritten output would be written twice
    sys.stderr.flush()
    try:
        for share in shares(parallel, workers):
            start(share)
        while alive:
            watched: list[Any] = [w.process.sentinel for w in alive]
            watched += [w.conn for w in alive if w.reading]
            ready = set(wait(watched))
            for worker in list(alive):
                if worker.reading and worker.conn in ready and receive(worker):
                    hand_out(worker)
                if worker.process.sentinel in ready:
                    died(worker)
    except BaseException:
        for worker in alive:
            worker.process.terminate()
        for worker in alive:
            worker.process.join()
            worker.conn.close()
        raise
    return [r for r in runs if r is not None]
