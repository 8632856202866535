"""The CI recipes and the pre-commit hook: valid YAML, the three jobs each recipe promises,
and every `reconciler ...` command line in them run for real (with --simulate appended,
against a copy of an example setup), in the order a pipeline would run them."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from drift.support import reconciler

ROOT = Path(__file__).parents[2]
CI = ROOT / "examples" / "ci"
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}
# What each command may exit with when the pipeline works as intended.
GOOD_EXITS = {"validate": {0}, "plan": {0, 2}, "apply": {0}, "drift": {0, 2}}


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _expand(token: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, token)


def _commands(scripts: list[str], variables: Mapping[str, str]) -> list[list[str]]:
    """Every `reconciler ...` invocation in the shell scripts, arguments only, with the
    pipeline's variables expanded and redirections cut off."""
    found: list[list[str]] = []
    for script in scripts:
        for line in script.splitlines():
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:
                continue
            segment: list[str] = []
            for token in [*tokens, ";"]:
                if token in SHELL_OPERATORS or token.startswith((">", "2>")):
                    if segment and segment[0] == "reconciler":
                        found.append([_expand(t, variables) for t in segment[1:]])
                    segment = [] if token in {"|", "||", "&&", ";", "&"} else ["<redirect>"]
                    continue
                segment.append(token)
    return found


def _github() -> tuple[dict[str, Any], list[list[str]]]:
    data = _load(CI / "github-actions.yml")
    scripts = [
        step["run"]
        for job in data["jobs"].values()
        for step in job["steps"]
        if isinstance(step.get("run"), str)
    ]
    return data, _commands(scripts, data["env"])


def _gitlab() -> tuple[dict[str, Any], list[list[str]]]:
    data = _load(CI / "gitlab-ci.yml")
    scripts = [
        line
        for job in data.values()
        if isinstance(job, dict) and "script" in job
        for line in job["script"]
    ]
    return data, _commands(scripts, data["variables"])


@pytest.fixture
def pipeline_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A repository as the recipes expect it: the desired state in telephony/."""
    shutil.copytree(ROOT / "examples" / "support-line", tmp_path / "telephony")
    # The copies sit one level deeper than the originals did.
    for path in (tmp_path / "telephony").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("$schema=../../schemas/", f"$schema={ROOT}/schemas/"), encoding="utf-8"
        )
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _run_all(commands: list[list[str]]) -> list[str]:
    ran = []
    for args in commands:
        run = reconciler(*args, "--simulate", env={})
        assert run.code in GOOD_EXITS[args[0]], (args, run.output)
        ran.append(args[0])
    return ran


def test_github_actions_has_the_three_workflows() -> None:
    data, _ = _github()
    # YAML 1.1 reads a bare `on` as true
    triggers = data["on"] if "on" in data else data[True]  # type: ignore[index]
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    jobs = data["jobs"]
    assert "pull_request" in jobs["plan"]["if"]
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert "refs/heads/main" in jobs["plan-main"]["if"]
    assert jobs["apply"]["needs"] == "plan-main"
    uploads = [s for s in jobs["plan-main"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "plan.json"
    # The full plan and drift report, which markdown names when it leaves anything out.
    for job, kept in (("plan", "plan.json"), ("drift", "drift.json")):
        steps = jobs[job]["steps"]
        assert any(kept in s.get("with", {}).get("path", "") for s in steps if "uses" in s)
    assert "schedule" in jobs["drift"]["if"]
    assert any("gh issue create" in s.get("run", "") for s in jobs["drift"]["steps"])


def test_github_actions_commands_run(pipeline_dir: Path) -> None:
    _, commands = _github()
    assert [c[0] for c in commands] == [
        "validate",
        "plan",
        "validate",
        "plan",
        "apply",
        "drift",
    ]
    assert [
        "plan",
        "telephony/",
        "--format",
        "markdown",
        "--detailed-exitcode",
        "--out",
        "plan.json",
    ] in commands
    # A saved plan is applied without --yes: it was reviewed, and CI has no terminal.
    assert ["apply", "telephony/", "--plan", "plan.json"] in commands
    _run_all(commands)
    assert (pipeline_dir / "plan.json").stat().st_mode & 0o077 == 0
    assert json.loads((pipeline_dir / "drift.json").read_text(encoding="utf-8"))["in_sync"]


def test_gitlab_ci_has_the_three_workflows() -> None:
    data, _ = _gitlab()
    assert data["stages"] == ["validate", "plan", "apply", "drift"]
    assert "merge_request_event" in data["plan:merge-request"]["rules"][0]["if"]
    assert data["plan:main"]["artifacts"]["paths"] == ["plan.json"]
    assert "plan.json" in data["plan:merge-request"]["artifacts"]["paths"]
    assert "drift.json" in data["drift"]["artifacts"]["paths"]
    assert data["apply"]["needs"] == ["plan:main"]
    assert data["apply"]["resource_group"] == data["plan:main"]["resource_group"]
    assert "schedule" in data["drift"]["rules"][0]["if"]


def test_gitlab_ci_commands_run(pipeline_dir: Path) -> None:
    _, commands = _gitlab()
    assert [c[0] for c in commands] == ["validate", "plan", "plan", "apply", "drift"]
    _run_all(commands)


def test_pre_commit_hook(pipeline_dir: Path) -> None:
    hooks = _load(ROOT / ".pre-commit-hooks.yaml")
    (hook,) = hooks
    assert hook["id"] == "reconciler-validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    config = _load(CI / "pre-commit-config.yaml")
    (used,) = config["repos"][0]["hooks"]
    assert used["id"] == hook["id"]
    entry = shlex.split(hook["entry"])
    assert entry[:2] == ["reconciler", "validate"]
    # As pre-commit runs it: entry, then args; no secret set on a developer's machine.
    ok = reconciler(*entry[1:], *used["args"], env={})
    assert ok.code == 0, ok.output
    (pipeline_dir / "telephony" / "numbers.yaml").write_text(
        "version: 1\nnumbers:\n  pools:\n    x: {country: United Kingdom, count: 1}\n",
        encoding="utf-8",
    )
    bad = reconciler(*entry[1:], *used["args"], env={})
    assert bad.code == 1
    assert "numbers.yaml:4:" in bad.output


@pytest.mark.parametrize("recipe", ["github-actions.yml", "gitlab-ci.yml"])
def test_recipes_never_install_reconciler_by_its_bare_pypi_name(recipe: str) -> None:
    # "reconciler" on PyPI is an unrelated project: a recipe that installs by that name would
    # run someone else's code with the account's keys in its environment.
    text = (CI / recipe).read_text("utf-8")
    installs = [
        line
        for line in text.splitlines()
        if "pip install" in line and not line.lstrip().startswith("#")
    ]
    assert installs, "the recipe installs reconciler somewhere"
    assert all("${RECONCILER_PACKAGE}" in line for line in installs)
    assert "reconciler @ git+" in text


def test_the_recipes_carry_the_journal_between_runs() -> None:
    """The journal is the purchase ledger (docs/safety.md): a fresh runner restores it before
    it plans or applies, and every apply saves it, failed or interrupted ones included; one
    plan-and-apply of the account runs at a time across runners."""
    data, _ = _github()
    jobs = data["jobs"]
    for name in ("plan-main", "apply"):
        steps = jobs[name]["steps"]
        uses = [s.get("uses", "") for s in steps]
        restore = next(i for i, u in enumerate(uses) if u.startswith("actions/cache/restore"))
        first_command = next(
            i
            for i, s in enumerate(steps)
            if "reconciler plan" in s.get("run", "") or "reconciler apply" in s.get("run", "")
        )
        assert restore < first_command, name
        assert "journal.jsonl" in steps[restore]["with"]["path"]
        assert jobs[name]["concurrency"]["group"] == "reconciler-apply"
    saves = [
        s for s in jobs["apply"]["steps"] if s.get("uses", "").startswith("actions/cache/save")
    ]
    assert saves and saves[0]["if"] == "always()" and "journal.jsonl" in saves[0]["with"]["path"]

    gitlab, _ = _gitlab()
    for name, policy in (("plan:main", "pull"), ("apply", "pull-push")):
        cache = gitlab[name]["cache"]
        assert cache["policy"] == policy and cache["when"] == "always", name
        assert any("journal.jsonl" in p for p in cache["paths"])
        assert gitlab[name]["resource_group"] == "telephony"
