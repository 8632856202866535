"""The fleet: several accounts in one run (``docs/fleet.md``).

Each PATH given to ``validate``, ``plan``, ``apply`` or ``drift`` is one account: a YAML file or
a directory of them, named after the file (without ``.yaml``) or the directory. This module
names and shards the accounts and runs one use case of :mod:`reconciler.operations` for each,
``parallel`` at a time on one event loop (:func:`run_accounts`; over several worker
processes, each with a loop of its own: :mod:`reconciler.fleet_workers`); one account's
failure never stops another's. It returns one :class:`AccountRun` per account: the command
line renders them and exits with the most severe code (:func:`reconciler.errors.most_severe`).

Sharding (``--shard K/N``) is a pure function of the accounts' names: the names are ordered by
a hash of each (SHA-256, the same on every machine and Python) and dealt out in turn, so the N
shards cover the fleet exactly once and differ in size by one account at most. Every job of a
matrix must be given the same PATHs (a CI matrix gives each job the same checkout).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from reconciler.clients.connections import shared_connections
from reconciler.errors import EXIT_ERROR, ConfigError, ReconcilerError, exit_code_for

if TYPE_CHECKING:
    from reconciler.desired.model import DesiredState

R = TypeVar("R")

# An account's name becomes a directory name (its journal and lock) and a file name (its
# saved plan, its report): letters, digits, '.', '_' and '-', starting with a letter or digit.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ACCOUNTS_DIR = "accounts"
PLAN_SUFFIX = ".plan.json"


@dataclass(frozen=True, slots=True)
class Account:
    """One account of a fleet: its name and its PATH."""

    name: str
    path: Path

    def workdir(self, root: Path) -> Path:
        """Where this account's journal and lock live: ``.reconciler/accounts/NAME/``."""
        return root / ACCOUNTS_DIR / self.name

    def plan_file(self, directory: Path) -> Path:
        """This account's saved plan in a ``plan --out DIR`` directory."""
        return directory / f"{self.name}{PLAN_SUFFIX}"


def account_name(path: Path) -> str:
    """The name of the account at ``path``: the file's name without ``.yaml``/``.yml``, or
    the directory's name."""
    if path.suffix in (".yaml", ".yml") and not path.is_dir():
        return path.stem
    return path.resolve().name if path.name in ("", ".", "..") else path.name


def accounts_of(paths: Sequence[Path]) -> list[Account]:
    """The accounts of ``paths``, in the order given. Two PATHs of the same name, or a name
    that can't name a file, are a :class:`ConfigError` before any account is read."""
    seen: dict[str, Path] = {}
    out: list[Account] = []
    for path in paths:
        name = account_name(path)
        if not _NAME.match(name):
            raise ConfigError(
                f"{path}: the account name {name!r} (the file's or directory's name) can't "
                "name a file",
                hint="rename it to letters, digits, '.', '_' and '-' (e.g. acme-eu.yaml)",
            )
        if name in seen:
            raise ConfigError(
                f"{seen[name]} and {path} are both the account {name!r}: an account's name is "
                "its file's or directory's name, and each account's journal, lock, saved plan "
                "and report are kept under it",
                hint="rename one of them, or give the same account once",
            )
        seen[name] = path
        out.append(Account(name, path))
    return out


# --------------------------------------------------------------------------- shards


@dataclass(frozen=True, slots=True)
class Shard:
    """``--shard K/N``: the K-th (1-based) of N shards."""

    index: int
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/4"`` -> ``Shard(2, 4)``; :class:`ConfigError` for anything else."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        hint = "give --shard K/N with 1 <= K <= N, e.g. --shard 1/4 ... --shard 4/4"
        if match is None:
            raise ConfigError(f"--shard {text!r} is not K/N", hint=hint)
        index, total = int(match.group(1)), int(match.group(2))
        if total < 1 or not 1 <= index <= total:
            raise ConfigError(f"--shard {text}: K must be between 1 and N", hint=hint)
        return cls(index, total)

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def _rank_key(name: str) -> tuple[bytes, str]:
    return hashlib.sha256(name.encode("utf-8")).digest(), name


def shard_of(accounts: Sequence[Account], shard: Shard) -> list[Account]:
    """The accounts of ``shard``, in the order given. Ordered by the hash of their names and
    dealt out in turn: together the N shards hold every account once, and no shard has more
    than one account more than another."""
    ranked = sorted(accounts, key=lambda a: _rank_key(a.name))
    mine = {a.name for i, a in enumerate(ranked) if i % shard.total == shard.index - 1}
    return [a for a in accounts if a.name in mine]


# --------------------------------------------------------------------------- running


def shared_accounts(named: Mapping[str, DesiredState]) -> dict[str, ConfigError]:
    """The error of each account (by name) that names the same Aculab or aql account as
    another of ``named``: two PATHs applied as two accounts would each buy for the same
    account, each with its own journal and lock, so neither would see the other's purchases.
    Identity is who a run talks to and as whom (:class:`reconciler.plan.saved.PlanAccount`)."""
    from reconciler.plan.saved import PlanAccount

    owners: dict[tuple[str | None, ...], list[str]] = {}
    for name, desired in sorted(named.items()):
        who = PlanAccount.of(desired.aculab, desired.aql)
        if who.cloud_id is not None:
            aculab = ("aculab", who.aculab_endpoint, who.cloud_id, who.aculab_username)
            owners.setdefault(aculab, []).append(name)
        if who.aql_username is not None:
            owners.setdefault(("aql", who.aql_endpoint, who.aql_username), []).append(name)
    errors: dict[str, ConfigError] = {}
    for key, names in owners.items():
        if len(names) < 2:
            continue
        vendor = "Aculab Cloud account" if key[0] == "aculab" else "aql account"
        who_ = f"{key[2]}/{key[3]}" if key[0] == "aculab" else str(key[2])
        for name in names:
            others = ", ".join(n for n in names if n != name)
            errors.setdefault(
                name,
                ConfigError(
                    f"{name} names the same {vendor} ({who_} at {key[1]}) as {others}: "
                    "nothing was applied to either",
                    hint="apply one account once: merge the two into one PATH (a directory "
                    "of *.yaml files), or give each its own credentials",
                ),
            )
    return errors


@dataclass(frozen=True, slots=True, repr=False)
class AccountRun(Generic[R]):
    """What one account's run came to: its result, or the error that ended it, its exit code
    and when it ran."""

    account: Account
    code: int
    result: R | None = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0
    # What the caller made of it (reconciler.report.outcome), kept when the result is dropped
    outcome: str = ""

    @property
    def seconds(self) -> float:
        return self.finished - self.started


async def run_one(
    account: Account, work: Callable[[Account], Awaitable[R]], code_of: Callable[[R], int]
) -> AccountRun[R]:
    """Run ``work`` for one account. An error ends that account's run only: a
    :class:`ReconcilerError` keeps its exit code, anything else is an internal error (1)."""
    started = time.time()
    try:
        result = await work(account)
    except ReconcilerError as err:
        return AccountRun(account, exit_code_for(err), None, err, started, time.time())
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise
    except Exception as err:  # one account's bug must not end the others' runs
        return AccountRun(account, EXIT_ERROR, None, err, started, time.time())
    return AccountRun(account, code_of(result), result, None, started, time.time())


async def run_accounts(
    accounts: Sequence[Account],
    work: Callable[[Account], Awaitable[R]],
    code_of: Callable[[R], int],
    *,
    parallel: int,
    on_done: Callable[[AccountRun[R]], AccountRun[R] | None] | None = None,
) -> list[AccountRun[R]]:
    """Run ``work`` for every account, at most ``parallel`` at once (a few workers pulling
    from one queue), and return the runs in the order of ``accounts``. An error ends that
    account's run only (:func:`run_one`). Ctrl-C stops them all.

    ``on_done`` is called as each finishes; the run it returns, if any, is kept instead (a
    caller that has shown and reported a result drops it, so that memory grows with
    ``parallel``, not with the number of accounts). The accounts' API clients share their
    connection pools (reconciler/clients/connections.py)."""
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    async with shared_connections():
        return await _run_accounts(accounts, work, code_of, parallel=parallel, on_done=on_done)


async def _run_accounts(
    accounts: Sequence[Account],
    work: Callable[[Account], Awaitable[R]],
    code_of: Callable[[R], int],
    *,
    parallel: int,
    on_done: Callable[[AccountRun[R]], AccountRun[R] | None] | None,
) -> list[AccountRun[R]]:
    runs: list[AccountRun[R] | None] = [None] * len(accounts)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(accounts)):
        queue.put_nowait(i)

    async def worker() -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            run = await run_one(accounts[i], work, code_of)
            kept = on_done(run) if on_done is not None else None
            runs[i] = kept if kept is not None else run

    workers = [asyncio.ensure_future(worker()) for _ in range(min(parallel, len(accounts)))]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return [r for r in runs if r is not None]
