"""Reading YAML with places kept: marks, duplicate keys, aliases, hostile input."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

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


def test_very_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    # libyaml composes recursively in C: without the guard this kills the process.
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nx: " + "[" * 200_000 + "]" * 200_000 + "\n")
    script = (
        "import sys\n"
        "from reconciler.desired import load\n"
        "from reconciler.errors import ValidationFailed\n"
        "try:\n"
        "    load(sys.argv[1], environ={})\n"
        "except ValidationFailed as err:\n"
        "    print(err.diagnostics[0])\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (
        f"{path}:2:67: error: the YAML is nested too deeply (more than 64 levels)"
    )


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
