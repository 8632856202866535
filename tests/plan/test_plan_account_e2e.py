"""End to end: a saved plan records the account it was made for, and fits no other.

``apply --plan`` refuses a plan made for another endpoint, cloud ID or user (a plan made
under ``--simulate`` included), before it reads or writes anything; every hint prints a
command that works as typed.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from apply.e2e import SECRETS, cli, desired_yaml, explain, serve

pytestmark = pytest.mark.e2e


def test_the_saved_plan_records_the_account_and_no_secret(tmp_path: Path) -> None:
    with serve("demo") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served))
        saved = tmp_path / "plan.json"

        made = cli(tmp_path, "plan", str(path), "--out", str(saved))

        assert made.returncode == 0, explain(made)
        data = json.loads(saved.read_text())
        assert data["account"] == {
            "aculab": {
                "endpoint": served.running.base_url,
                "cloud_id": "1-2-0",
                "username": "ops@example.com",
            },
            "aql": {"endpoint": served.running.aql_url, "username": "example"},
        }
        for secret in SECRETS:
            assert secret not in saved.read_text()
        assert f"`reconciler apply {path} --plan {saved}`" in made.stderr


def test_a_plan_made_for_one_endpoint_is_refused_for_another(tmp_path: Path) -> None:
    with serve("demo") as first, serve("demo") as second:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(first))
        saved = tmp_path / "plan.json"
        assert cli(tmp_path, "plan", str(path), "--out", str(saved)).returncode == 0
        path.write_text(desired_yaml(second))
        second.sim.calls.clear()

        refused = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")

        assert refused.returncode == 1, explain(refused)
        assert "was made for another account" in refused.stderr
        assert first.running.base_url in refused.stderr
        assert second.running.base_url in refused.stderr
        hint = f"`reconciler plan {path} --out {saved}`"
        assert hint in refused.stderr
        assert second.sim.calls == []  # refused before any call
        assert second.writes() == []


def test_a_plan_made_under_simulate_is_refused_for_a_real_endpoint(tmp_path: Path) -> None:
    with serve("demo") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served))
        saved = tmp_path / "plan.json"

        made = cli(tmp_path, "plan", str(path), "--out", str(saved), "--simulate")
        assert made.returncode == 0, explain(made)
        # The hint to apply it is a command that works as typed: with --simulate.
        assert f"`reconciler apply {path} --plan {saved} --simulate`" in made.stderr
        assert (
            "the embedded simulator"
            in json.loads(saved.read_text())["account"]["aculab"]["endpoint"]
        )

        refused = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")

        assert refused.returncode == 1, explain(refused)
        assert "was made for another account" in refused.stderr
        assert "the embedded simulator" in refused.stderr
        assert served.writes() == []

        # ... and under --simulate, as it was made, it applies.
        applied = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes", "--simulate")
        assert applied.returncode == 0, explain(applied)


def test_a_plan_for_another_user_is_refused(tmp_path: Path) -> None:
    with serve("demo") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served))
        saved = tmp_path / "plan.json"
        assert cli(tmp_path, "plan", str(path), "--out", str(saved)).returncode == 0
        path.write_text(desired_yaml(served).replace("ops@example.com", "other@example.com"))

        refused = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")

        assert refused.returncode == 1, explain(refused)
        assert "1-2-0/ops@example.com" in refused.stderr
        assert "1-2-0/other@example.com" in refused.stderr
        assert served.writes() == []


def test_hints_print_commands_that_work_as_typed(tmp_path: Path) -> None:
    # A path with a space: the hint quotes it, so that pasting it works.
    with serve("demo") as served:
        folder = tmp_path / "my desired"
        folder.mkdir()
        path = folder / "desired.yaml"
        path.write_text(desired_yaml(served))
        saved = tmp_path / "plan.json"
        assert cli(tmp_path, "plan", str(path), "--out", str(saved)).returncode == 0
        served.sim.state.services["outbound"]["wakeup"]["description"] = "by hand"

        stale = cli(tmp_path, "apply", str(path), "--plan", str(saved), "--yes")

        assert stale.returncode == 1, explain(stale)
        typed = shlex.join(["reconciler", "plan", str(path), "--out", str(saved)])
        assert f"`{typed}`" in stale.stderr


def test_the_confirmation_hint_is_a_command_that_works_as_typed(tmp_path: Path) -> None:
    with serve("empty") as served:
        path = tmp_path / "desired.yaml"
        path.write_text(desired_yaml(served))

        asked = cli(tmp_path, "apply", str(path), "--allow-release", "--simulate")

        assert asked.returncode == 1, explain(asked)
        typed = f"`reconciler apply {path} --allow-release --yes --simulate`"
        assert typed in asked.stderr
        assert served.writes() == []
