"""Durable, private files: the saved plan, the simulator's account, the apply journal.

Each of them may hold what nobody else should read (a plan's shape, service passwords of a
simulated account, what apply did), and each must survive a crash whole. One way to write
them, so that a fix to durability or permissions reaches all of them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any moment leaves the old file or the
    new one, never a torn one, and mode 0600 whatever the umask: write a temporary file in the
    same directory (mkstemp: O_EXCL, 0600), fsync it, rename it over ``path``, fsync the
    directory. Raises OSError; the temporary file is removed on failure."""
    write_atomic(path, data, mode=0o600)


def write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    """:func:`write_private_atomic` with another mode: a fleet report or a metrics file that
    another user (a CI uploader, node-exporter's textfile collector) reads, and that a reader
    must never see half-written."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a directory's entries (a new or renamed file) durable. Best effort: not every
    platform can open a directory, and the rename itself is atomic anyway."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
