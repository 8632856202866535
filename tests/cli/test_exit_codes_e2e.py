"""End to end: the plan's exit code predicts apply's, and --format json always prints a
document on stdout, for errors and refusals too.

``plan`` exits 3 where ``apply`` with the same flags would refuse: a blocked release (no
``--allow-release``) as well as a safety limit (no ``--force``). With ``--format json`` an
error or a refusal is ``{"error": {"message", "hint", "file"?, "line"?, "column"?}}`` on
stdout (``schemas/error.schema.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from apply.e2e import cli, desired_yaml, explain, serve

pytestmark = pytest.mark.e2e

ERROR_SCHEMA = json.loads(
    (Path(__file__).parents[2] / "schemas" / "error.schema.json").read_text(encoding="utf-8")
)
PRUNE = "prune: {numbers: true}\n"


def _error(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    jsonschema.validate(document, ERROR_SCHEMA)
    error: dict[str, Any] = document["error"]
    return error


def test_a_blocked_release_exits_3_in_plan_as_in_apply(tmp_path: Path) -> None:
    with serve("demo") as served:
        # The demo account has numbers no pool or pin names: prune releases them.
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served, extra=PRUNE))

        plan = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        apply = cli(tmp_path, "apply", str(path), "--yes")

        assert plan.returncode == 3, explain(plan)
        assert "Refused: the plan releases" in plan.stderr
        assert "--allow-release" in plan.stderr
        assert apply.returncode == 3, explain(apply)
        assert served.writes() == []

        # With the flag apply will get, the plan is a plan of pending changes, and apply runs.
        allowed = cli(tmp_path, "plan", str(path), "--detailed-exitcode", "--allow-release")
        assert allowed.returncode == 2, explain(allowed)
        saved = tmp_path / "plan.json"
        made = cli(tmp_path, "plan", str(path), "--allow-release", "--out", str(saved))
        assert made.returncode == 0, explain(made)
        assert f"--plan {saved} --allow-release`" in made.stderr  # the command, as typed
        done = cli(tmp_path, "apply", str(path), "--yes", "--allow-release")
        assert done.returncode == 0, explain(done)


def test_a_safety_limit_exits_3_in_plan_as_in_apply_and_force_lifts_it(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served, extra="safety: {max_purchase: 1}\n"))

        plan = cli(tmp_path, "plan", str(path), "--detailed-exitcode")
        forced = cli(tmp_path, "plan", str(path), "--detailed-exitcode", "--force")
        apply = cli(tmp_path, "apply", str(path), "--yes")

        assert plan.returncode == 3, explain(plan)
        assert forced.returncode == 2, explain(forced)
        assert apply.returncode == 3, explain(apply)
        assert served.purchased() == []


def test_plan_json_prints_an_error_document_at_the_place(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = tmp_path / "desired.yaml"
        text = desired_yaml(served).replace(
            'rest: {first_page: {address: "https://app.example.com/sales"}}',
            'rest: {first_page: {address: "https://app.example.com/sales", method: HAHA}}',
        )
        path.write_text(text)

        result = cli(tmp_path, "plan", str(path), "--format", "json")

        assert result.returncode == 1, explain(result)
        error = _error(result.stdout)
        line = next(n for n, x in enumerate(text.splitlines(), 1) if "HAHA" in x)
        assert (error["file"], error["line"]) == (str(path), line)
        assert "rest.first_page.method" in error["message"]
        assert error["hint"]
        assert "Error:" in result.stderr  # people still read stderr


def test_an_invalid_desired_state_is_a_json_error_with_its_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "desired.yaml"
    path.write_text(
        "version: 1\naculab: {cloud_id: 1-2-0, username: a@b.c, api_key: k}\nnumbrs: {}\n"
    )

    for command in ("plan", "drift"):
        result = cli(tmp_path, command, str(path), "--format", "json", "--simulate")

        assert result.returncode == 1, explain(result)
        error = _error(result.stdout)
        assert (error["file"], error["line"], error["column"]) == (str(path), 3, 1)
        assert error["diagnostics"] and error["diagnostics"][0]["line"] == 3


def test_an_apply_refused_by_a_safety_rule_prints_a_json_error(tmp_path: Path) -> None:
    with serve("demo") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served, extra=PRUNE))

        result = cli(tmp_path, "apply", str(path), "--yes", "--format", "json")

        assert result.returncode == 3, explain(result)
        error = _error(result.stdout)
        assert "releases" in error["message"] and "--allow-release" in error["hint"]
        assert "file" not in error


def test_an_unreachable_account_is_a_json_error_too(tmp_path: Path) -> None:
    with serve("empty") as served:
        text = desired_yaml(served)
    # The simulator is gone: the endpoint refuses connections.
    path = tmp_path / "desired.yaml"
    path.write_text(text)

    result = cli(tmp_path, "drift", str(path), "--format", "json")

    assert result.returncode == 1, explain(result)
    error = _error(result.stdout)
    assert error["message"] and "file" not in error
