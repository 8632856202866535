"""Helpers of the reliability suites: the CLI run in this process (the same code path as the
``reconciler`` script: :func:`reconciler.cli.main`, real HTTP to a simulator on 127.0.0.1),
and what every run must show whatever happened to it.

A subprocess costs about a second of CPU to start (httpx, jsonschema, the transport); the chaos
suite runs a few hundred commands, so it calls ``main()`` here instead, one command at a time,
with the working directory, ``argv``, the environment and the standard streams set for it.
The crash and concurrency suites need real processes (SIGKILL, two at once) and use the
subprocess helpers of ``tests/apply/e2e.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.cli import main

# Words that must never reach a user: a traceback, or the last-guard message that stands in
# for one (main() prints it for an exception no command handled).
NEVER_SHOWN = ("Traceback (most recent call last)", "internal error")


@dataclass
class Run:
    """One command's outcome, as a user would see it."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    crash: str | None = None  # the traceback of an exception that escaped main()
    seconds: float = 0.0

    def explain(self, limit: int = 6000) -> str:
        stdout = self.stdout
        if len(stdout) > limit:
            stdout = stdout[:limit] + f"\n... ({len(self.stdout) - limit:,} more characters)\n"
        text = (
            f"$ reconciler {' '.join(self.args)}\nexit {self.code} after {self.seconds:.2f} s\n"
            f"--- stdout\n{stdout}"
            f"--- stderr\n{self.stderr}"
        )
        if self.crash:
            text += f"--- escaped main()\n{self.crash}"
        return text

    def json(self) -> Any:
        return json.loads(self.stdout)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(cwd: Path, *args: str, environ: Mapping[str, str] | None = None) -> Run:
    """Run ``reconciler ARGS`` in this process, in ``cwd``, and capture what it printed.

    ``RECONCILER_DEBUG=1`` lets an unhandled exception escape ``main()`` so that the test sees
    its traceback (the user would see ``internal error``: a bug either way).
    """
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    saved_sigterm = signal.getsignal(signal.SIGTERM)
    logger_state = _logger_state()
    env = {"NO_COLOR": "1", "RECONCILER_DEBUG": "1", **(environ or {})}
    code, crash = 0, None
    started = time.perf_counter()
    try:
        os.chdir(cwd)
        sys.argv = ["reconciler", *args]
        with _environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                code, crash = 1, traceback.format_exc()
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        signal.signal(signal.SIGTERM, saved_sigterm)
        _restore_logger(logger_state)
    seconds = time.perf_counter() - started
    return Run(tuple(args), code, out.getvalue(), err.getvalue(), crash, seconds)


def _logger_state() -> tuple[list[Any], int]:
    import logging

    logger = logging.getLogger("reconciler")
    return list(logger.handlers), logger.level


def _restore_logger(state: tuple[list[Any], int]) -> None:
    """``-v`` points the ``reconciler`` logger at this run's stderr; undo that."""
    import logging

    logger = logging.getLogger("reconciler")
    logger.handlers[:] = state[0]
    logger.setLevel(state[1])


def account_yaml(base_url: str, aql_url: str, body: str = "") -> str:
    """A desired state pointing at a simulator, its secrets read from the environment."""
    return f"""\
version: 1
aculab:
  cloud_id: "1-2-0"
  username: ops@example.com
  api_key: ${{ACULAB_API_KEY}}
  endpoint: {base_url}
aql:
  username: example
  password: ${{AQL_PASSWORD}}
  endpoint: {aql_url}
{body}"""


def assert_clean(run: Run, where: str) -> None:
    """What every run must show, success or not: no traceback, and an error exit (1) that
    says what went wrong."""
    assert run.crash is None, f"{where}: an exception escaped the CLI\n{run.explain()}"
    for word in NEVER_SHOWN:
        assert word not in run.stdout + run.stderr, f"{where}: {word!r} shown\n{run.explain()}"
    assert run.code in (0, 1, 2, 3), f"{where}: exit {run.code}\n{run.explain()}"
    if run.code == 1:
        assert "Error:" in run.stderr or "FAILED" in run.stdout or '"failed"' in run.stdout, (
            f"{where}: exit 1 without saying why\n{run.explain()}"
        )


def assert_report_gives_reasons(report: Mapping[str, Any], where: str) -> None:
    """Every change of an apply report that failed or was skipped says why."""
    for result in report.get("results", []):
        if result["status"] in ("failed", "skipped"):
            reason = result.get("reason")
            assert isinstance(reason, str) and reason.strip(), (
                f"{where}: {result['address']} {result['status']} without a reason: {result}"
            )
    if report.get("status") == "failed":
        counts = report["summary"]
        assert counts["failed"] + counts["skipped"] > 0, f"{where}: failed with nothing failed"


def journal_records(workdir: Path) -> list[dict[str, Any]]:
    """Every readable record of ``workdir``'s journal (a line torn by a kill is skipped)."""
    path = workdir / ".reconciler" / "journal.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def journal_bought(workdir: Path) -> set[str]:
    """Every number the journal says was bought (outcomes and re-counts)."""
    out: set[str] = set()
    for record in journal_records(workdir):
        numbers = record.get("numbers")
        if record.get("event") in ("outcome", "resolved") and isinstance(numbers, list):
            out.update(str(n) for n in numbers)
    return out


def secret_encodings(secret: str) -> set[str]:
    """What a secret may look like in text reconciler did not make: raw, URL-encoded (``/``
    kept or not, ``+`` for a space), JSON-escaped (ASCII or not, ``\\/``, escaped twice), and
    quoted by Python's ``repr``."""
    from urllib.parse import quote, quote_plus

    once = json.dumps(secret)[1:-1]
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        once,
        json.dumps(secret, ensure_ascii=False)[1:-1],
        once.replace("/", "\\/"),
        json.dumps(once)[1:-1],
        repr(secret)[1:-1],
    }
