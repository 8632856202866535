"""The JSON Schema of the desired state, and its errors as messages written for people.

``schemas/desired-state.schema.json`` is the one description of the format: editors use it
(through the ``# yaml-language-server: $schema=...`` line), and so does the loader. A valid
file, the common case, is checked by a compiled validator (``fastjsonschema`` turns the schema
into Python code once per process; a 20,000-line file takes about 60 ms). Only when that
check fails does :mod:`jsonschema` walk the value again, to collect *every* error with its
path; :func:`problems` turns each into a message and the path of the node it is about.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.desired.document import show
from reconciler.schemas import DESIRED_STATE_SCHEMA, schema_file, shipped_service_schema

SCHEMA_NAME = DESIRED_STATE_SCHEMA

# Keys that people put one level too high (or low): a hint better than a spelling guess.
_BELONGS_UNDER = {
    "pools": "numbers",
    "pinned": "numbers",
    "count": "a pool under numbers.pools",
    "max_purchase": "safety",
    "max_delete_percent": "safety",
    "max_update_percent": "safety",
    "min_existing": "safety",
    "cloud_id": "aculab",
    "api_key": "aculab",
    "ignore": "prune or drift",
}
_SECTION_ALIASES = {
    "inbound": "inbound_services",
    "outbound": "outbound_services",
    "services": "inbound_services or outbound_services",
    "relay": "relay_routes",
    "routes": "relay_routes",
}

_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty",
}


def schema_path(name: str = SCHEMA_NAME) -> Path:
    """A schema file (the desired state's by default); FileNotFoundError when missing."""
    return schema_file(name)


@functools.cache
def service_options(kind: str) -> frozenset[str]:
    """The top-level options of an inbound or outbound service configuration, from the copy
    of the vendor's schema in ``schemas/`` (the one the simulator serves); empty when it is
    missing. The server's own schema is the authority: this only catches typos early."""
    try:
        data = shipped_service_schema(kind)
    except (OSError, ValueError):
        return frozenset()
    properties = data.get("properties") if isinstance(data, dict) else None
    return frozenset(properties) if isinstance(properties, dict) else frozenset()


@functools.cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return data


@functools.cache
def _fast_validator() -> Callable[[Any], Any]:
    import fastjsonschema

    # A copy: compiling rewrites the $refs of the schema it is given, and the cached schema is
    # what the full validator words its errors from. Nothing may be written into the document
    # being checked: no defaults filled in.
    validate: Callable[[Any], Any] = fastjsonschema.compile(
        copy.deepcopy(schema()), use_default=False
    )
    return validate


@functools.cache
def _full_validator() -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(schema())


def is_valid(value: Any) -> bool:
    """True when ``value`` satisfies the schema (fast: compiled)."""
    import fastjsonschema

    try:
        _fast_validator()(value)
    except fastjsonschema.JsonSchemaException:
        return False
    except (TypeError, ValueError, RecursionError):
        # Any surprise from generated code: let the thorough validator decide.
        return False
    return True


@dataclass(frozen=True)
class Problem:
    """One schema error: ``path`` to the node, ``at_key`` to point at the key rather than the
    value, and the message."""

    path: tuple[str | int, ...]
    message: str
    at_key: bool = False


def problems(value: Any) -> list[Problem]:
    """Every schema error of ``value``, as messages for people. Empty when valid."""
    if is_valid(value):
        return []
    found: list[Problem] = []
    for error in _full_validator().iter_errors(value):
        found.extend(_explain(error))
    return found


def where(path: tuple[str | int, ...]) -> str:
    """``numbers.pools.london.count``, for a message; quoted where a name has a dot or space."""
    parts: list[str] = []
    for seg in path:
        if isinstance(seg, int):
            parts.append(f"[{seg}]")
            continue
        text = seg if seg and not any(c in seg for c in ". []'\"") else repr(seg)
        parts.append(("." if parts else "") + text)
    return "".join(parts) or "the file"


def _explain(error: Any) -> Iterator[Problem]:
    path = tuple(error.absolute_path)
    keyword = error.validator
    instance = error.instance
    expected = error.validator_value
    key = path[-1] if path else None
    subject = where(path)

    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        for name in instance:
            if name not in allowed:
                yield Problem((*path, name), _unknown_key(name, path, allowed), at_key=True)
        return
    if keyword == "required" and isinstance(instance, Mapping):
        for name in expected:
            if name not in instance:
                yield Problem(path, f"{subject} is missing the required key {name!r}", at_key=True)
        return
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(k, k) for k in kinds)
        yield Problem(path, f"{subject} must be {wanted}, not {_kind(instance, key)}")
        return
    if keyword == "enum":
        choices = [str(c) for c in expected if c != "mvno"]
        message = f"{subject} must be one of {', '.join(choices)}, not {show(instance, key)}"
        if isinstance(instance, str):
            close = difflib.get_close_matches(instance, choices, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        yield Problem(path, message)
        return
    if keyword == "const":
        yield Problem(path, f"{subject} must be {show(expected)}, not {show(instance, key)}")
        return
    if keyword == "minimum":
        lowest = "0 or more" if expected == 0 else f"at least {expected}"
        yield Problem(path, f"{subject} must be {lowest}, not {show(instance, key)}")
        return
    if keyword == "maximum":
        yield Problem(path, f"{subject} must be at most {expected}, not {show(instance, key)}")
        return
    if keyword == "minLength":
        yield Problem(path, f"{subject} must not be empty")
        return
    if keyword == "pattern":
        rule = error.schema.get("patternErrorMessage") or f"must match {expected}"
        yield Problem(path, f"{subject} {rule}, not {show(instance, key)}")
        return
    # A keyword the schema doesn't use today: say which rule, never dump the value.
    yield Problem(path, f"{subject} does not satisfy the schema rule {keyword!r}")


def _kind(value: Any, key: str | int | None) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return show(value)
    if isinstance(value, str):
        return f"the string {show(value, key)}"
    if isinstance(value, int | float):
        return f"the number {show(value, key)}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _unknown_key(name: str, path: tuple[str | int, ...], allowed: list[str]) -> str:
    inside = f" in {where(path)}" if path else ""
    message = f"unknown key {show(name)}{inside}"
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean {close[0]!r}?)"
    if not path and name in _SECTION_ALIASES:
        return f"{message} (did you mean {_SECTION_ALIASES[name]!r}?)"
    home = _BELONGS_UNDER.get(name)
    if home and (not path or path[-1] != home):
        return f"{message} (it belongs under {home})"
    if len(path) == 3 and path[:2] == ("numbers", "pinned"):
        return f"{message}: a pinned number takes no options (write {{}})"
    if not allowed:
        return f"{message}: this mapping takes no keys"
    return f"{message}; expected one of: {', '.join(allowed)}"
