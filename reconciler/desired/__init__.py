"""Desired state: load, validate and model the YAML (docs/desired-state.md).

``from reconciler.desired import load, LoadResult`` is the interface; the model is in
:mod:`reconciler.desired.model`. The loader (and PyYAML) is imported on first use, so that
importing the model stays cheap for ``reconciler --version``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.desired.loader import LoadResult, load

__all__ = ["LoadResult", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from reconciler.desired import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
