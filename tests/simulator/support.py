"""Running the simulator in its own process, as a user (or a benchmark) does."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path


class Served:
    """A ``reconciler simulator serve`` process and what it printed."""

    def __init__(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else {**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def read_until(self, marker: str, timeout: float = 30.0) -> list[str]:
        """Lines printed up to the one containing ``marker``."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {marker!r} within {timeout}s: {self.lines}") from None
            if line is None:
                raise AssertionError(f"exited before {marker!r}: {self.lines}")
            self.lines.append(line)
            if marker in line:
                return self.lines

    def rest(self, timeout: float = 30.0) -> str:
        """Everything printed until the process ends."""
        self.proc.wait(timeout)
        while True:
            line = self._queue.get(timeout=timeout)
            if line is None:
                return "\n".join(self.lines)
            self.lines.append(line)

    def field(self, label: str) -> str:
        """The value after ``label`` on the first line that has it."""
        for line in self.lines:
            if label in line:
                return line.split(label, 1)[1].strip()
        raise AssertionError(f"{label!r} not printed: {self.lines}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def reconciler_argv() -> list[str]:
    script = Path(sys.executable).with_name("reconciler")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]
