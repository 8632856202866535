"""A fleet's read-only commands over worker processes (reconciler/fleet_workers.py,
docs/fleet.md): the real ``reconciler`` process (workers are forked only from a process
without threads, so not in-process under the test's served simulator) against one simulator
hosting every account, over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from fleet.support import Fleet, var
from reconciler.errors import ConfigError
from reconciler.fleet_workers import WORKERS_ENV, shares, worker_count
from reconciler.schemas import schema_file
from reconciler.simulator import Faults, Simulator
from reconciler.simulator.server import RunningSimulator

NAMES = ("acme", "globex", "initech", "umbrella")
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked (Linux)")


def _secret(name: str) -> str:
    return f"Wk3/{name}+pw!q"


def _key_quote(name: str) -> str:
    return f"the api key of {name} is "


class Served:
    """A served simulator hosting NAMES, each account's YAML quoting its secret."""

    def __init__(self, sim: Simulator, running: RunningSimulator, directory: Path) -> None:
        self.sim = sim
        self.running = running
        self.accounts = {name: sim.add_account(name, seed="demo") for name in NAMES}
        self.paths = [str(self.write(directory, name)) for name in NAMES]
        for name, account in self.accounts.items():
            # The server quotes the account's own API key back, in a field that is no secret
            wakeup = account.state.services["outbound"]["wakeup"]
            wakeup["description"] = _key_quote(name) + account.credentials.api_key

    def write(self, directory: Path, name: str, key: str = "") -> Path:
        # The YAML quotes the account's wake-up password, in a field that is no secret
        quoted = f'"the password is ${{WAKE_{var(name)}}}"'
        fleet = Fleet(self.sim, self.running, self.accounts)
        return fleet.write(directory, name, key=key, description=quoted)

    def secrets(self) -> list[str]:
        out = []
        for name, account in self.accounts.items():
            creds = account.credentials
            out += [_secret(name), creds.api_key, creds.aql_password]
        return out

    def env(self, workers: int) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
        environ.update(NO_COLOR="1", **{WORKERS_ENV: str(workers)})
        for name, account in self.accounts.items():
            environ[f"KEY_{var(name)}"] = account.credentials.api_key
            environ[f"AQL_{var(name)}"] = account.credentials.aql_password
            environ[f"WAKE_{var(name)}"] = _secret(name)
        return environ


@contextlib.contextmanager
def _serve(directory: Path, latency_ms: float = 0.0) -> Iterator[Served]:
    sim = Simulator(seed="empty", faults=Faults(latency_ms=latency_ms))
    with sim.serve() as running:
        yield Served(sim, running, directory)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with _serve(tmp_path) as s:
        s.write(tmp_path, "globex", key="KEY_ACME")  # 401: one account fails
        yield s


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def _run(served: Served, workers: int, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args),
        cwd=cwd,
        env=served.env(workers),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _groups(stdout: str, fmt: str) -> dict[str, str]:
    """Each account's group of output, by name; a JSON document's accounts."""
    if fmt == "json":
        doc = json.loads(stdout)
        return {a["account"]: json.dumps(a, sort_keys=True) for a in doc["accounts"]}
    head = "## `" if fmt == "markdown" else "==> "
    out: dict[str, str] = {}
    name = None
    for line in stdout.splitlines():
        if line.startswith(head):
            name = line[len(head) :].split("`")[0].split()[0]
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out


# An account whose every read fails (globex: 401) is reported with the read that failed first,
# which depends on how its concurrent reads were scheduled, not on the workers.
_FAILED_READ = re.compile(r"(could not read the live account: )[A-Z]+ [^ :]+(: )")


def _first_failed(text: str) -> str:
    return _FAILED_READ.sub(r"\1<the read that failed first>\2", text)


def _reports(directory: Path) -> dict[str, dict[str, object]]:
    schema = json.loads(schema_file("report.schema.json").read_text())
    out = {}
    for path in directory.glob("*.json"):
        report = json.loads(path.read_text())
        jsonschema.validate(report, schema)
        for when in ("started_at", "finished_at", "duration_s"):
            report.pop(when)
        out[path.stem] = report
    return out


# --------------------------------------------------------------------------- workers or not


def test_the_number_of_workers() -> None:
    assert worker_count(8, 100, {WORKERS_ENV: "2"}) == 2
    assert worker_count(8, 1, {WORKERS_ENV: "4"}) == 1
    assert worker_count(1, 100, {WORKERS_ENV: "4"}) == 1
    assert worker_count(3, 100, {WORKERS_ENV: "8"}) == (3 if sys.platform == "linux" else 1)
    assert worker_count(8, 100, {}) <= (os.cpu_count() or 1)
    assert shares(8, 3) == [3, 3, 2] and shares(4, 4) == [1, 1, 1, 1]
    with pytest.raises(ConfigError) as info:
        worker_count(8, 100, {WORKERS_ENV: "many"})
    assert WORKERS_ENV in info.value.message and info.value.hint
    # A run that would not fork (one at a time, or one account) does not read it at all.
    assert worker_count(1, 100, {WORKERS_ENV: "many"}) == 1
    assert worker_count(8, 1, {WORKERS_ENV: "0"}) == 1


def test_no_workers_are_forked_from_a_process_with_threads() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert worker_count(8, 100, {WORKERS_ENV: "4"}) == 1
    finally:
        stop.set()
        thread.join()


# --------------------------------------------------------------------------- same output


@linux_only
@pytest.mark.e2e
@pytest.mark.parametrize(
    ("command", "fmt"),
    [
        ("drift", "text"),
        ("drift", "json"),
        ("drift", "markdown"),
        ("plan", "text"),
        ("plan", "json"),
        ("plan", "markdown"),
        ("validate", "text"),
        ("validate", "json"),
    ],
)
def test_workers_show_and_report_what_one_process_does_without_secrets(
    served: Served, tmp_path: Path, command: str, fmt: str
) -> None:
    """The same groups (in another order), exit code, summary and reports with 1 and with
    3 workers; no account's secret, quoted back by the server and by the YAML, in any of it.
    The parent never reads an account's YAML: only the workers' redaction can mask them."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nnot_a_key: 1\n", encoding="utf-8")
    outputs = {}
    for workers in (1, 3):
        directory = tmp_path / f"reports-{workers}"
        args = [command, *served.paths, str(broken), "--format", fmt, "--parallel", "4"]
        run = _run(served, workers, tmp_path, *args, "--report-dir", str(directory))
        written = "".join(p.read_text() for p in directory.iterdir())
        for secret in served.secrets():
            assert secret not in run.stdout + run.stderr + written, (workers, secret)
        found = _groups(run.stdout, fmt)
        reports = json.loads(_first_failed(json.dumps(_reports(directory))))
        found = {name: _first_failed(group) for name, group in found.items()}
        outputs[workers] = (run.returncode, found, _first_failed(run.stderr), reports)
    assert outputs[1] == outputs[3]
    code, groups, stderr, reports = outputs[3]
    assert sorted(groups) == sorted([*NAMES, "broken"]) == sorted(reports)
    assert "not_a_key" in groups["broken"] and reports["broken"]["outcome"] == "error"
    # offline, globex's key is no error
    failed = "1 failed" if command == "validate" else "2 failed"
    assert code == 1 and f"{command}: 5 accounts:" in stderr and f"{failed}; exit 1." in stderr
    if command != "validate":
        assert "401" in groups["globex"]
        assert "(sensitive)" in groups["acme"]  # the quoted secrets were there, masked
        assert reports["acme"]["outcome"] == "changes"
    assert reports["globex"]["outcome"] == ("ok" if command == "validate" else "error")


@linux_only
@pytest.mark.parametrize("workers", [1, 2])
def test_a_processes_accounts_share_their_connections(
    served: Served, tmp_path: Path, workers: int
) -> None:
    """Accounts run one after another in a process pass its connections on: some connection
    carries the calls of more than one account, where each account would otherwise open,
    and close, its own."""
    served.sim.calls.clear()
    args = ["drift", *served.paths, "--parallel", str(workers), "--concurrency", "1"]
    run = _run(served, workers, tmp_path, *args)
    assert run.returncode == 1 and "401" in run.stdout, run.stderr  # globex's key is wrong
    calls = [c for c in served.sim.calls if c.account is not None]
    assert {c.account for c in calls} == set(NAMES) - {"globex"}
    served_by: dict[str | None, set[str]] = {}
    for call in calls:
        assert call.account is not None and call.peer is not None
        served_by.setdefault(call.peer, set()).add(call.account)
    # How many connections the pool opens is the pool's affair; that they carry on is ours.
    assert max(len(accounts) for accounts in served_by.values()) >= 2, served_by


@linux_only
@pytest.mark.parametrize("command", ["plan", "drift"])
def test_the_workers_inherit_the_api_clients_imported_once(
    served: Served, tmp_path: Path, command: str
) -> None:
    """The transport (and the clients) are imported before the fork, once, not by each
    worker."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "reconciler", command, *served.paths],
        cwd=tmp_path,
        env=served.env(2),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode in (1, 2), run.stderr  # globex's key is wrong
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert imported.count("httptools") == 1
    assert imported.count("reconciler.clients.http11") == 1
    assert "aiohttp" not in imported  # the benchmarks' floor only
    assert imported.count("reconciler.clients.aculab") == 1


# --------------------------------------------------------------------------- dying, Ctrl-C


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return out


def _start(served: Served, cwd: Path, *args: str) -> tuple[subprocess.Popen[str], list[int]]:
    """Start the CLI with two workers; return once both run and the account is being read."""
    proc = subprocess.Popen(
        _command(*args),
        cwd=cwd,
        env=served.env(2),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):
        workers = _children(proc.pid)
        if (len(workers) == 2 and served.sim.calls) or proc.poll() is not None:
            return proc, workers
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the workers never started")


@linux_only
@pytest.mark.e2e
def test_a_worker_killed_mid_run_fails_its_account_and_the_others_still_run(
    tmp_path: Path,
) -> None:
    with _serve(tmp_path, latency_ms=150) as served:
        proc, workers = _start(served, tmp_path, "drift", *served.paths, "--parallel", "2")
        assert len(workers) == 2, proc.communicate()
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    groups = _groups(out, "text")
    assert sorted(groups) == sorted(NAMES), out
    died = [n for n, text in groups.items() if "internal error" in text]
    assert len(died) == 1, out
    assert f"the worker process running {died[0]} died (killed by SIGKILL)" in groups[died[0]]
    for name in set(NAMES) - set(died):
        assert "outbound:wakeup" in groups[name], out  # drift found, as without the kill
    assert "drift: 4 accounts: 0 in order, 3 drifted, 0 refused, 1 failed; exit 1." in err
    assert "Traceback" not in err


def _gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaps counts: it runs no more)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status or "\nState:\tX" in status


@linux_only
@pytest.mark.e2e
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_the_workers_end_when_the_command_is_killed(tmp_path: Path, how: signal.Signals) -> None:
    with _serve(tmp_path, latency_ms=300) as served:
        proc, workers = _start(served, tmp_path, "drift", *served.paths, "--parallel", "2")
        assert len(workers) == 2, proc.communicate()
        proc.send_signal(how)
        # The workers hold the command's stdout and stderr: while one runs, a caller reading
        # the output (a CI runner, a pipe) would wait for ever.
        out, err = proc.communicate(timeout=30)
        for _ in range(200):
            if all(_gone(pid) for pid in workers):
                break
            time.sleep(0.05)
        left = [pid for pid in workers if not _gone(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, (out, err)
    assert proc.returncode == -how


@linux_only
@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_ctrl_c_stops_the_workers_and_ends_as_in_one_process(tmp_path: Path, fmt: str) -> None:
    with _serve(tmp_path, latency_ms=150) as served:
        args = ("drift", *served.paths, "--parallel", "2", "--format", fmt)
        proc, workers = _start(served, tmp_path, *args)
        assert len(workers) == 2, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    # The workers were stopped and reaped, not left running on their own.
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert proc.returncode == 130, (out, err)
    assert "Interrupted." in err and "Traceback" not in err, err
    if fmt == "json":
        assert json.loads(out)["error"]["message"] == "interrupted"
