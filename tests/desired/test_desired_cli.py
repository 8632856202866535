"""``reconciler validate PATH [--format text|json]``: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import cli

from .helpers import ACCOUNTS, ENVIRON, write

VALID = (
    ACCOUNTS
    + """\
numbers:
  pinned: {"441908538007": {}}
inbound_services:
  "441908538007": {description: Main line}
  "441908538099": {description: not pinned}
"""
)
INVALID = (
    ACCOUNTS
    + """\
numbers:
  pools:
    london: {country: United Kingdom, region: London, cuont: 2}
"""
)


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env if env is not None else ENVIRON)
    return result.exit_code, result.output


def test_valid_exits_0_and_prints_warnings_and_a_summary(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    code, out = _run("validate", str(path))
    assert code == 0
    assert out.splitlines() == [
        f"{path}:13:3: warning: inbound service 441908538099 is named by a number that is not "
        "pinned, and no pool can supply it: pin it under numbers.pinned if the account owns it",
        f"{path} is valid: 0 pools, 1 pinned number, 2 inbound services, 0 outbound services, "
        "0 relay routes (1 warning).",
    ]


def test_invalid_exits_1_with_every_diagnostic(tmp_path: Path) -> None:
    path = write(tmp_path, INVALID)
    code, out = _run("validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:11:5: error: numbers.pools.london is missing the required key 'count'",
        f"{path}:11:55: error: unknown key 'cuont' in numbers.pools.london (did you mean 'count'?)",
        f"{path}: 2 errors.",
    ]


def test_json_lists_diagnostics_for_editors_and_ci(tmp_path: Path) -> None:
    path = write(tmp_path, INVALID)
    code, out = _run("validate", str(path), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["summary"] == {"valid": False, "errors": 2, "warnings": 0}
    assert data["diagnostics"][1] == {
        "file": str(path),
        "line": 11,
        "column": 55,
        "message": "unknown key 'cuont' in numbers.pools.london (did you mean 'count'?)",
        "severity": "error",
    }


def test_json_of_a_valid_state_has_a_summary(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    code, out = _run("validate", str(path), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert [d["severity"] for d in data["diagnostics"]] == ["warning"]
    assert data["summary"] == {
        "valid": True,
        "errors": 0,
        "warnings": 1,
        "files": [str(path)],
        "resources": {
            "pools": 0,
            "pinned_numbers": 1,
            "inbound_services": 2,
            "outbound_services": 0,
            "relay_routes": 0,
        },
    }


def test_simulate_before_or_after_the_command_needs_no_variables(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    code, out = _run("validate", str(path), env={})
    assert code == 1 and "environment variable ACULAB_API_KEY is not set" in out
    assert _run("validate", str(path), "--simulate", env={})[0] == 0
    assert _run("--simulate", "validate", str(path), env={})[0] == 0


def test_a_directory_and_a_missing_path(tmp_path: Path) -> None:
    write(tmp_path, ACCOUNTS, "account.yaml")
    write(tmp_path, "version: 1\nnumbers: {pinned: {'441908538007': {}}}\n", "numbers.yaml")
    code, out = _run("validate", str(tmp_path))
    assert code == 0 and out.startswith(f"{tmp_path} is valid: 0 pools, 1 pinned number")
    code, out = _run("validate", str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "no such file or directory" in out


def test_the_installed_command_exits_with_the_codes(tmp_path: Path) -> None:
    good, bad = write(tmp_path, VALID, "good.yaml"), write(tmp_path, INVALID, "bad.yaml")
    for path, expected in ((good, 0), (bad, 1)):
        run = subprocess.run(
            [sys.executable, "-m", "reconciler", "validate", str(path), "--no-color"],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", **ENVIRON},
            timeout=60,
        )
        assert run.returncode == expected, run.stderr
        assert "Traceback" not in run.stderr
