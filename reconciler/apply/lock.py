"""The apply lock: one apply at a time in a working directory.

``.reconciler/apply.lock`` is created with ``O_CREAT | O_EXCL`` and holds who took it (pid,
host, start time, command). A second apply finds it and stops with
:class:`~reconciler.errors.LockHeldError` naming the holder. A lock whose process is gone
(its pid is not alive on this host) is stale: it is taken over, and :attr:`ApplyLock.took_over`
says whose it was so the command can tell the user.

The check-and-take-over is itself guarded by an ``flock`` on ``apply.lock.guard`` (released by
the kernel if the process dies), so two applies that find the same stale lock can't both take
it. The lock is released on exit, including on Ctrl-C and exceptions; only SIGKILL (or a power
cut) leaves one behind, which the next apply detects.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.apply.journal import new_id, now_iso
from reconciler.errors import ConfigError, LockHeldError
from reconciler.storage import LINK, NotAFile, open_private

LOCK_NAME = "apply.lock"


@dataclass(frozen=True, slots=True)
class LockInfo:
    """What a lock file says about its holder."""

    pid: int | None
    host: str
    started: str
    command: str
    token: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LockInfo:
        pid = data.get("pid")
        return cls(
            pid=pid if isinstance(pid, int) else None,
            host=str(data.get("host", "?")),
            started=str(data.get("started", "?")),
            command=str(data.get("command", "?")),
            token=str(data.get("token", "")),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "host": self.host,
            "started": self.started,
            "command": self.command,
            "token": self.token,
        }

    def describe(self) -> str:
        pid = self.pid if self.pid is not None else "?"
        return f"pid {pid} on {self.host}, since {self.started} (`{self.command}`)"


def pid_alive(pid: int) -> bool:
    """Is ``pid`` a live process on this host? A zombie (exited, not yet reaped) is not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: trust kill(0)
    # The state follows the parenthesised command name, which may itself contain spaces.
    state = stat.rpartition(")")[2].split()
    return not (state and state[0] in ("Z", "X"))


class ApplyLock:
    """An exclusive lock on a working directory. Use as a context manager.

    ``took_over`` is the stale holder's :class:`LockInfo` when a dead process's lock was
    taken over, else None.
    """

    def __init__(self, path: str | Path, *, command: str | None = None) -> None:
        self.path = Path(path)
        self.command = command or " ".join(["reconciler", *sys.argv[1:]])
        self.took_over: LockInfo | None = None
        self.info: LockInfo | None = None
        self._held = False

    # ----------------------------------------------------------------- acquire / release

    def acquire(self) -> ApplyLock:
        if not self.path.parent.exists():
            # The working directory holds the journal and the simulator's state: ours only.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.path.parent, 0o700)
        me = LockInfo(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=now_iso(),
            command=self.command,
            token=new_id(),
        )
        with self._guard():
            if not self._create(me):
                holder = self.read()
                if holder is not None and not self._is_stale(holder):
                    raise LockHeldError(
                        f"another apply is running in this directory: {holder.describe()}",
                        hint=(
                            "wait for it to finish; if that process is gone (another host, or a "
                            f"reused pid), delete {self.path} and run apply again"
                        ),
                    )
                # Stale (or unreadable, i.e. torn by a crash mid-write): take it over.
                self.took_over = holder or LockInfo(None, "?", "?", "(unreadable lock file)")
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                if not self._create(me):  # pragma: no cover - the guard excludes this
                    raise LockHeldError(f"another apply took {self.path} at the same moment")
        self.info = me
        self._held = True
        return self

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if not self._held:
            return
        self._held = False
        current = self.read()
        if current is not None and self.info is not None and current.token != self.info.token:
            return  # someone took it over (they judged us dead): not ours to remove
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> ApplyLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ----------------------------------------------------------------- helpers

    def read(self) -> LockInfo | None:
        """The current holder, or None when there is no lock or it can't be read."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        return LockInfo.from_json(data)

    def _create(self, me: LockInfo) -> bool:
        try:
            # O_EXCL: never through a link (a link there, even to nothing, "exists").
            fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            if self.path.is_symlink():
                raise self._refused(NotAFile(self.path, LINK)) from None
            return False
        except NotAFile as err:
            raise self._refused(err) from None
        try:
            os.write(fd, (json.dumps(me.as_json()) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _refused(self, err: NotAFile) -> ConfigError:
        return ConfigError(
            f"cannot take the apply lock: {err.path} {err.strerror}",
            hint=f"remove {err.path} (it is not reconciler's), then apply again",
        )

    def _is_stale(self, holder: LockInfo) -> bool:
        if holder.host != socket.gethostname() or holder.pid is None:
            return False  # can't check a process on another host: assume it is alive
        if holder.pid == os.getpid():
            return False  # our own process already holds it (a second lock in one process)
        return not pid_alive(holder.pid)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise the check-and-take-over between processes (no-op where flock is absent)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        guard = self.path.with_name(self.path.name + ".guard")
        try:
            fd = open_private(guard, os.O_RDWR | os.O_CREAT)
        except NotAFile as err:
            raise self._refused(err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock
