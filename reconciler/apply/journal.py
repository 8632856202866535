"""The apply journal: an append-only record of every write, durable before it matters.

``.reconciler/journal.jsonl`` holds one JSON object per line. Every write apply makes is
recorded twice: an ``intent`` before the call and an ``outcome`` after it; each line is
fsynced before the call it announces goes out, so a crash at any point leaves the journal
saying what may have happened. A purchase ``intent`` carries the numbers that were at the
location before the call: the next apply uses it to re-count what an interrupted purchase
bought (:meth:`Journal.unresolved_purchases`), before buying anything there again.

Secrets never enter the journal: bodies pass through :func:`reconciler.secret.to_jsonable`,
and the file is created with mode 0600; a journal readable by other users is refused rather
than written to.

The journal is also the purchase ledger: numbers it records as bought count as owned by their
pool until a listing of the account shows them, however long ``tel_list_numbers`` lags
(:meth:`JournalView.ledger_at`); an apply never buys again for them. Once a listing shows a
bought number, a ``listed`` record says so, and from then on the account's list alone says
whether the number is there (a number released by hand afterwards is bought again).

Record fields (all records): ``time`` (ISO 8601, UTC), ``run`` (the run id), ``event``
(``run_start`` | ``intent`` | ``outcome`` | ``resolved`` | ``listed`` | ``run_end``). Intents
and outcomes share an ``op`` id; an intent names its ``address`` and ``action``; an outcome
has a ``status`` (``succeeded`` | ``failed`` | ``unknown``) and, for purchases, the
``numbers`` bought. ``resolved`` closes an ``unknown`` purchase once a listing shows the
numbers it bought (``succeeded``), or when the user forgets it (``forgotten``, with
``--forget-purchase POOL``); until then it stays unknown, however long, and its pool buys
nothing (a listing that shows nothing new proves nothing: the list may lag). ``listed``
names bought ``numbers`` a listing has shown.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reconciler.desired.model import DesiredState, Location
from reconciler.errors import JournalError
from reconciler.secret import json_default, masked, redact
from reconciler.storage import NotAFile, fsync_directory, open_private

JOURNAL_NAME = "journal.jsonl"

# Statuses of an outcome. "unknown": the call may or may not have taken effect.
SUCCEEDED = "succeeded"
FAILED = "failed"
UNKNOWN = "unknown"
# Of a ``resolved`` purchase only: the user checked the account and said the purchase whose
# outcome was unknown bought nothing (``apply --forget-purchase POOL``).
FORGOTTEN = "forgotten"


def now_iso(at: float | None = None) -> str:
    """A time (default: now) as ISO 8601 UTC with microseconds (sortable, parseable)."""
    moment = datetime.now(timezone.utc) if at is None else datetime.fromtimestamp(at, timezone.utc)
    return moment.isoformat(timespec="microseconds")


def parse_time(value: Any) -> datetime | None:
    """Parse a journal ``time``; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def new_id() -> str:
    """A short random id for a run or an operation."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class PurchaseIntent:
    """A purchase announced in the journal whose outcome is not known.

    ``before`` is the set of numbers that were at ``location`` when the intent was written:
    any number there now and not in it was bought by this purchase (or since, by hand).
    """

    op: str
    run: str
    time: datetime | None
    pool: str
    location: Location
    quantity: int
    before: frozenset[str]


@dataclass(frozen=True, slots=True)
class BoughtNumbers:
    """Numbers the journal says were bought at a location, and when."""

    op: str
    time: datetime | None
    location: Location
    numbers: tuple[str, ...]


@dataclass
class JournalView:
    """What earlier runs left for this one: purchases whose outcome is unknown, every
    purchase's numbers, and which of those a listing has shown since (``listed``)."""

    unresolved: list[PurchaseIntent] = field(default_factory=list)
    bought: list[BoughtNumbers] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)

    def unresolved_at(self, location: Location) -> list[PurchaseIntent]:
        key = location.key()
        return [i for i in self.unresolved if i.location.key() == key]

    def bought_numbers_at(self, location: Location) -> set[str]:
        """Every number the journal records as bought at ``location``."""
        key = location.key()
        return {n for b in self.bought if b.location.key() == key for n in b.numbers}

    def ledger_at(self, location: Location) -> set[str]:
        """Numbers bought at ``location`` that no listing has shown yet: the pool's own,
        however long the list lags (the journal is the purchase ledger)."""
        return self.bought_numbers_at(location) - self.listed

    def unlisted(self) -> set[str]:
        """Every bought number no listing has shown yet."""
        return {n for b in self.bought for n in b.numbers} - self.listed


class Journal:
    """The append-only JSON-lines journal of one working directory.

    ``record()`` appends one line and fsyncs it before returning: call it before the write it
    announces. It is safe to call from several threads (``asyncio.to_thread``): lines never
    interleave, and records made at the same moment share one fsync (group commit). The
    file is opened lazily, on the first record, so a run that writes nothing leaves no
    journal behind.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id or new_id()
        self._clock = clock
        self._fd: int | None = None
        # Group commit: concurrent records share one write and one fsync; each record()
        # still returns only once its own line is durable.
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._queued = 0
        self._durable = 0
        self._flushing = False
        self._error: JournalError | None = None

    # ----------------------------------------------------------------- writing

    def _open(self) -> int:
        directory = self.path.parent
        new_dir = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        if new_dir:
            os.chmod(directory, 0o700)
        existed = self.path.exists()
        try:
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except NotAFile as err:
            raise JournalError(
                f"the journal {self.path} {err.strerror}; refusing to write to it",
                hint=f"replace {self.path} with the journal file itself (or move it away if "
                "it is not one), then apply again",
            ) from None
        except OSError as err:
            raise JournalError(
                f"cannot open the journal {self.path}: {err.strerror}",
                hint="check the permissions of the working directory",
            ) from err
        try:
            info = os.fstat(fd)
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise JournalError(
                    f"the journal {self.path} is readable or writable by other users "
                    f"(mode {stat.S_IMODE(info.st_mode):04o}); refusing to write to it",
                    hint=f"run `chmod 600 {self.path}` and apply again",
                )
            if existed and info.st_size > 0:
                # A run killed mid-line leaves a torn last line: start ours on a fresh one.
                with open(self.path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        os.write(fd, b"\n")
            if not existed:
                # The new file's entry, and the entry of its directory (made moments before,
                # by the lock, on a first apply): a power cut must not lose the journal.
                fsync_directory(directory)
                fsync_directory(directory.parent)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def record(self, event: str, *, durable: bool = True, **fields: Any) -> dict[str, Any]:
        """Append one record (secrets masked) and fsync it. Returns the record written.

        ``durable=False`` queues the record and returns at once: it is written, in order, with
        the next durable record (or on :meth:`close`). For what nothing waits on: the outcome
        of a service write, which a crash can only turn into an intent without an outcome, as
        a crash a moment earlier would (an intent is always durable before its call)."""
        entry: dict[str, Any] = {
            "time": now_iso(self._clock()),
            "run": self.run_id,
            "event": event,
        }
        # Secrets are masked: Secret values, values under secret keys, URLs with passwords;
        # then whatever the command's redactor knows, in any form (a reason quoting a server).
        entry.update(masked(fields))
        line = json.dumps(entry, default=json_default, separators=(",", ":"), sort_keys=False)
        line = redact(line)
        data = (line + "\n").encode()
        with self._cond:
            if self._error is not None:
                raise self._error
            self._pending.append(data)
            self._queued += 1
            mine = self._queued
            if not durable:
                return entry
            while self._durable < mine:
                if self._error is not None:
                    raise self._error
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flushing = True
                batch, self._pending, upto = self._pending, [], self._queued
                self._cond.release()
                try:
                    error = self._flush(b"".join(batch))
                finally:
                    self._cond.acquire()
                    self._flushing = False
                    self._cond.notify_all()
                if error is not None:
                    # Sticky: once a record could not be made durable, nothing more is.
                    self._error = error
                    raise error
                self._durable = upto
        return entry

    def _flush(self, data: bytes) -> JournalError | None:
        """Write and fsync ``data``; the error instead of raising it."""
        try:
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except JournalError as err:
            return err
        except OSError as err:
            return JournalError(
                f"cannot write to the journal {self.path}: {err.strerror}",
                hint="free disk space or fix permissions; nothing more is written to the "
                "account until the journal can record it",
            )
        return None

    def close(self) -> None:
        """Write what is still queued (see :meth:`record`), then close the file."""
        with self._cond:
            while self._flushing:
                self._cond.wait()
            if self._pending and self._error is None:
                batch, self._pending = self._pending, []
                error = self._flush(b"".join(batch))
                if error is not None:
                    self._error = error
                    raise error
                self._durable = self._queued
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- reading

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first. Torn or foreign lines are skipped."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return
        except OSError as err:
            raise JournalError(f"cannot read the journal {self.path}: {err.strerror}") from err
        with handle:
            for raw in handle:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(entry, dict) and isinstance(entry.get("event"), str):
                    yield entry

    def view(self, account: Mapping[str, Any] | None = None) -> JournalView:
        """Purchases of earlier runs still unresolved, and every purchase's numbers.

        With ``account`` (the ``account`` its runs record in ``run_start``), only the runs of
        that account count: one working directory may apply several accounts, one after the
        other, and one account's purchases are no ledger of another's. A run that recorded
        no account (an older journal) counts for every account, as it always did."""
        intents: dict[str, dict[str, Any]] = {}
        closed: set[str] = set()
        view = JournalView()
        accounts: dict[str, Any] = {}
        for entry in self.records():
            run = entry.get("run")
            if entry["event"] == "run_start" and isinstance(run, str):
                accounts[run] = entry.get("account")
            if account is not None and accounts.get(str(run)) not in (None, account):
                continue
            event = entry["event"]
            if event == "listed":
                numbers = entry.get("numbers")
                if isinstance(numbers, list):
                    view.listed.update(str(n) for n in numbers)
                continue
            op = entry.get("op")
            if not isinstance(op, str):
                continue
            if event == "intent" and entry.get("action") == "purchase":
                intents[op] = entry
            elif event in ("outcome", "resolved") and op in intents:
                status = entry.get("status")
                if event == "resolved" or status in (SUCCEEDED, FAILED):
                    closed.add(op)
                numbers = entry.get("numbers")
                location = Location.from_json(intents[op].get("location"))
                if isinstance(numbers, list) and numbers and location is not None:
                    view.bought.append(
                        BoughtNumbers(
                            op=op,
                            time=parse_time(entry.get("time")),
                            location=location,
                            numbers=tuple(str(n) for n in numbers),
                        )
                    )
        for op, entry in intents.items():
            if op in closed:
                continue
            location = Location.from_json(entry.get("location"))
            quantity = entry.get("quantity")
            before = entry.get("before")
            if location is None or not isinstance(quantity, int):
                continue
            view.unresolved.append(
                PurchaseIntent(
                    op=op,
                    run=str(entry.get("run", "")),
                    time=parse_time(entry.get("time")),
                    pool=str(entry.get("pool", "")),
                    location=location,
                    quantity=quantity,
                    before=frozenset(str(n) for n in before)
                    if isinstance(before, list)
                    else frozenset(),
                )
            )
        return view


def account_of(desired: DesiredState) -> dict[str, Any]:
    """The account a run applies to, as its ``run_start`` records it: who it talks to and
    as whom, as the YAML names them (:class:`reconciler.plan.saved.PlanAccount`)."""
    from reconciler.plan.saved import PlanAccount

    return PlanAccount.of(desired.aculab, desired.aql).as_json()
