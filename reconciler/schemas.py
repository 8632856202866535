"""Where the JSON schemas are: the repository's ``schemas/`` (a checkout or an editable
install) or ``reconciler/_schemas`` (a wheel; pyproject.toml force-includes the folder).

One finder for every schema reconciler reads: the desired state's, the plan's, and the vendor
service schemas the simulator serves.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent

# The desired state's schema: the name `reconciler schema` and export write it under, beside
# the YAML that points at it.
DESIRED_STATE_SCHEMA = "desired-state.schema.json"


def schemas_dir() -> Path:
    """The folder of the schemas: ``reconciler/_schemas`` when installed as a wheel, else the
    checkout's ``schemas/``."""
    installed = _PACKAGE / "_schemas"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "schemas"


def schema_file(name: str) -> Path:
    """The schema file ``name``; FileNotFoundError when this installation lacks it."""
    path = schemas_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{name} is missing from this installation")
    return path


@functools.cache
def _service_schema_text(kind: str) -> str:
    return schema_file(f"service-{kind}.schema.json").read_text(encoding="utf-8")


def shipped_service_schema(kind: str) -> dict[str, Any]:
    """The copy of the vendor's ``kind`` service schema shipped in ``schemas/`` (the one the
    simulator serves; a fresh object each call). Offline checks use it; against an account,
    the server's own schema is the authority. FileNotFoundError when it is missing."""
    data: dict[str, Any] = json.loads(_service_schema_text(kind))
    return data
