"""Progress of a long read, as a line for a terminal: ``Reading live state 1,200/3,203``.

Domain code never prints: :class:`Progress` is the ``progress(done, total)`` callback of
:func:`~reconciler.live.reader.read_live` that *returns* the line worth drawing (or None),
and the CLI prints it (on stderr, only when stderr is a terminal). Redrawing thousands of times
a second costs more than the read itself, so lines are throttled to one per ``interval``; the
first and the final line are always given.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """Turns ``(done, total)`` updates into throttled progress lines.

    ``label`` starts the line; ``interval`` is the least time between two lines (seconds);
    ``clock`` is injectable for tests. :attr:`last` keeps the latest line given.
    """

    def __init__(
        self,
        label: str = "Reading live state",
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.interval = interval
        self.clock = clock
        self.last: str | None = None
        self._shown_at: float | None = None

    def line(self, done: int, total: int) -> str:
        """The line for ``(done, total)``, always: ``Reading live state 1,200/3,203``."""
        return f"{self.label} {done:,}/{total:,}"

    def update(self, done: int, total: int) -> str | None:
        """The line to draw now, or None when the last one was drawn too recently. The first
        update and the final one (``done >= total``) always give a line."""
        now = self.clock()
        final = done >= total
        if not final and self._shown_at is not None and now - self._shown_at < self.interval:
            return None
        self._shown_at = now
        self.last = self.line(done, total)
        return self.last
