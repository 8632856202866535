"""Where the JSON schemas are: the repository's ``schemas/`` (a checkout or an editable
install) or ``reconciler/_schemas`` (a wheel; pyproject.toml force-includes the folder).

One finder for every schema reconciler reads: the desired state's, the plan's, and the vendor
service schemas the simulator serves.
"""

from __future__ import annotations

from pathlib import Path

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
