"""Every desired-state example validates: with its variables set, and under --simulate
without them. Each file says which schema it follows, so that editors check it too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.desired import load
from reconciler.desired.schema import schema_path

EXAMPLES = Path(__file__).parents[2] / "examples"
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _is_desired_state(path: Path) -> bool:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    match = SCHEMA_LINE.match(first)
    return bool(match and match.group(1).endswith("desired-state.schema.json"))


def _examples() -> list[Path]:
    found = [p for p in sorted(EXAMPLES.glob("*.yaml")) if _is_desired_state(p)]
    for directory in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        if any(_is_desired_state(p) for p in directory.glob("*.yaml")):
            found.append(directory)
    return found


ALL = _examples()


def _files(example: Path) -> list[Path]:
    return sorted(example.glob("*.yaml")) if example.is_dir() else [example]


def test_the_quickstart_and_the_multi_file_example_are_there() -> None:
    names = {p.name for p in ALL}
    assert {"quickstart.yaml", "multi-file"} <= names


@pytest.mark.parametrize("example", ALL, ids=[p.name for p in ALL])
def test_every_file_names_the_schema_by_a_path_that_exists(example: Path) -> None:
    for file in _files(example):
        match = SCHEMA_LINE.match(file.read_text(encoding="utf-8").split("\n", 1)[0])
        assert match, f"{file} does not start with the yaml-language-server $schema line"
        assert (file.parent / match.group(1)).resolve() == schema_path().resolve()


@pytest.mark.parametrize("example", ALL, ids=[p.name for p in ALL])
def test_validates_with_its_variables_set(example: Path) -> None:
    names = {n for f in _files(example) for n in VARIABLE.findall(f.read_text("utf-8"))}
    environ = {name: f"example-value-of-{name.lower()}" for name in names}
    result = load(example, environ=environ)
    assert result.warnings == []
    state = result.state
    assert state.aculab is not None or state.aql is not None


@pytest.mark.parametrize("example", ALL, ids=[p.name for p in ALL])
def test_validates_under_simulate_without_variables(example: Path) -> None:
    assert load(example, environ={}, simulate=True).warnings == []


def test_the_quickstart_declares_what_the_demo_shows() -> None:
    state = load(EXAMPLES / "quickstart.yaml", environ={}, simulate=True).state
    (pool,) = state.pools.values()
    assert (pool.location.country, pool.location.region, pool.count) == (
        "United Kingdom",
        "London",
        3,  # the demo account has two: `make demo` shows a purchase and its new service
    )
    assert pool.inbound is not None
    assert list(state.pinned) == ["441908538007"]
    assert "sales-sip" in state.inbound_services
    assert set(state.outbound_services) == {"wakeup"}
    assert len(state.relay_routes) == 2
