"""Schema defaults: which options of a service configuration are worth writing down.

The server's service schema (``GET /service/v1/schema/{kind}``, draft-07) gives each option's
default. An exported service keeps only the options whose live value differs from it, so the
YAML says what is special about each service and nothing else. Under ``mode: merge`` (the
default) an option left out is not managed, so leaving defaults out plans clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING: Any = object()


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """Follow a local ``$ref`` (``#/definitions/x``); anything else is returned unchanged."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 32:
        ref: str = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = root
        for part in ref[2:].split("/"):
            if not isinstance(target, Mapping) or part not in target:
                return node
            target = target[part]
        node = target
        seen += 1
    return node


def _properties(node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Every property an object schema declares, its ``allOf``/``anyOf``/``oneOf`` parts
    included (the first declaration of a name wins)."""
    props: dict[str, Any] = {}
    stack: list[Any] = [node]
    while stack:
        current = _resolve(stack.pop(0), root)
        if not isinstance(current, Mapping):
            continue
        for name, sub in (current.get("properties") or {}).items():
            props.setdefault(name, sub)
        for key in ("allOf", "anyOf", "oneOf"):
            stack.extend(current.get(key) or ())
        for key in ("then", "else"):
            if key in current:
                stack.append(current[key])
    return props


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The default configuration a schema describes: each property's ``default``, and for an
    object property without one, the defaults of its own properties (when it has any)."""

    def walk(node: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, sub in _properties(node, schema).items():
            sub = _resolve(sub, schema)
            if not isinstance(sub, Mapping):
                continue
            nested = walk(sub)
            default = sub.get("default", _MISSING)
            if isinstance(default, Mapping) and nested:
                # An object's own default and its options' defaults should agree; the
                # options' are the finer, the object's fill what they don't name.
                out[name] = {**default, **nested}
            elif default is not _MISSING:
                out[name] = default
            elif nested:
                out[name] = nested
        return out

    return walk(schema)


def strip_defaults(config: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without the options equal to their default; objects left empty disappear.

    Options the schema gives no default for are kept, except ``null`` values (an unset
    option: nothing to declare).
    """
    out: dict[str, Any] = {}
    for key, value in config.items():
        default = defaults.get(key, _MISSING)
        if isinstance(value, Mapping):
            nested_defaults = default if isinstance(default, Mapping) else {}
            if isinstance(default, Mapping) and _equal(value, default):
                continue
            stripped = strip_defaults(value, nested_defaults)
            if stripped:
                out[key] = stripped
            elif not value and default is _MISSING:
                # An empty object with no default is still information (e.g. {} vs null).
                out[key] = {}
            continue
        if default is not _MISSING and _equal(value, default):
            continue
        if value is None and default is _MISSING:
            continue
        out[key] = value
    return out


def _equal(a: Any, b: Any) -> bool:
    # bool is an int in Python: True must not equal a default of 1.
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
