"""Pacing one vendor host's calls to a rate limit nobody published.

Neither vendor documents a rate limit; real accounts have one, and answer ``429 Too Many
Requests`` with a ``Retry-After`` in whole seconds past it. A client that bursts at full
concurrency and then waits out ``Retry-After`` in every worker leaves the server idle for most
of that second. :class:`Pacer` instead learns the rate the server accepts and spaces the calls
just under it (docs/rate-limits.md), so that almost every call is answered the first time:

- Until a 429 arrives, calls are not paced at all (no cost without a limit), nor when only a
  few calls a second are made (a 429 to a lone call is the retry policy's to handle).
- The first 429 halves the pace at once: the calls per second answered lately, halved.
- Then, window by window (at least 0.25 s, and several round trips), it watches the replies to
  the calls sent at the current pace. While 429s still come, the rate the server accepts is
  what got through (a token bucket answers exactly its rate while it is saturated): the pace
  settles at 95% of that. While none come, the pace rises 10% every two quiet windows, but
  only when the calls use the pace they have, to find a limit that was raised.
- A 429 is not always about the rate (a server that refuses some share of calls whatever the
  pace, or every call). When slowing down keeps cutting what gets through and not the 429s
  (three windows in a row), or nothing gets through, the pacer returns to the pace it had and
  leaves those 429s to the retry policy for a while: retried like any other transient failure,
  with the server's ``Retry-After`` per call.
- While pacing, a 429 goes back in line at the pace (no separate wait: whole-second
  ``Retry-After`` values are the server's rounding of "soon"); a ``Retry-After`` longer than
  one second pauses the whole host once, shared by every call, instead of each worker waiting
  its own.

The pacer decides when a call may start; ``--concurrency`` still bounds the calls in flight.
:meth:`delay` tells a scheduler how long a new call would wait here, so that workers serving
several hosts keep the host with room busy (:mod:`reconciler.workpool`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

# The shortest learning window, seconds; it is also at least this many round trips.
_WINDOW = 0.25
_WINDOW_ROUND_TRIPS = 4
# Replies a window needs before it is judged (unless it has lasted four windows).
_WINDOW_REPLIES = 8
# The pace settles this far under the rate the server was seen to accept.
_UNDER = 0.95
# Rising: this factor, after this many windows without a 429, if the pace is used.
_RISE = 1.1
_QUIET_WINDOWS = 2
# How long 429s judged not to be about the rate are left to the retry policy.
_IGNORE_S = 30.0
_MIN_RATE = 0.05

log = logging.getLogger("reconciler.http")
# Replies in the last second before a 429 is worth pacing for: a call or two that meet a 429
# are the retry policy's to handle.
_BUSY = 8
# Windows in a row with 429s in which what got through fell with the pace: not the pace.
_NOT_THE_PACE_FALLS = 3


class Pacer:
    """Paces the calls to one vendor host (see the module docstring). Not thread-safe: one
    event loop uses it, like the client it belongs to."""

    def __init__(
        self,
        host: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.host = host
        self._logged: float | None = None  # the pace last logged
        self._clock = clock
        self._sleep = sleep
        self.rate: float | None = None  # calls a second; None: not pacing
        self.throttled = 0  # 429s seen in all
        self.answered = 0  # other replies seen in all
        self._next = 0.0  # when the next call may start, while pacing
        self._paused_until = 0.0
        self._ignore_until = 0.0
        self._epoch = 0  # bumped at every change of pace: a window judges only its own calls
        self._recent: deque[float] = deque()  # reply times of the last second
        self._latency = 0.0  # smoothed round trip, seconds
        self._window_start = clock()
        self._accepted = 0
        self._refused = 0
        self._quiet = 0
        # While 429s come: the pace before they began, and what got through in the last
        # window; and how many windows in a row what got through fell with the pace.
        self._episode: tuple[float | None, float | None] | None = None
        self._falls = 0

    # ----------------------------------------------------------------- scheduling

    def delay(self) -> float:
        """Seconds a call made now would wait for its turn."""
        now = self._clock()
        wait = self._paused_until - now
        if self.rate is not None:
            wait = max(wait, self._next - now)
        return max(0.0, wait)

    async def turn(self) -> int:
        """Wait for this call's turn; returns the pace's epoch, to give back to :meth:`observe`."""
        now = self._clock()
        at = max(now, self._paused_until)
        if self.rate is not None:
            at = max(at, self._next)
            self._next = at + 1.0 / self.rate
        if at > now:
            await self._sleep(at - now)
        return self._epoch

    # ----------------------------------------------------------------- learning

    def observe(
        self, epoch: int, *, throttled: bool, retry_after: float | None, latency: float
    ) -> bool:
        """Count one reply to a call that started at ``epoch``. Returns True when a 429 is the
        pacer's to absorb: retry the call through :meth:`turn`, with no wait of its own."""
        now = self._clock()
        self._latency = latency if not self._latency else 0.9 * self._latency + 0.1 * latency
        recent = self._recent
        recent.append(now)
        while recent[0] < now - 1.0:
            recent.popleft()
        if throttled:
            self.throttled += 1
        else:
            self.answered += 1
        if epoch == self._epoch:
            if throttled:
                self._refused += 1
            else:
                self._accepted += 1
        ignoring = now < self._ignore_until
        if throttled and self.rate is None and not ignoring and len(recent) >= _BUSY:
            self._slow_down_first(now)
        else:
            self._judge(now)
        pacing = self.rate is not None
        if throttled and pacing and retry_after is not None and retry_after > 1.0:
            self._paused_until = max(self._paused_until, now + retry_after)
        return throttled and pacing

    def _new_epoch(self, now: float, why: str) -> None:
        if self.rate != self._logged and log.isEnabledFor(logging.DEBUG):
            self._logged = self.rate
            pace = "none" if self.rate is None else f"{self.rate:.1f} calls/s"
            log.debug("pace for %s: %s (%s)", self.host or "the host", pace, why)
        self._epoch += 1
        self._window_start = now
        self._accepted = self._refused = 0

    def _slow_down_first(self, now: float) -> None:
        span = now - self._recent[0] if len(self._recent) > 1 else 1.0
        replied = len(self._recent) / max(span, _WINDOW)
        self._episode = (self.rate, None)
        self.rate = max(1.0, 0.5 * replied)
        self._next = now
        self._quiet = self._falls = 0
        self._new_epoch(now, "a first 429: half the calls answered lately")

    def _judge(self, now: float) -> None:
        elapsed = now - self._window_start
        window = max(_WINDOW, _WINDOW_ROUND_TRIPS * self._latency)
        replies = self._accepted + self._refused
        if elapsed < window or (replies < _WINDOW_REPLIES and elapsed < 4 * window):
            return
        accepted_rate = self._accepted / elapsed
        if self._refused == 0:
            self._episode = None
            self._quiet += 1
            rate = self.rate
            if rate is not None and self._quiet >= _QUIET_WINDOWS:
                self._quiet = 0
                if replies / elapsed >= 0.8 * rate:  # the pace is used: try a faster one
                    self.rate = rate * _RISE
                    self._new_epoch(now, "no 429 lately: a little faster")
                    return
            self._window_start = now
            self._accepted = self._refused = 0
            return
        self._quiet = 0
        if now < self._ignore_until or (self._episode is None and self.rate is None):
            self._new_epoch(now, "429s left to the retry policy")
            return
        before, last = self._episode or (self.rate, None)
        # A saturated token bucket lets through its rate whatever the pace: what got through
        # stays put while the pace falls. 429s that keep coming while what gets through falls
        # with the pace, window after window (or nothing gets through at all), are not about
        # the pace: leave them to the retry policy for a while.
        self._falls = self._falls + 1 if last is not None and accepted_rate < 0.9 * last else 0
        if self._accepted == 0 or self._falls >= _NOT_THE_PACE_FALLS:
            self.rate = before
            self._episode = None
            self._ignore_until = now + _IGNORE_S
            self._new_epoch(now, "these 429s are not about the pace: left to the retry policy")
            return
        self._episode = (before, accepted_rate)
        self.rate = max(_MIN_RATE, _UNDER * accepted_rate)
        self._new_epoch(now, f"429s: {accepted_rate:.1f} calls/s got through")
