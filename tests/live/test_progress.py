"""The progress line: its text, and throttling that still shows the first and last update."""

from __future__ import annotations

from reconciler.live.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_uses_thousands_separators() -> None:
    assert Progress().line(1200, 3203) == "Reading live state 1,200/3,203"
    assert Progress("Applying").line(3, 12) == "Applying 3/12"


def test_updates_are_throttled_but_the_first_and_last_always_show() -> None:
    clock = Clock()
    progress = Progress(interval=0.1, clock=clock)
    shown = []
    for done in range(0, 3204):
        if done % 100 == 0:
            clock.now += 0.05  # two updates per interval
        line = progress.update(done, 3203)
        if line is not None:
            shown.append(line)
    assert shown[0] == "Reading live state 0/3,203"
    assert shown[-1] == "Reading live state 3,203/3,203"
    # About one line per 0.1 s of the 1.6 s the updates took, not 3,204 lines.
    assert 10 <= len(shown) <= 25
    assert progress.last == shown[-1]
