"""Service configurations: the vendor's JSON objects, the one merge rule they share, and the
one reading of a service schema's defaults.

The same merge rule serves a template under a service (the loader), defaults under a declared
configuration (the planner's replace mode), a PATCH body over a live configuration (the dry
run, and the simulator's modify): an object merges into an object key by key; anything else,
``None`` included, replaces the value. It is the vendor's documented PATCH behaviour ("the
new configuration is effectively merged into the existing configuration"; ``null`` clears).

:func:`schema_defaults` is what the planner's replace mode expects of undeclared options,
what export leaves out as default, and what the simulator stores for an omitted option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged onto ``base``, as new dicts; leaves and lists are shared, not copied."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = deep_merge(below, value)
        else:
            out[key] = value
    return out


_MISSING: Any = object()


def schema_defaults(schema: Mapping[str, Any], *, every_option: bool = False) -> dict[str, Any]:
    """The configuration a server fills in for an empty write, as a JSON Schema describes it.

    Each option's ``default``; an object option's defaults are its own ``default`` with its
    properties' defaults merged over it (the finer wins, by :func:`deep_merge`). Options are
    the ``properties`` of the schema and of its ``allOf`` parts (local ``$ref``s followed);
    the conditional parts (``anyOf``, ``oneOf``, ``if``/``then``/``else``) describe options of
    some configurations only, so their defaults are not everyone's and are left out.

    ``every_option``: also list the options without a default, as ``None`` (a read of the
    vendor's API answers every option, unset ones included); objects are built from their
    properties. Without it, an option without a default is absent: the schema doesn't say
    what the server stores (a schema without ``default`` keywords gives ``{}``).
    """

    def walk(node: Any, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if depth > 16:  # a bound against recursive schemas
            return out
        for name, sub in _properties(node, schema).items():
            sub = _resolve(sub, schema)
            if not isinstance(sub, Mapping):
                continue
            nested = walk(sub, depth + 1)
            default = sub.get("default", _MISSING)
            if isinstance(default, Mapping):
                out[name] = deep_merge(default, nested)
            elif default is not _MISSING:
                out[name] = default
            elif nested or (every_option and _is_object(sub, schema)):
                out[name] = nested
            elif every_option:
                out[name] = None
        return out

    return walk(schema, 0)


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """Follow a local ``$ref`` (``#/definitions/x``); anything else is returned unchanged."""
    for _ in range(32):  # a bound against reference cycles
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                return node
            target = target[part]
        node = target
    return node


def _properties(node: Any, root: Mapping[str, Any]) -> dict[str, Any]:
    """The properties an object schema declares, its ``allOf`` parts included (the first
    declaration of a name wins)."""
    props: dict[str, Any] = {}
    pending: list[Any] = [node]
    seen = 0
    while pending and seen < 64:
        seen += 1
        current = _resolve(pending.pop(0), root)
        if not isinstance(current, Mapping):
            continue
        declared = current.get("properties")
        if isinstance(declared, Mapping):
            for name, sub in declared.items():
                props.setdefault(name, sub)
        parts = current.get("allOf")
        if isinstance(parts, list):
            pending.extend(parts)
    return props


def _is_object(node: Mapping[str, Any], root: Mapping[str, Any]) -> bool:
    return bool(_properties(node, root))
