"""Inbound and outbound service configurations: the schemas the simulator serves and enforces.

The draft-07 schemas live in ``schemas/service-{inbound,outbound}.schema.json`` (installed as
``reconciler/_schemas`` in a wheel). A write (PUT) fills every omitted option with its default;
a modify (PATCH) deep-merges the body into the stored configuration (``null`` sets an option to
null, which clears it); both validate the resulting full configuration and answer the
documented 400 with one ``details`` line per problem, in the vendor's style::

    service_password None is not of type 'string'. For REST, you must provide a first_page, ...
    rest.first_page.method 'haha' is not one of ['GET', 'POST'].

The served schema carries ``default`` keywords unless the dialect says otherwise (the vendor
pages don't show whether it does; see :mod:`reconciler.simulator.dialect`): the defaults the
server fills on a write are the same either way.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jsonschema

from reconciler.configuration import deep_merge, schema_defaults
from reconciler.schemas import shipped_service_schema

Kind = Literal["inbound", "outbound"]
KINDS: tuple[Kind, ...] = ("inbound", "outbound")


@functools.cache
def service_schema(kind: Kind) -> dict[str, Any]:
    """The service schema of ``kind`` (a fresh copy is the caller's to change)."""
    return shipped_service_schema(kind)


@functools.cache
def _validator(kind: Kind) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(service_schema(kind))


@functools.cache
def _fast_validator(kind: Kind) -> Callable[[Any], Any]:
    """The schema compiled to Python: about 40x faster than jsonschema on a valid config, the
    common case of every write. It neither fills defaults into what it checks nor checks
    formats (jsonschema, which words the errors, checks none either)."""
    import fastjsonschema

    # A copy: compiling changes the schema it is given ($ref resolution), and the cached
    # schema is what fill_defaults() walks and GET /service/v1/schema serves.
    validate: Callable[[Any], Any] = fastjsonschema.compile(
        copy.deepcopy(service_schema(kind)), use_default=False, use_formats=False
    )
    return validate


@functools.cache
def schema_text(kind: Kind, with_defaults: bool = True) -> bytes:
    """The schema as served by ``GET /service/v1/schema/<kind>``; without ``with_defaults``,
    every ``default`` keyword left out (as the published excerpt may mean)."""
    schema: Any = service_schema(kind)
    if not with_defaults:
        schema = _without_defaults(schema)
    return json.dumps(schema).encode()


def _without_defaults(node: Any) -> Any:
    """``node`` without any ``default`` keyword of a schema (a property *named* ``default``,
    inside ``properties``, stays)."""
    if isinstance(node, list):
        return [_without_defaults(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "default":
            continue
        if key in ("properties", "definitions"):
            out[key] = {name: _without_defaults(sub) for name, sub in value.items()}
        else:
            out[key] = _without_defaults(value)
    return out


def listing(configs: Mapping[str, Mapping[str, Any]], shape: str = "services") -> Any:
    """The answer of ``GET /service/v1/{kind}`` in one of the dialect's shapes: ``services``
    (documented), ``array`` (the entries as a bare array) or ``keyed`` (name -> entry)."""
    entries = [
        {"name": name, "target": target_of(cfg), "description": cfg.get("description") or ""}
        for name, cfg in sorted(configs.items())
    ]
    if shape == "array":
        return entries
    if shape == "keyed":
        return {
            e["name"]: {"target": e["target"], "description": e["description"]} for e in entries
        }
    return {"services": entries}


@functools.cache
def _every_option(kind: Kind) -> dict[str, Any]:
    return schema_defaults(service_schema(kind), every_option=True)


def defaults(kind: Kind) -> dict[str, Any]:
    """A full configuration with every option at its default (unset options ``None``)."""
    return copy.deepcopy(_every_option(kind))


def fill_defaults(kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
    """What a write stores: the body, every omitted option at its default (the one reading of
    the schema's defaults, :func:`reconciler.configuration.schema_defaults`)."""
    return copy.deepcopy(deep_merge(_every_option(kind), body))


def merge(
    current: Mapping[str, Any], patch: Mapping[str, Any], *, kind: Kind | None = None
) -> dict[str, Any]:
    """What a modify stores: ``patch`` deep-merged into ``current``; an object merges into an
    object, anything else (``null`` included) replaces the value. A deep copy, so that the
    stored state shares nothing with the request.

    With ``kind`` (the ``normalise`` dialect), an option set to ``null`` is reset to its
    default in that kind's schema instead (where the default is not null itself)."""
    merged = copy.deepcopy(deep_merge(current, patch))
    if kind is not None:
        _reset_nulls(merged, patch, defaults(kind))
    return merged


def _reset_nulls(config: dict[str, Any], patch: Mapping[str, Any], default: Any) -> None:
    if not isinstance(default, Mapping):
        return
    for key, value in patch.items():
        if value is None and default.get(key) is not None:
            config[key] = copy.deepcopy(default[key])
        elif isinstance(value, Mapping) and isinstance(config.get(key), dict):
            _reset_nulls(config[key], value, default.get(key))


_URL_ORIGIN = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)")


def normalise_url(value: str) -> str:
    """A URL with its scheme and host lower-cased (a user-info part is kept as written)."""

    def lower(m: re.Match[str]) -> str:
        userinfo, at, host = m.group(2).rpartition("@")
        return m.group(1).lower() + userinfo + at + host.lower()

    return _URL_ORIGIN.sub(lower, value, count=1)


def normalise(config: Any) -> Any:
    """What the ``normalise`` dialect stores: every URL's scheme and host lower-cased."""
    if isinstance(config, dict):
        return {key: normalise(value) for key, value in config.items()}
    if isinstance(config, list):
        return [normalise(value) for value in config]
    if isinstance(config, str) and "://" in config:
        return normalise_url(config)
    return config


def validate(kind: Kind, config: Mapping[str, Any]) -> list[str]:
    """Every problem with a full configuration, as the vendor words them (empty: valid)."""
    import fastjsonschema

    try:
        _fast_validator(kind)(config)
    except (fastjsonschema.JsonSchemaException, TypeError, ValueError, RecursionError):
        pass  # invalid, or unsure: jsonschema decides, and words every problem
    else:
        return []
    schema = service_schema(kind)
    details: list[str] = []
    for error in _validator(kind).iter_errors(config):
        path = ".".join(str(p) for p in error.absolute_path)
        message = _vendor_words(error)
        line = f"{path} {message}." if path else f"{message}."
        schema_path = list(error.absolute_schema_path)
        if len(schema_path) >= 2 and schema_path[0] == "allOf":
            rule = schema["allOf"][schema_path[1]]
            if isinstance(rule.get("description"), str):
                line += " " + rule["description"]
        details.append(line)
    return details


def _vendor_words(error: jsonschema.ValidationError) -> str:
    """The vendor's words for a problem (as its pages quote them), made here rather than taken
    from jsonschema's messages, whose wording is that library's and may change with it."""
    instance, expected = error.instance, error.validator_value
    if error.validator == "type":
        return f"{instance!r} is not of type {expected!r}"
    if error.validator == "enum":
        return f"{instance!r} is not one of {expected!r}"
    if error.validator == "maxLength":
        return f"{instance!r} is too long"
    if error.validator == "minLength":
        return f"{instance!r} is too short"
    if error.validator == "additionalProperties":
        extra = sorted(set(instance) - set(error.schema.get("properties", {})))
        verb = "was" if len(extra) == 1 else "were"
        names = ", ".join(f"{name!r}" for name in extra)
        return f"Additional properties are not allowed ({names} {verb} unexpected)"
    return str(error.message)


def target_of(config: Mapping[str, Any]) -> str:
    """What a service targets, for the services list: its UAS application or first page."""
    if config.get("application_type") == "REST":
        path: tuple[str, ...] = ("rest", "first_page", "address")
    else:
        path = ("uas", "application_name")
    node: Any = config
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, str) else ""
