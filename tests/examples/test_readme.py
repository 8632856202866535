"""The README and the pages of docs/ are a user guide that must stay true: the five-minute tour
runs against the simulator, the YAML reference covers every key of the schema, the command
table covers every command, and every relative link points at a file that exists."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from drift.support import reconciler

from reconciler.cli import cli
from reconciler.drift import IgnoreRule

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {path: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
GUIDE = "\n".join([README, *PAGES.values()])
SCHEMA = json.loads((ROOT / "schemas" / "desired-state.schema.json").read_text(encoding="utf-8"))


def _section(title: str) -> str:
    for text in (README, *PAGES.values()):
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        if match:
            return match.group(1)
    raise AssertionError(f"neither the README nor docs/ has a section {title!r}")


def _schema_keys(node: object) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            keys.add(name)
            keys |= _schema_keys(sub)
        for sub in (node.get("definitions") or {}).values():
            keys |= _schema_keys(sub)
    return keys


def test_the_first_section_is_the_two_commands() -> None:
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert sections[0] == "Two commands"
    two = _section("Two commands")
    assert "make demo" in two and "make test" in two


def test_every_schema_key_is_in_the_yaml_reference() -> None:
    reference = _section("YAML reference")
    # The key column: `numbers.pools.<name>.count` documents `count`, `templates.<name>`
    # documents `templates`.
    documented: set[str] = set()
    for cell in re.findall(r"^\| ([^|]+) \|", reference, re.M):
        for span in re.findall(r"`([^`]+)`", cell):
            named = [p for p in span.split(".") if not p.startswith("<")]
            if named:
                documented.add(named[-1])
    missing = sorted(_schema_keys(SCHEMA) - documented)
    assert missing == [], f"keys of the schema missing from the README reference: {missing}"


def test_every_command_is_in_the_command_table() -> None:
    table = _section("Commands")
    for name, command in cli.commands.items():
        names = [name]
        sub = getattr(command, "commands", None)
        if sub:
            names = [f"{name} {s}" for s in sub]
        for full in names:
            assert f"`reconciler {full}" in table, f"`reconciler {full}` is not in the table"
    for code in ("`0`", "`1`", "`2`", "`3`"):
        assert code in table


def test_drift_rules_in_the_readme_parse() -> None:
    drift = _section("Drift")
    rules = re.findall(r"^\| `([^`]+)` \|", drift, re.M)
    assert len(rules) >= 4
    for rule in rules:
        IgnoreRule.parse(rule)


def test_completion_is_documented() -> None:
    section = _section("Shell completion")
    assert "_RECONCILER_COMPLETE=bash_source reconciler" in section


def test_relative_links_exist() -> None:
    for base, text in [(ROOT, README), *((path.parent, page) for path, page in PAGES.items())]:
        for target in re.findall(r"\]\(((?!https?://|#)[^)]+)\)", text):
            assert (base / target.partition("#")[0]).exists(), (base, target)


def _anchors(text: str) -> set[str]:
    titles = re.findall(r"^#+ (.+)$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", t.lower()).replace(" ", "-") for t in titles}


def test_anchors_exist() -> None:
    pages = {ROOT / "README.md": README, **PAGES}
    for path, text in pages.items():
        for target, anchor in re.findall(r"\]\(((?!https?://)[^)#]*)#([^)]+)\)", text):
            page = (path.parent / target).resolve() if target else path
            assert anchor in _anchors(pages[page]), (path.name, target, anchor)


def test_the_readme_is_a_front_page() -> None:
    # What, two commands, install, tour, and where the rest is: the reference lives in docs/.
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert "Documentation" in sections
    assert len(README) < 12_000
    for page in PAGES:
        assert f"(docs/{page.name}" in README, f"the README does not link docs/{page.name}"


def _tour_commands() -> list[tuple[dict[str, str], list[str], int]]:
    block = re.search(r"```sh\n(.*?)```", _section("Five-minute tour"), re.S)
    assert block
    text = block.group(1).replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        expected = re.search(r"#\s*exit (\d)", line)
        tokens = shlex.split(line, comments=True)
        env: dict[str, str] = {}
        while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
            name, _, value = tokens.pop(0).partition("=")
            env[name] = value
        if tokens and tokens[0] == "reconciler":
            commands.append((env, tokens[1:], int(expected.group(1)) if expected else 0))
    return commands


def test_the_five_minute_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    commands = _tour_commands()
    assert len(commands) >= 8
    seen = {args[0] for _, args, _ in commands}
    assert {"validate", "plan", "apply", "drift", "export"} <= seen
    for env, args, expected in commands:
        run = reconciler(*args, env=env)
        assert run.code == expected, (args, run.output)
