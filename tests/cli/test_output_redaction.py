"""A secret that reaches a field that is not secret (a description quoting a password) is still
masked in everything the command line prints or writes, in every format.

Regression: the command's redactor is empty when a command starts, and an empty redactor
was falsy, so ``active_redactor() or Redactor()`` gave the session a second one; the secrets
the session met were known only to it, and the plan printed after the session closed showed
them. Run through the installed script (``main``) and in-process (the click group alone),
against a simulator served over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from drift.support import reconciler

from reconciler.simulator import RunningSimulator, Simulator

pytestmark = pytest.mark.e2e

SCRIPT = Path(sys.executable).parent / "reconciler"
SECRET = "Sv0c3/Pw!x+q"


@pytest.fixture
def served() -> Iterator[RunningSimulator]:
    with Simulator(seed="demo").serve() as running:
        yield running


def _desired(tmp_path: Path, running: RunningSimulator) -> Path:
    path = tmp_path / "desired.yaml"
    path.write_text(
        "version: 1\n"
        "aculab:\n"
        '  cloud_id: "1-2-0"\n'
        "  username: ops@example.com\n"
        "  api_key: ${ACULAB_API_KEY}\n"
        f"  endpoint: {running.base_url}\n"
        "outbound_services:\n"
        "  wakeup:\n"
        "    service_password: ${WAKEUP_PASSWORD}\n"
        '    description: "the password is ${WAKEUP_PASSWORD}"\n',
        encoding="utf-8",
    )
    return path


ENV = {"ACULAB_API_KEY": "sim-api-key", "WAKEUP_PASSWORD": SECRET}


def _script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    environ.update({"NO_COLOR": "1", **ENV})
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=120
    )


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_secret_quoted_in_a_description_is_masked_in_every_plan_format(
    served: RunningSimulator, tmp_path: Path, fmt: str
) -> None:
    path = _desired(tmp_path, served)
    run = _script(tmp_path, "plan", str(path), "--format", fmt)
    assert run.returncode == 0, run.stderr
    assert "description" in run.stdout  # the change is shown ...
    assert SECRET not in run.stdout + run.stderr  # ... without the secret
    assert "(sensitive)" in run.stdout


def test_apply_drift_and_export_mask_it_too(served: RunningSimulator, tmp_path: Path) -> None:
    path = _desired(tmp_path, served)
    applied = _script(tmp_path, "apply", str(path), "--yes", "--force", "--format", "json")
    assert applied.returncode == 0, applied.stderr
    drift = _script(tmp_path, "drift", str(path), "--format", "markdown")
    exported = _script(tmp_path, "export", str(path), "--out", str(tmp_path / "exported"))
    assert exported.returncode == 0, exported.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in {".yaml", ".jsonl"}]
    assert any(p.name == "journal.jsonl" for p in files)
    written = "".join(p.read_text(encoding="utf-8") for p in files if p != path)
    for text in (applied.stdout, applied.stderr, drift.stdout, drift.stderr, written):
        assert SECRET not in text


def test_in_process_the_command_masks_what_it_prints(
    served: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _desired(tmp_path, served)
    run = reconciler("plan", str(path), env=ENV)
    assert run.code == 0, run.output
    assert "description" in run.stdout and SECRET not in run.output
