"""The files a command writes when asked (``--out``, ``--metrics``, ``--junit``), checked
before the work that fills them: a wrong path is a clear error, and costs no read."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import ConfigError


def out_directory(out: Path, what: str) -> None:
    """``--out DIR`` with several PATHs (one ``what`` per account): DIR is made if missing
    (its parent must exist)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(
            f"--out {out}: with several PATHs --out is a directory (one {what} per account), "
            "and this is a file",
            hint=f"give --out a directory, e.g. --out {what}s/",
        )
    try:
        out.mkdir(mode=0o700, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"--out {out}: cannot make the directory: {err.strerror or err}",
            hint="give --out a directory in an existing, writable one",
        ) from None


def check_report_target(path: Path) -> None:
    if path.is_dir():
        raise ConfigError(f"--out {path} is a directory", hint="give --out a file name")
    if not path.parent.is_dir():
        raise ConfigError(
            f"--out {path}: the directory {path.parent} does not exist",
            hint="create the directory first, or give --out a path in an existing one",
        )


def write_report(path: Path, text: str) -> None:
    """Write a report file (it holds no secret: every value is masked): as every file a
    command is asked for, whole or not at all, and never through a symbolic link."""
    write_public(path, text)


def write_public(path: Path, text: str) -> None:
    """Write a file a command was asked for (whole or not at all; readable by others: a
    textfile collector, a CI uploader)."""
    from reconciler.storage import write_atomic

    try:
        write_atomic(path, text.encode(), mode=0o644)
    except OSError as err:
        raise ConfigError(
            f"cannot write {path}: {err.strerror or err}",
            hint="give a path in an existing directory you can write to",
        ) from None
