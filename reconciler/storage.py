"""Files reconciler reads and writes: one owner for doing either safely.

Writing: the saved plan, the simulator's account, the apply journal and lock, an export. Each
may hold what nobody else should read (a plan's shape, service passwords of a simulated
account, what apply did), and each must survive a crash whole. None is ever written *through*
a symbolic link: a link where one of them belongs (``.reconciler/journal.jsonl`` pointing at
``~/.bashrc``) would let whoever made it choose what reconciler appends to or replaces, so a
link, a directory, a named pipe or a device there is refused with :class:`NotAFile`.

Reading: a desired-state file, a saved plan. Only a regular file is read, and only up to a
size bound: a named pipe given as PATH would hang the command, ``/dev/zero`` would eat memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

# The largest input read: far above any desired state or saved plan (a 5,000-number account
# plans to a few MB), far below what would exhaust memory.
MAX_INPUT_BYTES = 64 * 1024 * 1024

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

LINK = "is a symbolic link: reconciler never writes through a link"


class NotAFile(OSError):
    """``path`` is not a regular file reconciler may read or write; ``strerror`` says what it
    is instead (``is a symbolic link``, ``is a named pipe (FIFO)``, ``is larger than ...``)."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(errno.EINVAL, what, str(path))
        self.path = path

    def __str__(self) -> str:
        return f"{self.path} {self.strerror}"


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, for a message: ``a directory``, ``a named pipe (FIFO)``."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


# --------------------------------------------------------------------------- reading


def read_regular(path: Path, *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of ``path``, a regular file (a link to one is followed) of at most ``limit``
    bytes. Raises :class:`NotAFile` for anything else (a FIFO does not block: it is opened
    non-blocking and refused), OSError when it can't be read."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(path, f"is {kind_of(info.st_mode)}, not a file")
        if info.st_size > limit:
            raise NotAFile(
                path, f"is larger than {limit // (1024 * 1024)} MiB ({info.st_size:,} bytes)"
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise NotAFile(path, f"is larger than {limit // (1024 * 1024)} MiB")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_entry(path: Path) -> str | None:
    """Why ``path``, an entry of a directory reconciler reads, is not a file to read (a link to
    nothing, a directory, a FIFO, ...), or None when it is one (or a link to one)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "has disappeared"
    if stat.S_ISLNK(info.st_mode):
        try:
            target = path.stat()
        except OSError:
            return f"is a symbolic link to {os.readlink(path)!r}, which does not exist"
        if not stat.S_ISREG(target.st_mode):
            return f"is a symbolic link to {kind_of(target.st_mode)}"
        return None
    if not stat.S_ISREG(info.st_mode):
        return f"is {kind_of(info.st_mode)}"
    return None


# --------------------------------------------------------------------------- writing


def open_private(path: Path, flags: int) -> int:
    """Open ``path`` for writing (``flags``: ``os.O_WRONLY | os.O_APPEND | os.O_CREAT`` and
    the like), mode 0600 when it is created, never through a symbolic link. Raises
    :class:`NotAFile` when ``path`` is a link or anything but a regular file, OSError else."""
    try:
        # Non-blocking: a FIFO planted there would block the open until a reader comes.
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC | _NONBLOCK, 0o600)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK) and path.is_symlink():
            raise NotAFile(path, LINK) from None
        if err.errno == errno.ENXIO:  # a FIFO with no reader
            raise NotAFile(path, "is a named pipe (FIFO), not a file") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(path, f"is {kind_of(info.st_mode)}, not a file")
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_target(path: Path) -> None:
    """Raise :class:`NotAFile` when something other than a regular file is at ``path`` (which
    a write would replace or write through): a link, a directory, a FIFO, a device."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise NotAFile(path, LINK)
    if not stat.S_ISREG(info.st_mode):
        raise NotAFile(path, f"is {kind_of(info.st_mode)}, not a file")


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that a crash at any moment leaves the old file or the
    new one, never a torn one, with ``mode`` whatever the umask: write a temporary file in the
    same directory (mkstemp: O_EXCL, 0600), fsync it, rename it over ``path``, fsync the
    directory. A link or anything but a regular file at ``path`` is refused
    (:class:`NotAFile`): it is neither written through nor replaced. Raises OSError; the
    temporary file is removed on failure."""
    check_target(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        check_target(path)  # again: a link planted meanwhile is not replaced either
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def write_private_atomic(path: Path, data: bytes) -> None:
    """:func:`write_atomic` with mode 0600: the saved plan, the simulator's account."""
    write_atomic(path, data, mode=0o600)


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
