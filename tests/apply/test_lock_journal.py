"""The apply lock (one apply per directory, stale locks taken over) and the journal file."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.apply.journal import Journal
from reconciler.apply.lock import ApplyLock, LockInfo, pid_alive
from reconciler.errors import JournalError, LockHeldError


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(path: Path, pid: int, host: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = LockInfo(
        pid,
        host or socket.gethostname(),
        "2026-01-01T00:00:00+00:00",
        "reconciler apply x.yaml",
        "t0k3n",
    )
    path.write_text(json.dumps(info.as_json()))


def test_the_lock_says_who_holds_it_and_is_released_on_exit(tmp_path: Path) -> None:
    path = tmp_path / ".reconciler" / "apply.lock"
    with ApplyLock(path, command="reconciler apply a.yaml"):
        data = json.loads(path.read_text())
        assert data["pid"] == os.getpid()
        assert data["host"] == socket.gethostname()
        assert data["command"] == "reconciler apply a.yaml"
        assert data["started"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not path.exists()


def test_a_second_apply_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    # A live process of another program holds it: this test's parent process.
    write_lock(path, os.getppid())

    with pytest.raises(LockHeldError) as err:
        ApplyLock(path).acquire()
    assert f"pid {os.getppid()}" in err.value.message
    assert "reconciler apply x.yaml" in err.value.message
    assert str(path) in (err.value.hint or "")
    assert json.loads(path.read_text())["token"] == "t0k3n"  # untouched


def test_the_lock_is_released_when_apply_raises(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    with pytest.raises(KeyboardInterrupt), ApplyLock(path):
        raise KeyboardInterrupt
    assert not path.exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    pid = dead_pid()
    assert not pid_alive(pid)
    write_lock(path, pid)

    with ApplyLock(path) as lock:
        assert lock.took_over is not None and lock.took_over.pid == pid
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_a_torn_lock_file_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    path.write_text('{"pid": 12')
    with ApplyLock(path) as lock:
        assert lock.took_over is not None


def test_a_lock_of_another_host_is_never_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    write_lock(path, dead_pid(), host="some-other-host")
    with pytest.raises(LockHeldError, match="some-other-host"):
        ApplyLock(path).acquire()


def test_release_leaves_a_lock_that_someone_else_took_over(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    lock = ApplyLock(path).acquire()
    write_lock(path, os.getppid())  # judged dead and taken over by another apply
    lock.release()
    assert path.exists()


# --------------------------------------------------------------------------- journal


def test_records_are_json_lines_with_time_and_run(tmp_path: Path) -> None:
    path = tmp_path / ".reconciler" / "journal.jsonl"
    with Journal(path, run_id="run1") as journal:
        journal.record("intent", op="a", address="inbound:x", action="create")
        journal.record("outcome", op="a", status="succeeded")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["event"] for r in lines] == ["intent", "outcome"]
    assert all(r["run"] == "run1" and r["time"].endswith("+00:00") for r in lines)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_a_torn_last_line_is_skipped_and_not_glued_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        journal.record(
            "intent",
            op="a",
            action="purchase",
            quantity=1,
            location={"country": "Canada", "region": "Calgary"},
            before=[],
        )
    with open(path, "a") as f:
        f.write('{"time": "2026-01-01", "event": "outc')  # SIGKILL mid-write
    with Journal(path) as journal:
        journal.record("outcome", op="a", status="succeeded", numbers=["15875550100"])
    records = list(Journal(path).records())
    assert [r["event"] for r in records] == ["intent", "outcome"]
    view = Journal(path).view()
    assert view.unresolved == []
    assert view.bought[0].numbers == ("15875550100",)


def test_unresolved_purchases_are_those_without_a_definite_outcome(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    loc = {"country": "Canada", "state": "Alberta", "region": "Calgary", "did_type": "geographic"}
    with Journal(path) as journal:
        for op in ("crashed", "unknown", "bought", "rejected", "recounted"):
            journal.record(
                "intent",
                op=op,
                action="purchase",
                pool="calgary",
                location=loc,
                quantity=1,
                before=["15875550000"],
            )
        journal.record("outcome", op="unknown", status="unknown", error="timeout")
        journal.record("outcome", op="bought", status="succeeded", numbers=["15875550001"])
        journal.record("outcome", op="rejected", status="failed", error="0005")
        journal.record("outcome", op="recounted", status="unknown", error="timeout")
        journal.record("resolved", op="recounted", status="succeeded", numbers=["15875550002"])
    view = Journal(path).view()
    assert sorted(i.op for i in view.unresolved) == ["crashed", "unknown"]
    crashed = next(i for i in view.unresolved if i.op == "crashed")
    assert crashed.before == frozenset({"15875550000"}) and crashed.location.state == "Alberta"
    assert sorted(n for b in view.bought for n in b.numbers) == ["15875550001", "15875550002"]


def test_writing_to_a_journal_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    os.chmod(path, 0o640)
    with pytest.raises(JournalError, match="readable or writable by other users") as err:
        Journal(path).record("run_start")
    assert "chmod 600" in (err.value.hint or "")
    assert path.read_text() == ""


def test_concurrent_records_are_all_durable_and_whole(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: journal.record("intent", op=str(i), body={"x": "y" * 100}), range(300)
            )
        )
    journal.close()
    records = list(Journal(path).records())
    assert sorted(int(r["op"]) for r in records) == list(range(300))


def test_a_failed_write_stops_every_later_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.record("run_start")
    assert journal._fd is not None
    os.close(journal._fd)  # the disk goes away under us
    with pytest.raises(JournalError, match="cannot write to the journal"):
        journal.record("intent", op="a")
    with pytest.raises(JournalError):
        journal.record("intent", op="b")
    journal._fd = None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_the_first_record_makes_the_journal_and_its_directory_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A power cut after the first purchase must not take the journal with it: the file, the
    # `.reconciler` directory that names it and the working directory that names
    # `.reconciler` (created moments before, by the lock) are all fsynced.
    workdir = tmp_path / "work"
    workdir.mkdir()
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    with ApplyLock(workdir / ".reconciler" / "apply.lock"):
        monkeypatch.setattr(os, "fsync", fsync)
        Journal(workdir / ".reconciler" / "journal.jsonl").record("run_start")

    assert str(workdir / ".reconciler" / "journal.jsonl") in synced
    assert str(workdir / ".reconciler") in synced
    assert str(workdir) in synced


def test_a_record_nothing_waits_on_is_written_with_the_next_durable_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.record("intent", op="a")
    journal.record("outcome", op="a", status="succeeded", durable=False)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["intent"]
    journal.record("intent", op="b")  # durable: writes what was queued before it, in order
    journal.record("outcome", op="b", status="succeeded", durable=False)
    journal.close()  # and closing writes the rest
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["event"], r["op"]) for r in lines] == [
        ("intent", "a"),
        ("outcome", "a"),
        ("intent", "b"),
        ("outcome", "b"),
    ]
