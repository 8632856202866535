"""The simulator's compiled validator (the fast path of every service write) accepts exactly
what jsonschema accepts, so a write is never let through that the worded check would refuse."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.simulator import services

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=100_000),
    st.sampled_from(["", "REST", "UAS", "GET", "POST", "haha", "https://app.example.com/x"]),
    st.text(max_size=300),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["address", "method", "x"]), st.text(max_size=5), max_size=2),
)


def _paths(config: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(config, dict):
        for key, value in config.items():
            out += _paths(value, (*prefix, key))
    return out


def _jsonschema_only(kind: services.Kind, config: Any) -> bool:
    return not list(jsonschema.Draft7Validator(services.service_schema(kind)).iter_errors(config))


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(services.KINDS),
    rest=st.booleans(),
    edits=st.lists(st.tuples(st.integers(min_value=0), _VALUES), max_size=3),
    drop=st.lists(st.integers(min_value=0), max_size=2),
)
def test_fast_path_agrees_with_jsonschema(
    kind: services.Kind, rest: bool, edits: list[tuple[int, Any]], drop: list[int]
) -> None:
    body: dict[str, Any] = {"application_type": "REST" if rest else "UAS"}
    if rest:
        body["rest"] = {"first_page": {"address": "https://app.example.com/first"}}
    else:
        body["uas"] = {"application_name": "app"}
    if kind == "outbound":
        body["service_password"] = "a-password"
    config = services.fill_defaults(kind, body)
    for index, value in edits:
        paths = _paths(config)
        *parents, last = paths[index % len(paths)]
        node = config
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(value)
    for index in drop:
        paths = _paths(config)
        if paths:
            *parents, last = paths[index % len(paths)]
            node = config
            for part in parents:
                node = node[part]
            node.pop(last, None)
    before = copy.deepcopy(config)
    problems = services.validate(kind, config)
    assert config == before  # checking never fills in defaults
    assert (problems == []) == _jsonschema_only(kind, config)
