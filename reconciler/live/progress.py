"""Progress of a long read or apply, as lines for a terminal or a CI log.

Domain code never prints: :class:`Progress` is the ``progress(done, total)`` callback of
:func:`~reconciler.live.reader.read_live` and of the applier that *returns* the line worth
showing (or None), and the CLI prints it on stderr.

- On a terminal (``interactive``) the line is redrawn in place, at most ten times a second
  (redrawing thousands of times a second costs more than the read itself), and cleared at the
  end: ``reading live state: 1,614/3,203, 4s``.
- Elsewhere (a CI log) a status line is printed every few seconds, as Terraform's "Still
  creating..." does, and a last one at the end if any was printed: a quick read leaves the log
  alone.

``total`` is None while it is not known yet (the live read learns how many services there
are to read from the lists it makes first); the line then says how many are done.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ProgressCallback = Callable[[int, int | None], None]

# Least seconds between two lines: redraws on a terminal, status lines in a log.
TERMINAL_INTERVAL = 0.1
LOG_INTERVAL = 5.0


class Progress:
    """Turns ``(done, total)`` updates into progress lines, throttled.

    ``label`` starts the line (``reading live state``); ``interactive`` says whether the lines
    are redrawn on a terminal or appended to a log; ``interval`` is the least time between two
    lines (seconds; by default :data:`TERMINAL_INTERVAL` or :data:`LOG_INTERVAL`); ``clock``
    is injectable for tests. :attr:`last` keeps the latest line given.
    """

    def __init__(
        self,
        label: str = "reading live state",
        *,
        interactive: bool = True,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.interactive = interactive
        self.interval = (
            interval
            if interval is not None
            else (TERMINAL_INTERVAL if interactive else LOG_INTERVAL)
        )
        self.clock = clock
        self.last: str | None = None
        self._shown_count: tuple[int, int | None] | None = None
        self._started = clock()
        self._shown_at: float | None = None
        self._done = 0
        self._total: int | None = None

    def line(self, done: int, total: int | None) -> str:
        """The line for ``(done, total)``: ``reading live state: 1,614/3,203, 4s``."""
        elapsed = int(self.clock() - self._started)
        count = f"{done:,} done" if total is None else f"{done:,}/{total:,}"
        return f"{self.label}: {count}, {elapsed}s"

    def update(self, done: int, total: int | None) -> str | None:
        """The line to show now, or None. On a terminal the first update and the final one
        (``done >= total``) always give a line; in a log, a line comes only once ``interval``
        has passed since the start or the previous line."""
        self._done, self._total = done, total
        now = self.clock()
        since = now - (self._shown_at if self._shown_at is not None else self._started)
        if self.interactive:
            final = total is not None and done >= total
            if not final and self._shown_at is not None and since < self.interval:
                return None
        elif since < self.interval:
            return None
        self._shown_at = now
        self._shown_count = (done, total)
        self.last = self.line(done, total)
        return self.last

    def finish(self) -> str | None:
        """The last line for a log, once the work is over: the final count, when any line was
        shown (None on a terminal, whose line the caller clears, or after a quick run)."""
        if self.interactive or self._shown_at is None:
            return None
        if self._shown_count == (self._done, self._total):
            return None  # the log already has this count: once is enough
        self.last = self.line(self._done, self._total)
        return self.last
