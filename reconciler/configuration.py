"""Service configurations: the vendor's JSON objects, and the one merge rule they share.

The same rule serves a template under a service (the loader), defaults under a declared
configuration (the planner's replace mode), a PATCH body over a live configuration (the dry
run, and the simulator's modify): an object merges into an object key by key; anything else,
``None`` included, replaces the value. It is the vendor's documented PATCH behaviour ("the
new configuration is effectively merged into the existing configuration"; ``null`` clears).
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
