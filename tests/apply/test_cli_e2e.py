"""End to end: the real CLI (a subprocess) against the simulator over HTTP on 127.0.0.1.

Each test asserts what a user would see (exit code, the report, the refusal) and what the
account ends up as; the simulator's own purchase log is the witness that nothing was bought
twice.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.simulator import Faults

from .e2e import (
    SECRETS,
    WAKEUP_PASSWORD,
    Served,
    cli,
    desired_yaml,
    env,
    explain,
    serve,
    start,
)

pytestmark = pytest.mark.e2e


def write(tmp_path: Path, text: str, name: str = "desired.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_converged(served: Served, *, london: int = 3, calgary: int = 1) -> None:
    state = served.sim.state
    london_numbers = served.numbers_at("London")
    assert len(london_numbers) == london
    assert len(served.numbers_at("Calgary")) == calgary
    for number in london_numbers:
        assert state.services["inbound"][number]["rest"]["first_page"]["address"] == (
            "https://app.example.com/support/first"
        )
    assert "sales-sip" in state.services["inbound"]
    assert state.services["outbound"]["wakeup"]["rest"]["first_page"]["address"] == (
        "https://app.example.com/wakeup"
    )


def test_converges_from_empty_then_a_second_apply_changes_nothing(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))

        first = cli(tmp_path, "apply", str(path), "--yes")

        assert first.returncode == 0, explain(first)
        assert "Apply complete: 7 succeeded, 0 failed, 0 skipped." in first.stdout
        assert_converged(served)
        assert len(served.purchased()) == 4
        writes = len(served.writes())

        second = cli(tmp_path, "apply", str(path), "--yes")

        assert second.returncode == 0, explain(second)
        assert "No changes" in second.stdout
        assert len(served.writes()) == writes
        assert len(served.purchased()) == 4

        journal = tmp_path / ".reconciler" / "journal.jsonl"
        text = journal.read_text()
        assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
        for secret in SECRETS:
            assert secret not in text
            assert secret not in first.stdout + first.stderr
        records = [json.loads(line) for line in text.splitlines()]
        purchases = [r for r in records if r.get("action") == "purchase" and r["event"] == "intent"]
        assert sorted(r["pool"] for r in purchases) == ["calgary", "london-support"]
        wakeup = next(r for r in records if r.get("address") == "outbound:wakeup")
        assert wakeup["body"]["service_password"] == "(sensitive)"
        assert not (tmp_path / ".reconciler" / "apply.lock").exists()


MESSY = """\
relay_routes:
  "44113000111":
    action: httppost
    detail: ["https://relay:URLPW-e2e-77f00d@primary.example.com/sms?id=%i",
             "https://backup.example.com/sms?id=%i"]
prune:
  numbers: true
  inbound_services: true
"""


def test_converges_from_a_messy_account_and_releases_only_with_allow_release(
    tmp_path: Path,
) -> None:
    with serve("demo") as served:
        # Demo: London has 2 (one without a service), Calgary 1 (the pool now wants 0),
        # Winnipeg is undeclared (released by prune), Milton Keynes is pinned but its inbound
        # service is undeclared (deleted by prune), wakeup's password differs, relay differs.
        pinned = '  pinned:\n    "441908538007": {}\n'
        path = write(
            tmp_path, desired_yaml(served, london=3, calgary=0, pinned=pinned, extra=MESSY)
        )

        blocked = cli(tmp_path, "apply", str(path), "--yes")

        assert blocked.returncode == 3, explain(blocked)
        assert "--allow-release" in blocked.stderr
        assert "blocked" in blocked.stdout
        assert served.writes() == []

        applied = cli(tmp_path, "apply", str(path), "--yes", "--allow-release")

        assert applied.returncode == 0, explain(applied)
        state = served.sim.state
        assert len(served.numbers_at("London")) == 3
        assert served.numbers_at("Calgary") == []
        assert "12045550142" not in state.numbers and "15873155555" not in state.numbers
        assert "441908538007" in state.numbers
        assert [w for w in served.writes() if "tel_delete_numbers" in w] == [
            "POST /tel_delete_numbers"
        ]
        assert state.relay["44113000111"][0] == "httppost"
        assert "URLPW-e2e-77f00d@primary" in state.relay["44113000111"][1]
        journal = (tmp_path / ".reconciler" / "journal.jsonl").read_text()
        for text in (blocked.stdout, blocked.stderr, applied.stdout, applied.stderr, journal):
            assert "URLPW-e2e-77f00d" not in text
            assert WAKEUP_PASSWORD not in text
        assert "https://relay:(sensitive)@primary.example.com" in applied.stdout
        assert set(state.services["inbound"]) == {"sales-sip", *served.numbers_at("London")}
        assert len(served.purchased()) == 1

        again = cli(tmp_path, "apply", str(path), "--yes", "--allow-release")
        assert again.returncode == 0, explain(again)
        assert "No changes" in again.stdout


def test_dry_run_writes_nothing_and_uses_the_development_purchase(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))

        result = cli(tmp_path, "apply", str(path), "--dry-run")

        assert result.returncode == 0, explain(result)
        assert served.writes() == []
        assert served.sim.state.purchase_log == []
        paths = [c.path for c in served.sim.calls]
        assert paths.count("/tel_purchase_development") == 2
        assert paths.count("/service/v1/schema/inbound") == 1
        assert paths.count("/service/v1/schema/outbound") == 1
        assert "<new london-support #1>" in result.stdout
        assert "<new london-support #3>" in result.stdout
        assert "Dry run: nothing was changed." in result.stdout
        assert not (tmp_path / ".reconciler" / "journal.jsonl").exists()


def test_a_dry_run_refuses_a_body_the_server_schema_rejects_up_front(tmp_path: Path) -> None:
    with serve("empty") as served:
        bad = desired_yaml(served).replace(
            'rest: {first_page: {address: "https://app.example.com/sales"}}',
            'rest: {first_page: {address: "https://app.example.com/sales", method: HAHA}}',
        )
        path = write(tmp_path, bad)

        result = cli(tmp_path, "apply", str(path), "--dry-run")

        assert result.returncode == 1, explain(result)
        line = next(n for n, x in enumerate(bad.splitlines(), 1) if "HAHA" in x)
        assert f"{path}:{line}:" in result.stderr
        assert "inbound service sales-sip: rest.first_page.method" in result.stderr
        assert "HAHA" in result.stderr
        assert served.writes() == []
        assert not [c for c in served.sim.calls if c.path == "/tel_purchase_development"]


def test_a_saved_plan_is_applied_only_while_it_is_fresh(tmp_path: Path) -> None:
    with serve("demo") as served:
        path = write(tmp_path, desired_yaml(served))
        saved = tmp_path / "plan.json"
        made = cli(tmp_path, "plan", str(path), "--out", str(saved))
        assert made.returncode == 0, explain(made)

        # The YAML changes after the review: planning again gives another plan.
        write(tmp_path, desired_yaml(served, london=4))
        changed = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")

        assert changed.returncode == 1, explain(changed)
        assert "stale" in changed.stderr and "pool:london-support" in changed.stderr
        assert served.writes() == []

        # Someone edits a service the plan updates, by hand, after the plan was reviewed.
        write(tmp_path, desired_yaml(served))
        served.sim.state.services["outbound"]["wakeup"]["description"] = "by hand"
        stale = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")

        assert stale.returncode == 1, explain(stale)
        assert "stale" in stale.stderr and "outbound:wakeup: changed" in stale.stderr
        assert served.writes() == []

        # A fresh plan is applied as reviewed.
        cli(tmp_path, "plan", str(path), "--out", str(saved))
        fresh = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")
        assert fresh.returncode == 0, explain(fresh)
        assert len(served.numbers_at("London")) == 3
        assert served.sim.state.services["outbound"]["wakeup"]["description"] == "by hand"


def test_without_a_terminal_apply_needs_yes(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))

        result = cli(tmp_path, "apply", str(path))

        assert result.returncode == 1
        assert "--yes" in result.stderr
        assert served.writes() == []


def test_a_partial_failure_reports_reasons_and_the_next_apply_converges(tmp_path: Path) -> None:
    # The server fails the outbound service's write (5xx, every retry); the rest of the plan
    # goes on, and the hint says that running the same command again can help.
    with serve("empty", Faults(error_rate={"/service/v1/outbound/*": 1.0})) as served:
        path = write(tmp_path, desired_yaml(served))

        failed = cli(tmp_path, "apply", str(path), "--yes")

        assert failed.returncode == 1, explain(failed)
        line = next(
            x for x in failed.stdout.splitlines() if "outbound:wakeup" in x and "FAILED" in x
        )
        assert "50" in line and "a re-run can help" in line
        assert "6 succeeded, 1 failed, 0 skipped" in failed.stdout
        assert "Error: apply finished with failures: 1 failed, 0 skipped" in failed.stderr
        assert f"run `reconciler apply {path} --yes` again" in failed.stderr
        assert len(served.numbers_at("London")) == 3

        served.sim.faults = Faults()
        healed = cli(tmp_path, "apply", str(path), "--yes")

        assert healed.returncode == 0, explain(healed)
        assert "Apply complete: 1 succeeded, 0 failed, 0 skipped." in healed.stdout
        assert_converged(served)
        assert len(served.purchased()) == 4


@pytest.mark.parametrize(
    "faults",
    # (A lost reply alone is the unit tests' business: tests/apply/test_purchases.py.)
    [Faults(list_lag_s=1.5), Faults(lost_purchase_reply="drop", list_lag_s=1.5)],
    ids=["list-lag", "lost-reply+list-lag"],
)
def test_lost_replies_and_list_lag_never_buy_twice(tmp_path: Path, faults: Faults) -> None:
    with serve("empty", faults) as served:
        path = write(tmp_path, desired_yaml(served))

        first = cli(tmp_path, "apply", str(path), "--yes", "--purchase-wait", "10")
        # Straight away, while bought numbers may still be missing from the list.
        second = cli(tmp_path, "apply", str(path), "--yes", "--purchase-wait", "10")

        assert first.returncode == 0, explain(first)
        assert second.returncode == 0, explain(second)
        assert len(served.purchased()) == 4, served.sim.state.purchase_log
        served.sim.faults = Faults()
        time.sleep(max(0.0, faults.list_lag_s - 0.5))
        assert_converged(served)
        final = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        assert final.returncode == 0, explain(final)


def test_a_second_apply_in_the_same_directory_stops_and_changes_nothing(tmp_path: Path) -> None:
    with serve("empty", Faults(latency_ms=150)) as served:
        path = write(tmp_path, desired_yaml(served))
        lock = tmp_path / ".reconciler" / "apply.lock"
        first = start(tmp_path, "apply", str(path), "--yes")
        try:
            deadline = time.monotonic() + 30
            while not lock.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lock.exists()
            calls_before = len(served.sim.calls)

            second = cli(tmp_path, "apply", str(path), "--yes")

            assert second.returncode == 1, explain(second)
            assert "another apply is running" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            assert "apply.lock" in second.stderr
        finally:
            out, err = first.communicate(timeout=60)
        assert first.returncode == 0, explain([out, err])
        assert len(served.sim.calls) > calls_before  # only the first kept working
        assert len(served.purchased()) == 4


def test_a_stale_lock_is_taken_over_and_said_so(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / ".reconciler" / "apply.lock"
    lock.parent.mkdir()
    lock.write_text(
        json.dumps(
            {
                "pid": dead.pid,
                "host": socket.gethostname(),
                "started": "2026-01-01T00:00:00",
                "command": "reconciler apply old.yaml",
                "token": "x",
            }
        )
    )
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))
        result = cli(tmp_path, "apply", str(path), "--yes")

    assert result.returncode == 0, explain(result)
    assert f"took over a stale lock left by pid {dead.pid}" in result.stderr
    assert not lock.exists()


def test_simulate_runs_with_no_environment_variable_set(tmp_path: Path) -> None:
    with serve("empty") as served:  # only to render a YAML; --simulate ignores its endpoint
        text = desired_yaml(served)
    path = write(tmp_path, text)
    bare = {
        k: v
        for k, v in env().items()
        if k not in ("ACULAB_API_KEY", "AQL_PASSWORD", "WAKEUP_PASSWORD")
    }

    applied = cli(tmp_path, "apply", str(path), "--simulate", "--yes", environ=bare)
    assert applied.returncode == 0, explain(applied)
    assert "Apply complete" in applied.stdout

    replanned = cli(tmp_path, "plan", str(path), "--simulate", "--detailed-exitcode", environ=bare)
    assert replanned.returncode == 0, explain(replanned)
    assert WAKEUP_PASSWORD not in applied.stdout


def _apply_on_a_terminal(cwd: Path, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI with a terminal on stdin that holds ``answer``."""
    import pty

    from .e2e import command

    master, slave = pty.openpty()
    try:
        os.write(master, f"{answer}\n".encode())
        return subprocess.run(
            command(*args),
            cwd=cwd,
            env=env(),
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("answer", ["n", "y", "yes"])
def test_on_a_terminal_apply_that_buys_asks_for_the_word_yes(tmp_path: Path, answer: str) -> None:
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))
        result = _apply_on_a_terminal(tmp_path, answer, "apply", str(path))

        assert "This will buy 4 numbers. Type yes to apply these changes:" in result.stderr
        if answer != "yes":
            assert result.returncode == 1, explain(result)
            assert "Apply cancelled; nothing was changed." in result.stderr
            if answer == "y":  # a bare y no longer buys numbers
                assert "Only the word yes applies" in result.stderr
            assert served.writes() == []
        else:
            assert result.returncode == 0, explain(result)
            assert "Apply complete" in result.stdout
            assert len(served.purchased()) == 4


def test_on_a_terminal_apply_that_only_updates_takes_y(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))
        assert cli(tmp_path, "apply", str(path), "--yes").returncode == 0
        edited = path.read_text(encoding="utf-8").replace("/support/first", "/support/start")
        path.write_text(edited, encoding="utf-8")
        # --force: 3 of the 5 services change, past the default limit.
        result = _apply_on_a_terminal(tmp_path, "y", "apply", str(path), "--force")
        assert "Apply these changes? [y/N]" in result.stderr
        assert result.returncode == 0, explain(result)
        assert "Apply complete" in result.stdout


def test_ctrl_c_at_the_prompt_exits_130_and_changes_nothing(tmp_path: Path) -> None:
    import pty
    import signal

    from .e2e import command

    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))
        master, slave = pty.openpty()
        try:
            proc = subprocess.Popen(
                command("apply", str(path)),
                cwd=tmp_path,
                env=env(),
                stdin=slave,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert proc.stderr is not None
            seen = ""
            while "Type yes" not in seen:
                char = proc.stderr.read(1)
                assert char, f"apply ended before asking: {seen}"
                seen += char
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            _out, err = proc.communicate(timeout=60)
        finally:
            os.close(master)
            os.close(slave)
        assert proc.returncode == 130, seen + err
        assert "Interrupted." in err and "Traceback" not in err
        assert served.writes() == []


def test_a_saved_plan_is_applied_without_asking(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = write(tmp_path, desired_yaml(served))
        saved = tmp_path / "plan.json"
        planned = cli(tmp_path, "plan", str(path), "--out", str(saved))
        assert planned.returncode == 0, explain(planned)
        # No terminal and no --yes: the plan was reviewed when it was saved.
        applied = cli(tmp_path, "apply", str(path), "--plan", str(saved))
        assert applied.returncode == 0, explain(applied)
        assert "Type yes" not in applied.stderr and "Apply complete" in applied.stdout
        assert len(served.purchased()) == 4
