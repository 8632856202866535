"""What every command prints the same way: errors and their exit codes, warnings, progress
on stderr, colour, logging, and the command lines hints quote.

:func:`exit_on` is the one place an exception ends the process (its code from
:func:`reconciler.errors.exit_code_for`); :func:`command` runs a command's body under it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reconciler.cli.options import current_settings
from reconciler.errors import ApplyFailed, ReconcilerError, ValidationFailed, exit_code_for
from reconciler.secret import redact
from reconciler.session import Settings

if TYPE_CHECKING:
    import logging

    from reconciler.errors import Diagnostic

# What the progress line says while the live accounts are read.
READING = "reading live state"


def use_color(settings: Settings, stream: Any = None) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR set."""
    if settings.color is not None:
        return settings.color
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def echo_error(err: ReconcilerError) -> None:
    """An error the way every command shows it: diagnostics, message, hint (secrets masked)."""
    if isinstance(err, ValidationFailed):
        for d in err.diagnostics:
            click.echo(redact(str(d)), err=True)
    click.echo(f"Error: {redact(err.message)}", err=True)
    if err.hint:
        click.echo(f"  hint: {redact(err.hint)}", err=True)


def exit_on(err: BaseException, *, as_json: bool = False) -> NoReturn:
    """The one place an exception ends the process: its message, then its exit code. With
    ``--format json`` (``as_json``) stdout gets a document too, ``{"error": {"message",
    "hint", "file"?, "line"?, "column"?}}``, so a CI parser always has one; except after an
    apply whose report (the document) is out already."""
    if isinstance(err, ReconcilerError):
        echo_error(err)
    elif isinstance(err, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
    if as_json and not isinstance(err, ApplyFailed):
        click.echo(json.dumps({"error": error_json(err)}, indent=2, sort_keys=True))
    sys.exit(exit_code_for(err))


def _redacting_filter() -> logging.Filter:
    """A filter that masks every known secret value in a log record, whatever produced it.
    (Built on first use: ``logging`` is not imported for ``reconciler --version``.)"""
    import logging

    class RedactingFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = redact(record.getMessage())
            record.args = None
            return True

    return RedactingFilter()


def _configure_logging(settings: Settings) -> None:
    """``-v`` logs INFO, ``-vv`` DEBUG, to stderr; secrets are masked in every record."""
    if not settings.verbose:
        return
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_redacting_filter())
    root = logging.getLogger("reconciler")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if settings.verbose > 1 else logging.INFO)


def command(f: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command body: logging set up, its returned exit code (None: 0) taken, any
    error or Ctrl-C turned into a message and its code by :func:`exit_on`."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            _configure_logging(current_settings())
            code = f(*args, **kwargs)
        except (ReconcilerError, KeyboardInterrupt) as err:
            exit_on(err, as_json=kwargs.get("fmt") == "json")
        if code:
            sys.exit(code)

    return wrapper


def error_json(err: BaseException) -> dict[str, Any]:
    """The ``error`` object of ``--format json`` (``schemas/error.schema.json``), secrets
    masked: one shape for one account and for each account of a fleet."""
    if isinstance(err, ReconcilerError):
        found: dict[str, Any] = json.loads(redact(json.dumps(err.as_json(), default=str)))
        return found
    if isinstance(err, KeyboardInterrupt):
        return {"message": "interrupted", "hint": None}
    return {"message": f"internal error: {type(err).__name__}", "hint": None}


class ProgressLine:
    """Progress on stderr (:class:`reconciler.live.progress.Progress` decides what and when):
    on a terminal one line redrawn in place and cleared at the end; elsewhere (a CI log) a
    status line every few seconds and a last one at the end."""

    def __init__(self, label: str) -> None:
        from reconciler.live.progress import Progress

        self.interactive = sys.stderr.isatty()
        self.progress = Progress(label, interactive=self.interactive)
        self._drawn = False
        self._closed = False

    def __call__(self, done: int, total: int | None) -> None:
        line = self.progress.update(done, total)
        if line is None:
            return
        if self.interactive:
            click.echo(f"\r{line}{_CLEAR_LINE}", err=True, nl=False)
            self._drawn = True
        else:
            click.echo(line, err=True)

    def close(self) -> None:
        if self._closed:  # Ctrl-C closes it early, the end of the run again
            return
        self._closed = True
        if self._drawn:
            click.echo(f"\r{_CLEAR_LINE}", err=True, nl=False)
        last = self.progress.finish()
        if last is not None:
            click.echo(last, err=True)


# ANSI "erase to the end of the line": what a redrawn or finished progress line leaves.
_CLEAR_LINE = "\x1b[K"


def run_with_progress(label: str, work: Callable[[ProgressLine], Any]) -> Any:
    """Run the coroutine ``work(progress)`` makes, with a progress line on a terminal."""
    from reconciler import eventloop

    progress = ProgressLine(label)
    try:
        return eventloop.run(work(progress))
    finally:
        progress.close()


def echo_warnings(warnings: Sequence[Diagnostic]) -> None:
    for d in warnings:
        click.echo(str(d), err=True)


def told_to_stop(name: str, first: bool) -> None:
    """What apply says when Ctrl-C or SIGTERM asks it to stop (see
    :class:`~reconciler.apply.applier.Stop`)."""
    from reconciler.apply.applier import STOP_GRACE_S

    if first:
        click.echo(
            f"\n{name}: stopping. Nothing new starts; waiting up to {STOP_GRACE_S:g} s for the "
            "calls in flight to finish (press Ctrl-C again to stop at once).",
            err=True,
        )
    else:
        click.echo(f"{name}: stopping at once.", err=True)


def command_line(settings: Settings, *words: str) -> str:
    """A reconciler command line that works as typed (``--simulate`` kept, paths quoted)."""
    import shlex

    line = ["reconciler", *words]
    if settings.simulate:
        line.append("--simulate")
    return shlex.join(line)


class RedactingStream:
    """A text stream that masks every secret the active redactor knows before it writes:
    whatever a command prints (renderers, messages, click's own usage errors) passes here, so
    a secret that reached a non-secret field (a description quoting a password) is masked in
    every output format without each caller remembering to. No ``buffer`` attribute on
    purpose: click would otherwise write bytes past it on a misconfigured terminal."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """Every write to stdout and stderr masked (:class:`RedactingStream`) for one command,
    under a redactor of its own unless one is active already (``main`` makes one)."""
    from reconciler.secret import Redactor, active_redactor

    with contextlib.ExitStack() as stack:
        if active_redactor() is None:
            stack.enter_context(Redactor().active())
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
