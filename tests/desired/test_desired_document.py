"""Reading YAML with places kept: marks, duplicate keys, aliases, hostile input."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.desired.document import Diagnostics, parse, show
from reconciler.desired.model import Origin


def _parse(text: str) -> tuple[object, list[str]]:
    diags = Diagnostics(["f.yaml"])
    doc = parse("f.yaml", text, diags, environ={"X": "1"})
    return doc.value, [str(d) for d in diags.sorted()]


def test_places_are_one_based_and_point_at_keys_or_values() -> None:
    diags = Diagnostics(["f.yaml"])
    doc = parse("f.yaml", "a:\n  bb: [1, {c: 2}]\n", diags, environ={})
    assert doc.at(("a", "bb"), key=True) == Origin("f.yaml", 2, 3)
    assert doc.at(("a", "bb")) == Origin("f.yaml", 2, 7)
    assert doc.at(("a", "bb", 1, "c")) == Origin("f.yaml", 2, 15)
    # a path that goes nowhere points at the nearest place that exists
    assert doc.at(("a", "bb", 7)) == Origin("f.yaml", 2, 7)
    assert doc.at(("zz",)) == Origin("f.yaml", 1, 1)


def test_keys_are_the_text_written() -> None:
    value, problems = _parse("441908538007: 1\nyes: 2\n~: 3\n1.5: 4\n")
    assert value == {"441908538007": 1, "yes": 2, "~": 3, "1.5": 4}
    assert problems == []


def test_duplicate_keys_in_one_mapping_are_reported_each() -> None:
    value, problems = _parse("a: 1\nb: 2\na: 3\nc: {x: 1, x: 2}\na: 4\n")
    assert value == {"a": 1, "b": 2, "c": {"x": 1}}
    assert problems == [
        "f.yaml:3:1: error: duplicate key 'a': already given on line 1 of this mapping (YAML "
        "would silently keep only the last)",
        "f.yaml:4:11: error: duplicate key 'x': already given on line 4 of this mapping (YAML "
        "would silently keep only the last)",
        "f.yaml:5:1: error: duplicate key 'a': already given on line 1 of this mapping (YAML "
        "would silently keep only the last)",
    ]


def test_a_key_that_is_a_collection_is_refused() -> None:
    _, problems = _parse("? [a, b]\n: 1\n")
    assert problems == [
        "f.yaml:1:3: error: a key must be a plain name or number, not a list or mapping"
    ]


def test_aliases_are_converted_once_and_bombs_stop_early() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        levels.append(f"l{i}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    start = time.monotonic()
    _, problems = _parse("\n".join(levels) + "\n")
    assert time.monotonic() - start < 30  # a guard against hanging, not a speed assertion
    assert problems == ["f.yaml:6:5: error: aliases expand this file beyond 2,000,000 values"]


_DEEP_SCRIPT = """\
import sys
from reconciler.desired import load
from reconciler.desired.accounts import load_accounts
from reconciler.errors import ValidationFailed
loader = load_accounts if sys.argv[2] == "accounts" else load
try:
    loader(sys.argv[1], environ={})
except ValidationFailed as err:
    print(err.diagnostics[0])
"""


@pytest.mark.parametrize("loader", ["desired", "accounts"])
@pytest.mark.parametrize("where", ["flow", "block"])
def test_very_deep_nesting_is_an_error_not_a_crash(tmp_path: Path, loader: str, where: str) -> None:
    # libyaml composes recursively in C: without the guard this kills the process. Newer
    # PyYAML releases detect some of it themselves, in their own words: whichever layer finds
    # it, the run ends normally with one error, placed on the deep line, about nesting.
    path = tmp_path / "deep.yaml"
    if where == "flow":
        body = "x: " + "[" * 200_000 + "]" * 200_000 + "\n"
    else:
        body = "x:\n" + "".join(" " * i + "- \n" for i in range(1, 3_000))
    path.write_text("aculab:\n  cloud_id: 1-2-0\n  username: u\n  api_key: k\n" + body)
    run = subprocess.run(
        [sys.executable, "-c", _DEEP_SCRIPT, str(path), loader],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    place, _, message = run.stdout.strip().partition(": error: ")
    file, line, _column = place.rsplit(":", 2)
    assert file == str(path), run.stdout
    assert int(line) >= 5, run.stdout  # the nested value, not the accounts above it
    assert "nest" in message.lower(), run.stdout


def test_moderate_nesting_is_reported_at_its_place() -> None:
    _, problems = _parse("a: " + "[" * 70 + "]" * 70 + "\n")
    assert problems == ["f.yaml:1:67: error: the YAML is nested too deeply (more than 64 levels)"]


def test_control_characters_are_placed() -> None:
    _, problems = _parse("a: 1\nb: x\x07y\n")
    assert problems == [
        "f.yaml:2:5: error: invalid YAML: the character U+0007 is not allowed in YAML"
    ]


def test_show_never_quotes_a_secret() -> None:
    from reconciler.desired.document import EnvStr

    assert show("hunter2", "password") == "(sensitive)"
    assert show(1234, "api_key") == "(sensitive)"
    assert show("https://u:hunter2@example.com/x") == "'https://u:(sensitive)@example.com/x'"
    assert show(EnvStr("hunter2", "${SECRET}")) == "'${SECRET}'"
    assert show("x" * 100).endswith("...'")
