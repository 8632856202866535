"""The progress lines: their text, throttling on a terminal, status lines in a log."""

from __future__ import annotations

from reconciler.live.progress import LOG_INTERVAL, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_has_thousands_separators_and_the_time_taken() -> None:
    clock = Clock()
    progress = Progress(clock=clock)
    clock.now += 4.2
    assert progress.line(1614, 3203) == "reading live state: 1,614/3,203, 4s"
    assert Progress("applying", clock=clock).line(3, 12) == "applying: 3/12, 0s"


def test_a_total_not_known_yet_is_not_shown() -> None:
    assert Progress(clock=Clock()).line(12, None) == "reading live state: 12 done, 0s"


def test_on_a_terminal_updates_are_throttled_but_the_first_and_last_always_show() -> None:
    clock = Clock()
    progress = Progress(interval=0.1, clock=clock)
    shown = []
    for done in range(0, 3204):
        if done % 100 == 0:
            clock.now += 0.05  # two updates per interval
        line = progress.update(done, 3203)
        if line is not None:
            shown.append(line)
    assert shown[0].startswith("reading live state: 0/3,203")
    assert shown[-1].startswith("reading live state: 3,203/3,203")
    # About one line per 0.1 s of the 1.6 s the updates took, not 3,204 lines.
    assert 10 <= len(shown) <= 25
    assert progress.last == shown[-1]
    assert progress.finish() is None  # the caller clears the terminal's line


def test_in_a_log_a_status_line_every_few_seconds_and_a_last_one() -> None:
    clock = Clock()
    progress = Progress(interactive=False, clock=clock)
    shown = []
    for done in range(0, 1001):
        clock.now += 0.02  # 20 s in all
        line = progress.update(done, 1000)
        if line is not None:
            shown.append(line)
    # One line per LOG_INTERVAL of the 20 s (give or take the float steps of the clock).
    assert int(20 / LOG_INTERVAL) - 1 <= len(shown) <= int(20 / LOG_INTERVAL)
    assert shown[0].endswith("/1,000, 5s") and shown[1].endswith("/1,000, 10s")
    assert progress.finish() == "reading live state: 1,000/1,000, 20s"


def test_in_a_log_a_quick_run_prints_nothing() -> None:
    clock = Clock()
    progress = Progress(interactive=False, clock=clock)
    for done in range(10):
        clock.now += 0.1
        assert progress.update(done, 10) is None
    assert progress.finish() is None


def test_in_a_log_the_final_count_is_not_printed_twice() -> None:
    clock = Clock()
    progress = Progress(interactive=False, clock=clock)
    clock.now += LOG_INTERVAL
    assert progress.update(5, 6) is not None
    clock.now += LOG_INTERVAL
    assert progress.update(6, 6) == "reading live state: 6/6, 10s"
    assert progress.finish() is None  # the log already ends with the final count
