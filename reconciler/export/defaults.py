"""Schema defaults: which options of a service configuration are worth writing down.

The server's service schema (``GET /service/v1/schema/{kind}``, draft-07) gives each option's
default (read by :func:`reconciler.configuration.schema_defaults`). An exported service
keeps only the options whose live value differs from it, so the YAML says what is special
about each service and nothing else. Under ``mode: merge`` (the
default) an option left out is not managed, so leaving defaults out plans clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING: Any = object()


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
