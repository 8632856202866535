"""The fleet recipes in examples/ci (GitHub Actions, GitLab CI, Kubernetes CronJobs): each
passes its engine's linter and a broken copy fails it, and the `reconciler` command lines they
run work, shard by shard then the merge, against the simulator and examples/fleet/."""

from __future__ import annotations

import glob
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from drift.support import reconciler

ROOT = Path(__file__).parents[2]
CI = ROOT / "examples" / "ci"
BIN = Path(sys.executable).parent
GITHUB = CI / "github-actions-fleet.yml"
GITLAB = CI / "gitlab-ci-fleet.yml"
KUBERNETES = CI / "kubernetes-fleet.yaml"
LINTERS = {
    GITHUB: ["check-jsonschema", "--builtin-schema", "vendor.github-workflows"],
    GITLAB: ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci"],
    KUBERNETES: ["kubernetes-validate", "--strict"],
}


def _lint(recipe: Path, path: Path) -> subprocess.CompletedProcess[str]:
    tool, *args = LINTERS[recipe]
    return subprocess.run(
        [str(BIN / tool), *args, str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("recipe", list(LINTERS), ids=lambda p: p.name)
def test_each_recipe_passes_its_linter(recipe: Path) -> None:
    run = _lint(recipe, recipe)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    ("recipe", "good", "bad"),
    [
        (GITHUB, "runs-on: ubuntu-latest", "runs-onn: ubuntu-latest"),
        (GITLAB, "when: always\n  needs:", "when: sometimes\n  needs:"),
        (KUBERNETES, "backoffLimit: 1", "backoffLimit: once"),
    ],
    ids=["github", "gitlab", "kubernetes"],
)
def test_a_broken_recipe_fails_its_linter(
    recipe: Path, good: str, bad: str, tmp_path: Path
) -> None:
    text = recipe.read_text()
    assert good in text
    broken = tmp_path / recipe.name
    broken.write_text(text.replace(good, bad, 1))
    assert _lint(recipe, broken).returncode != 0


def _scripts(recipe: Path) -> list[str]:
    """Every shell script in a recipe (GitHub `run:`, GitLab `script:`, the ConfigMap's)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "run" and isinstance(value, str):
                    out.append(value)
                elif key == "script" and isinstance(value, list):
                    out.extend(str(v) for v in value)
                elif key == "drift-shard.sh" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for doc in yaml.safe_load_all(recipe.read_text()):
        walk(doc)
    return out


def _commands(recipe: Path) -> list[list[str]]:
    found = []
    for script in _scripts(recipe):
        for line in script.splitlines():
            line = line.strip()
            if line.startswith(("- reconciler ", "reconciler ")):
                line = line.removeprefix("- ")
                line = re.split(r"\s(?:\|\||>|&&|\|)\s", line)[0]
                found.append(shlex.split(line)[1:])
    return found


def _expand(args: list[str], variables: dict[str, str], root: Path) -> list[str]:
    out: list[str] = []
    for arg in args:
        arg = re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), arg)
        # the CronJob's container paths, inside the test's directory
        for inside in ("/work/", "/accounts/"):
            if arg.startswith(inside):
                arg = str(root / inside.strip("/")) + "/" + arg[len(inside) :]
        if any(c in arg for c in "*?["):
            pattern = arg if Path(arg).is_absolute() else str(root / arg)
            matches = sorted(glob.glob(pattern))
            out.extend(matches or [arg])
        else:
            out.append(arg)
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("recipe", list(LINTERS), ids=lambda p: p.name)
def test_the_recipe_s_commands_run_shard_by_shard_then_merge(
    recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples" / "fleet" / "accounts", tmp_path / "accounts")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path)
    commands = _commands(recipe)
    shards = [c for c in commands if c[0] in ("plan", "drift", "$COMMAND")]
    merges = [c for c in commands if c[0] == "report"]
    assert shards and merges, commands
    for k in ("1", "2", "3", "4"):
        variables = {"COMMAND": "drift", "SHARD": k, "SHARDS": "4"}
        for args in shards:
            args = _expand(args, variables, tmp_path)
            if args[0] == "$COMMAND":
                args[0] = "drift"
            run = reconciler(*args, "--simulate")
            assert run.code in (0, 2), (args, run.output)
        if recipe == GITHUB:  # each job uploads reports/; the merge job downloads reports-K/
            assert (tmp_path / "reports").is_dir()  # made even for a shard with no account
            (tmp_path / "reports").rename(tmp_path / f"reports-{k}")
    if recipe == GITHUB:
        (tmp_path / "reports").mkdir()
        for k in ("1", "2", "3", "4"):
            (tmp_path / f"reports-{k}").rename(tmp_path / "reports" / f"reports-{k}")
    for args in merges:
        run = reconciler(*_expand(args, {}, tmp_path))
        assert run.code in (0, 2), (args, run.output)
        assert "3 accounts" in run.stdout
