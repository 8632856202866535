"""Property tests: whatever the input, ``load`` answers with a state or ValidationFailed.

Never another exception (a traceback is never the answer to bad input), and every diagnostic
has a real place. Inputs: arbitrary text and bytes, YAML-shaped noise, and random mutations of
the quickstart example, both of its structure and of its text. A second property: the compiled
validator (the fast path) and jsonschema (which lists the errors) agree on every document.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load, schema
from reconciler.errors import ValidationFailed

QUICKSTART = Path(__file__).parents[2] / "examples" / "quickstart.yaml"
TEXT = QUICKSTART.read_text(encoding="utf-8")
BASE = yaml.safe_load(TEXT)
ENVIRON = {"ACULAB_API_KEY": "k" * 8, "AQL_PASSWORD": "p" * 8, "WAKEUP_PASSWORD": "w" * 8}

SETTINGS = settings(
    max_examples=int(os.environ.get("RECONCILER_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings that mean something somewhere in the format.
INTERESTING = st.sampled_from([
    "", "${X}", "${ACULAB_API_KEY}", "$${", "${", "${bad name}", "+44 (0)1908 538007", "0044",
    "441908538007", "1001", "mvno", "null-route", "email", "httppost", "tollfree", "replace",
    "merge", "support-app", "https://u:p@x.example.com/", "a@b.c", "a,b", "-1", "1e3", "~",
    "yes", "<<", "&a", "*a", "!!binary", "version", "template",
])  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | INTERESTING
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=10) | INTERESTING, inner, max_size=3)
    ),
    max_leaves=8,
)
YAMLISH = st.text(alphabet=st.sampled_from(list("ab1 \n\t:-[]{},&*!|>'\"#%@`$~?<=0+.")) ,
                  max_size=200)  # fmt: skip


def _must_not_raise(path: Path) -> None:
    try:
        load(path, environ=ENVIRON)
    except ValidationFailed as err:
        assert err.diagnostics
        for d in err.diagnostics:
            assert d.line >= 1 and d.column >= 1 and d.message
            assert d.severity in ("error", "warning")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for seg in path[:-1]:
        doc = doc[seg]
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            if draw(st.booleans()):
                doc = draw(VALUES)
            continue
        parent, last = _parent(doc, path), path[-1]
        op = draw(st.sampled_from(["replace", "delete", "rename", "insert"]))
        if op == "replace":
            parent[last] = draw(VALUES)
        elif op == "delete":
            del parent[last]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12) | INTERESTING)] = parent.pop(last)
        elif op == "insert" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12) | INTERESTING)] = draw(VALUES)
        elif op == "insert":
            parent.insert(last, draw(VALUES))
    return doc


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _must_not_raise(path)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    _must_not_raise(path)


@SETTINGS
@given(text=YAMLISH)
def test_yaml_shaped_noise(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\n" + text, encoding="utf-8")
    _must_not_raise(path)


@SETTINGS
@given(doc=mutated())
def test_structural_mutations_of_a_valid_file(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _must_not_raise(path)


@SETTINGS
@given(
    cut=st.integers(min_value=0, max_value=len(TEXT)),
    length=st.integers(min_value=0, max_value=40),
    insert=YAMLISH | INTERESTING,
)
def test_text_mutations_of_a_valid_file(tmp_path: Path, cut: int, length: int, insert: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(TEXT[:cut] + insert + TEXT[cut + length :], encoding="utf-8")
    _must_not_raise(path)


@SETTINGS
@given(doc=mutated())
def test_the_fast_and_the_thorough_validator_agree(doc: Any) -> None:
    thorough = not list(schema._full_validator().iter_errors(doc))
    assert schema.is_valid(doc) == thorough
    assert (schema.problems(doc) == []) == thorough
