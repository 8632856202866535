"""Buying numbers without ever buying twice or forgetting what was bought.

``tel_purchase`` is not idempotent and costs money at once. So, for each pool short of its
count (a :class:`~reconciler.plan.changes.Purchase`), :class:`Purchaser`:

1. takes the numbers at the pool's location from one listing of the whole account, made once
   for the purchase wave and shared by its pools (:meth:`Purchaser.wave_listing`; unfiltered,
   matched by location key: see :meth:`Purchaser.list_at`);
2. refuses to buy when numbers the journal says were bought at this location are listed at
   another one (the pool would never count them: every apply would buy again);
3. settles what earlier runs left behind: a purchase intent in the journal without an outcome
   (a crash between the call and its answer, a lost reply). It re-lists the account, with
   backoff, until the numbers it may have bought appear or a bounded wait (``wait``, 30 s by
   default, counted from the intent) has passed, and records what it found. A listing that
   shows nothing new proves nothing (the list may lag longer than the wait): the purchase
   stays unknown, and its pool buys nothing until a listing shows its numbers or the user,
   having checked the account, forgets it (``--forget-purchase POOL``: :meth:`Purchaser.forget`);
4. counts as the pool's the numbers the journal records as bought there that no listing has
   shown yet (the journal is the purchase ledger: :meth:`JournalView.ledger_at`), however long
   the list lags;
5. writes a purchase intent (pool, location, quantity, the numbers there before) to the
   journal, fsynced, and only then calls ``tel_purchase`` for what is still missing;
6. after a failed call whose outcome is unknown (connection lost, timeout, 5xx, garbage),
   re-lists the location the same way, counts the new numbers against the snapshot, records
   them, and buys again only what is still missing once the re-list shows the purchase took
   effect (at most ``attempts`` calls in all). When the re-list shows nothing new, or cannot
   be made, it stops and reports: the journal keeps the purchase unknown, and later applies
   settle it (step 3) before buying there.

A definite rejection (a 4xx such as ``0005``, the country needs a regulation address) is a
failure and is not retried; a 429 means the server refused the call before doing anything,
so it is retried after the server's ``Retry-After`` (the HTTP client never retries a purchase
itself).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from reconciler.apply.journal import (
    FAILED,
    FORGOTTEN,
    SUCCEEDED,
    UNKNOWN,
    Journal,
    JournalView,
    PurchaseIntent,
    new_id,
)
from reconciler.apply.ports import AculabApi
from reconciler.apply.remedy import vendor_reason
from reconciler.desired.model import DesiredState, Location, LocationKey
from reconciler.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    MalformedResponseError,
    RateLimitedError,
    ReconcilerError,
)
from reconciler.live.model import LiveNumber, PoolLedger
from reconciler.plan.changes import Purchase
from reconciler.secret import redact

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PurchasePolicy:
    """How long and how often to re-list, and how many purchase calls one shortfall may take.

    ``wait``: how long to re-list for the numbers of a purchase whose outcome is unknown.
    A re-list that still shows nothing new after it proves nothing (the list may lag longer):
    the purchase stays unknown and blocks its pool (see the module docstring).
    """

    wait: float = 30.0
    poll_first: float = 0.25
    poll_max: float = 1.0
    attempts: int = 2
    rate_limited_retries: int = 3
    max_retry_after: float = 60.0


@dataclass
class PurchaseResult:
    """What happened to one planned purchase.

    ``numbers``: the pool's new numbers this run can vouch for (bought now, or found bought by
    an interrupted earlier purchase); they get the pool's inbound service. ``calls``: how many
    ``tel_purchase`` calls were made. ``at_location``: every number the last listing found at
    the pool's location (the pool's numbers as of now, which the plan may not have seen).
    """

    purchase: Purchase
    succeeded: bool
    numbers: list[str] = field(default_factory=list)
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    calls: int = 0
    at_location: frozenset[str] = frozenset()
    earlier: frozenset[str] = frozenset()  # of ``numbers``: bought by an earlier run
    # The failure behind ``reason``, when a call failed: what to do about it is
    # reconciler.apply.remedy's to say. None with a reason: a re-run can't help by itself.
    error: BaseException | None = None

    @property
    def shortfall(self) -> int:
        return max(0, self.purchase.quantity - len(self.numbers))


def is_outcome_unknown(err: BaseException) -> bool:
    """Could the call have taken effect even though it failed?"""
    if isinstance(err, ApiConnectionError | MalformedResponseError):
        return True
    if isinstance(err, RateLimitedError):
        return False
    if isinstance(err, ApiStatusError):
        return err.status >= 500 or err.status == 408
    # Authentication, relay: refused before anything happened. Anything unexpected after the
    # call went out: assume it may have bought.
    return not isinstance(err, ApiError | ReconcilerError)


def short_reason(err: BaseException) -> str:
    """A few words for a note (the full reason goes to the journal)."""
    if isinstance(err, ApiConnectionError):
        return "the connection failed or timed out"
    if isinstance(err, ApiStatusError):
        return f"HTTP {err.status}" + (f" {err.own_code}" if err.own_code else "")
    if isinstance(err, MalformedResponseError):
        return "the reply could not be read"
    return type(err).__name__


def describe_error(err: BaseException) -> str:
    """The API's reason on one line (with its validation details), every secret masked."""
    if not isinstance(err, ReconcilerError):
        return redact(f"{type(err).__name__}: {err}")
    lines = [line.strip().lstrip("- ").strip().rstrip(".") for line in err.message.splitlines()]
    text = "; ".join(line for line in lines if line)
    if isinstance(err, ApiStatusError):
        missing = [d for d in err.details if d.rstrip(".") not in text]
        if missing:
            text += ": " + "; ".join(missing)
    return redact(vendor_reason(text))


class Purchaser:
    """Executes purchases for one apply run (see the module docstring)."""

    def __init__(
        self,
        aculab: AculabApi,
        journal: Journal | None,
        view: JournalView,
        *,
        policy: PurchasePolicy = PurchasePolicy(),
        desired: DesiredState | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.aculab = aculab
        self.journal = journal
        self.view = view
        self.policy = policy
        # Which pool a live number belongs to is the desired state's rule (a pinned number
        # at a pool's location must not count toward it, or a pool short by one buys nothing).
        self.desired = desired if desired is not None else DesiredState()
        self._sleep = sleep
        self._clock = clock
        self._wave: asyncio.Future[Mapping[str, LiveNumber]] | None = None
        # The wave listing's numbers by pool key, built once: matching 10,000 numbers to a
        # location once per pool cost a fifth of a second of CPU per 10 pools.
        self._wave_index: dict[LocationKey, set[str]] = {}
        # This run's purchases whose call has not answered, or whose outcome is unknown.
        self._open: dict[str, PurchaseIntent] = {}

    # ----------------------------------------------------------------- journal

    async def _record(self, event: str, **fields: Any) -> None:
        if self.journal is not None:
            await asyncio.to_thread(self.journal.record, event, **fields)

    # ----------------------------------------------------------------- listing

    async def wave_listing(self) -> Mapping[str, LiveNumber]:
        """The whole account, listed once for the purchase wave and shared by its pools (two
        pools never share a location, and each pool's purchase re-lists on its own whenever an
        outcome is in doubt). The first listing also retires from the ledger the bought numbers
        it shows (:meth:`confirm_listed`). A failed listing fails every pool that asks."""
        if self._wave is None:
            self._wave = asyncio.ensure_future(self._list_wave())
        return await asyncio.shield(self._wave)

    async def _list_wave(self) -> Mapping[str, LiveNumber]:
        listed = await self.aculab.list_numbers()
        pool_key = self.desired.pool_key
        for number, live in listed.items():
            key = pool_key(number, live.location)
            if key is not None:
                self._wave_index.setdefault(key, set()).add(number)
        await self.confirm_listed(listed)
        return listed

    async def wave_at(self, location: Location) -> tuple[Mapping[str, LiveNumber], set[str]]:
        """The wave listing, and the numbers of it that belong to the pool at ``location``
        (as :meth:`at` counts them)."""
        listed = await self.wave_listing()
        return listed, set(self._wave_index.get(location.key(), ()))

    async def confirm_listed(self, listed: Mapping[str, LiveNumber]) -> None:
        """Record that a listing shows numbers the ledger counted as bought but unlisted: from
        now on the account's list alone says whether they are there."""
        shown = sorted(n for n in self.view.unlisted() if n in listed)
        if shown:
            await self._record("listed", numbers=shown)
            self.view.listed.update(shown)

    async def list_at(self, location: Location) -> set[str]:
        """The numbers on the account at ``location`` that can belong to its pool (filtered
        here, by location key; pinned numbers left out).

        The whole account is listed, unfiltered: the planner matches locations
        case-insensitively (:meth:`Location.key`), and a server-side filter that compared the
        YAML's spelling exactly ("london" against "London"), or mangled a non-ASCII region,
        would return nothing, so a re-count after a lost reply would find nothing and buy
        again. One list of the account is cheap next to a second purchase.
        """
        return self.at(location, await self.aculab.list_numbers())

    def at(self, location: Location, listed: Mapping[str, LiveNumber]) -> set[str]:
        """The numbers of ``listed`` that belong to the pool at ``location``."""
        key = location.key()
        pool_key = self.desired.pool_key
        return {n for n, live in listed.items() if pool_key(n, live.location) == key}

    def _misplaced(self, location: Location, listed: Mapping[str, LiveNumber]) -> list[str]:
        """Numbers the journal says were bought at ``location`` that the account lists at
        another location, described: the pool would never count them, so buying for it
        again would repeat on every apply."""
        key = location.key()
        out: list[str] = []
        for bought in self.view.bought:
            if bought.location.key() != key:
                continue
            for n in bought.numbers:
                live = listed.get(n)
                if live is not None and self.desired.pool_key(n, live.location) not in (
                    None,
                    key,
                ):
                    out.append(f"{n} ({live.location})")
        return sorted(set(out))

    async def relist_until(
        self, location: Location, done: Callable[[set[str]], bool], deadline: float
    ) -> set[str] | None:
        """Re-list ``location`` with backoff until ``done(numbers)`` or ``deadline`` (a
        :func:`time.time` value). Returns the last listing, which after the deadline is the
        proof of what is there; None when no listing could be made at or after the deadline
        (the outcome stays unproven)."""
        delay = self.policy.poll_first
        while True:
            try:
                numbers = await self.list_at(location)
            except ApiError:
                numbers = None
            now = self._clock()
            if numbers is not None and (done(numbers) or now >= deadline):
                return numbers
            if numbers is None and now >= deadline:
                return None
            await self._sleep(max(0.0, min(delay, deadline - now)) or 0.01)
            delay = min(delay * 2, self.policy.poll_max)

    # ----------------------------------------------------------------- settling the past

    def _deadline(self, when: datetime | None) -> float:
        start = when.timestamp() if when is not None else self._clock()
        return start + self.policy.wait

    async def settle(
        self, location: Location, current: set[str]
    ) -> tuple[set[str] | None, set[str], list[str]]:
        """Settle earlier runs' purchases at ``location`` whose outcome is unknown: wait
        (bounded) until the numbers each may have bought show in the list. Returns (listing
        or None when it can't be made, the numbers found that they bought, notes).

        A purchase is resolved once the listing shows all it may have bought, or, the wait
        over, some of it (one ``tel_purchase`` took effect). A listing that shows nothing
        new proves nothing: the purchase stays in ``view.unresolved`` and blocks its pool
        (:meth:`blocking`)."""
        intents = self.view.unresolved_at(location)
        if not intents:
            return current, set(), []

        def satisfied(numbers: set[str]) -> bool:
            return all(len(numbers - i.before) >= i.quantity for i in intents)

        deadline = max(self._deadline(i.time) for i in intents)
        if satisfied(current) or self._clock() >= deadline:
            listing: set[str] | None = current
        else:
            listing = await self.relist_until(location, satisfied, deadline)
        notes: list[str] = []
        if listing is None:
            return None, set(), notes
        found: set[str] = set()
        for intent in intents:
            new = listing - intent.before
            if not new:
                continue  # proves nothing: still unknown (blocking() says so)
            found |= new
            await self._resolve(
                intent, SUCCEEDED, new, "re-counted: the account lists the numbers it bought"
            )
            notes.append(
                f"an interrupted purchase of {intent.quantity} at {location} (run "
                f"{intent.run}, {when(intent)}; its outcome was unknown) had bought {len(new)}: "
                f"{', '.join(sorted(new))}"
            )
        return listing, found, notes

    def blocking(self, pool: str, location: Location) -> list[PurchaseIntent]:
        """The purchases for ``pool`` (or at its location) whose outcome is still unknown:
        buying for the pool could buy twice."""
        key = location.key()
        return [i for i in self.view.unresolved if i.pool == pool or i.location.key() == key]

    def unknown(self) -> list[PurchaseIntent]:
        """Every purchase whose outcome is unknown now: earlier runs' still unresolved, and
        this run's (a lost reply, or a call in flight when the run was stopped)."""
        return [*self.view.unresolved, *self._open.values()]

    async def forget(self, pool: str) -> list[PurchaseIntent]:
        """The user's decision (``--forget-purchase POOL``), having checked the account:
        the unknown purchases for ``pool`` bought nothing. Journalled, so the pool may buy
        again. Returns the purchases forgotten."""
        gone = [i for i in self.view.unresolved if i.pool == pool]
        for intent in gone:
            await self._resolve(
                intent,
                FORGOTTEN,
                set(),
                "forgotten with --forget-purchase: the user checked the account",
            )
        return gone

    async def _resolve(
        self, intent: PurchaseIntent, status: str, numbers: set[str], note: str
    ) -> None:
        """Close a purchase whose outcome was unknown: journalled (``resolved``, with the
        numbers it bought), and no longer unresolved for this run."""
        await self._record(
            "resolved",
            op=intent.op,
            address=f"pool:{intent.pool}",
            action="purchase",
            status=status,
            numbers=sorted(numbers),
            note=note,
        )
        self.view.unresolved.remove(intent)

    def blocked_reason(self, pool: str, intents: list[PurchaseIntent]) -> str:
        """Why nothing is bought for ``pool``, and what to do."""
        what = "; ".join(
            f"{i.quantity} at {i.location} on {when(i)}" for i in sorted(intents, key=when)
        )
        return (
            f"an earlier purchase for pool {pool} has an unknown outcome ({what}) and the "
            "account does not list any number it bought yet; nothing was bought, so as not "
            "to buy twice. Wait for the account's list to catch up and apply again (it "
            "adopts the numbers once they are listed); only if you have checked the account "
            f"and that purchase bought nothing, apply with `--forget-purchase {pool}` to "
            "buy again"
        )

    # ----------------------------------------------------------------- buying

    async def buy(self, purchase: Purchase) -> PurchaseResult:
        """Bring the pool to its count: settle, then buy what is missing (see module doc)."""
        result = PurchaseResult(purchase=purchase, succeeded=False)
        location = purchase.location
        # The plan counted the ledger's numbers (``pending``) as the pool's already.
        known = set(purchase.existing) | set(purchase.pending)
        target = len(known) + purchase.quantity
        try:
            listed, current = await self.wave_at(location)
        except ApiError as err:
            result.reason = (
                f"could not list the numbers at {location} before buying "
                f"(nothing was bought): {describe_error(err)}"
            )
            result.error = err
            return result
        misplaced = self._misplaced(location, listed)
        if misplaced:
            result.reason = (
                f"numbers bought earlier for pool {purchase.pool} at {location} are listed by "
                f"the account at another location: {', '.join(misplaced)}; the pool never "
                "counts them, so nothing was bought (buying would repeat on every apply). "
                "Make the pool's location match the account's listing"
            )
            return result
        listing, ours, notes = await self.settle(location, current)
        result.notes.extend(notes)
        if listing is None:
            result.reason = (
                f"an earlier purchase at {location} has an unknown outcome and the account's "
                "numbers could not be listed to settle it; nothing was bought (run apply again)"
            )
            return result
        # The ledger: bought by an earlier run, not listed yet (however long ago): the pool's.
        ledger = {n for n in self.view.ledger_at(location) if n not in listing and n not in listed}
        ours |= (self.view.bought_numbers_at(location) & listing) - known
        ours |= ledger
        if ledger:
            result.notes.append(
                f"{len(ledger)} number(s) the journal records as bought for pool "
                f"{purchase.pool} are not listed by the account yet: "
                f"{', '.join(sorted(ledger))}; counted as the pool's (not bought again)"
            )
        current = listing | ledger
        result.at_location = frozenset(current)
        result.earlier = frozenset(ours)
        unexplained = current - known - ours
        if unexplained:
            result.notes.append(
                f"{len(unexplained)} number(s) appeared at {location} since the plan was made: "
                f"{', '.join(sorted(unexplained))}"
            )
        to_buy = min(purchase.quantity, target - len(current))
        if to_buy <= 0:
            result.succeeded = True
            result.numbers = sorted(ours)
            result.notes.append(f"pool {purchase.pool} already has {len(current)}; nothing bought")
            return result
        blocking = self.blocking(purchase.pool, location)
        if blocking:
            result.reason = self.blocked_reason(purchase.pool, blocking)
            result.numbers = sorted(ours)
            return result
        if to_buy < purchase.quantity:
            result.notes.append(
                f"buying {to_buy} instead of {purchase.quantity}: the pool already has "
                f"{len(current)} of {target}"
            )
        attempts = rate_limited = 0
        while to_buy > 0:
            if attempts >= self.policy.attempts:
                result.reason = (
                    f"{to_buy} still missing after {attempts} purchase calls; "
                    "not trying again in this run"
                )
                break
            outcome = await self._one_purchase(purchase, to_buy, current, result)
            if outcome is None:  # definite failure, reason set
                break
            if isinstance(outcome, str):  # rate limited: refused before execution, not an attempt
                rate_limited += 1
                if rate_limited > self.policy.rate_limited_retries:
                    break
                continue
            attempts += 1
            bought, listing_after = outcome
            ours |= bought
            current = listing_after | ledger
            result.at_location = frozenset(current)
            to_buy = min(to_buy - len(bought), target - len(current))
        result.numbers = sorted(ours)
        result.succeeded = to_buy <= 0 and result.reason is None
        if result.succeeded:
            result.reason = None
        return result

    async def _one_purchase(
        self, purchase: Purchase, quantity: int, before: set[str], result: PurchaseResult
    ) -> tuple[set[str], set[str]] | str | None:
        """One intent, one call, one outcome. Returns (numbers bought, listing after), or
        ``"rate-limited"`` (not executed; waited), or None on a definite failure."""
        params = dict(purchase.purchase_params())
        params["quantity"] = str(quantity)
        op = new_id()
        # Unknown until the call answers: a run stopped now reports it (unknown()).
        self._open[op] = PurchaseIntent(
            op=op,
            run=self.journal.run_id if self.journal is not None else "",
            time=datetime.fromtimestamp(self._clock(), timezone.utc),
            pool=purchase.pool,
            location=purchase.location,
            quantity=quantity,
            before=frozenset(before),
        )
        await self._record(
            "intent",
            op=op,
            address=purchase.address,
            action="purchase",
            pool=purchase.pool,
            location=purchase.location.as_json(),
            quantity=quantity,
            params=params,
            before=sorted(before),
        )
        result.calls += 1
        try:
            numbers = await self.aculab.purchase(params)
        except RateLimitedError as err:
            del self._open[op]
            await self._record(
                "outcome", op=op, status=FAILED, error=describe_error(err), numbers=[]
            )
            wait = err.retry_after if err.retry_after is not None else self.policy.poll_max
            result.reason = f"rate limited: {describe_error(err)}"
            result.error = err
            await self._sleep(min(max(wait, 0.0), self.policy.max_retry_after))
            return "rate-limited"
        except BaseException as err:
            if not isinstance(err, Exception):
                raise  # cancelled: the intent stays unresolved for the next run
            if not is_outcome_unknown(err):
                del self._open[op]
                await self._record(
                    "outcome", op=op, status=FAILED, error=describe_error(err), numbers=[]
                )
                result.reason = describe_error(err)
                result.error = err
                return None
            await self._record("outcome", op=op, status=UNKNOWN, error=describe_error(err))
            return await self._recount(purchase, op, quantity, before, err, result)
        bought = {str(n) for n in numbers}
        await self._record("outcome", op=op, status=SUCCEEDED, numbers=sorted(bought))
        del self._open[op]
        result.reason = None
        return bought, before | bought

    async def _recount(
        self,
        purchase: Purchase,
        op: str,
        quantity: int,
        before: set[str],
        err: BaseException,
        result: PurchaseResult,
    ) -> tuple[set[str], set[str]] | None:
        """After an unknown outcome: re-list until the numbers show or the wait is over."""
        deadline = self._clock() + self.policy.wait

        def done(numbers: set[str]) -> bool:
            return len(numbers - before) >= quantity

        listing = await self.relist_until(purchase.location, done, deadline)
        if listing is None:
            result.reason = (
                f"the purchase failed with an unknown outcome ({describe_error(err)}) and the "
                f"numbers at {purchase.location} could not be re-listed to count what was "
                "bought; nothing more was bought. Run apply again: it re-counts first"
            )
            result.error = err
            return None
        new = listing - before
        if not new:
            # Nothing new when the wait ends proves nothing: the list may lag longer. The
            # purchase stays unknown in the journal, and blocks the pool until it is settled.
            result.notes.append(
                f"the purchase call failed ({short_reason(err)}); re-listing for "
                f"{self.policy.wait:g} s showed no new number at {purchase.location}, which "
                "proves nothing (the list may lag longer): its outcome stays unknown"
            )
            result.reason = self.blocked_reason(purchase.pool, [self._open[op]])
            result.error = None
            return None
        del self._open[op]
        await self._record(
            "resolved",
            op=op,
            address=purchase.address,
            action="purchase",
            status=SUCCEEDED,
            numbers=sorted(new),
            note="re-counted after " + short_reason(err),
        )
        self._note_recount(result, quantity, new, err)
        result.reason = None if len(new) >= quantity else describe_error(err)
        result.error = None if len(new) >= quantity else err
        return new, listing

    @staticmethod
    def _note_recount(
        result: PurchaseResult, quantity: int, new: set[str], err: BaseException
    ) -> None:
        if len(new) >= quantity:
            result.notes.append(
                f"the purchase call failed ({short_reason(err)}) but had bought "
                f"{len(new)}: {', '.join(sorted(new))} (found by re-listing)"
            )
        else:
            result.notes.append(
                f"the purchase call failed ({short_reason(err)}); re-listing found {len(new)} "
                f"of {quantity} bought: {', '.join(sorted(new))}"
            )

    # ----------------------------------------------------------------- dry run

    async def rehearse(self, purchase: Purchase) -> PurchaseResult:
        """Dry run: ``tel_purchase_development`` checks the parameters; nothing is bought."""
        result = PurchaseResult(purchase=purchase, succeeded=False)
        if purchase.blocked:
            # What apply would do: the plan saw no number of that purchase listed.
            result.reason = (
                f"an earlier purchase for pool {purchase.pool} has an unknown outcome "
                f"({'; '.join(purchase.blocked)}): apply re-lists first and buys nothing for "
                "the pool until the account lists its numbers (or `--forget-purchase "
                f"{purchase.pool}`, once you have checked the account)"
            )
            return result
        if self.view.unresolved_at(purchase.location):
            result.notes.append(
                f"an earlier purchase at {purchase.location} has an unknown outcome: apply "
                "will re-count the numbers there before buying, and may buy fewer"
            )
        result.calls = 1
        try:
            await self.aculab.purchase(purchase.purchase_params(), development=True)
        except Exception as err:
            result.reason = describe_error(err)
            result.error = err
            return result
        result.succeeded = True
        result.numbers = [placeholder(purchase.pool, i) for i in range(1, purchase.quantity + 1)]
        return result


def pool_ledgers(
    view: JournalView, desired: DesiredState, numbers: Mapping[str, LiveNumber]
) -> dict[str, PoolLedger]:
    """Per pool of ``desired``, what the journal says the account's list (``numbers``) does
    not show: numbers bought and not listed yet, and purchases whose outcome is unknown and
    of which no number is listed (those apply would refuse to buy after; a purchase whose
    numbers are listed now is settled by apply, not blocking). The plan's input, so that plan
    shows what apply will do."""
    out: dict[str, PoolLedger] = {}
    for name, pool in desired.pools.items():
        key = pool.location.key()
        bought = tuple(sorted(n for n in view.ledger_at(pool.location) if n not in numbers))
        at = {n for n, live in numbers.items() if desired.pool_key(n, live.location) == key}
        unknown = tuple(
            f"{i.quantity} at {i.location} on {when(i)}"
            for i in view.unresolved
            if (i.pool == name or i.location.key() == key) and not (at - i.before)
        )
        if bought or unknown:
            out[name] = PoolLedger(bought=bought, unknown=unknown)
    return out


def when(intent: PurchaseIntent) -> str:
    """When a purchase was announced, for people: ``2026-11-30 14:05:09 UTC``."""
    if intent.time is None:
        return "an unknown time"
    return intent.time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def placeholder(pool: str, index: int) -> str:
    """The name of a number not bought yet, in dry-run reports: ``<new london-support #1>``."""
    return f"<new {pool} #{index}>"
