"""The accounts of a YAML file, alone: what ``reconciler export ACCOUNT`` needs.

``ACCOUNT`` is any desired-state file with the ``aculab`` (and ``aql``) sections (docs/commands.md
); export ignores the rest. So only those two sections are converted (``${NAME}`` read
from the environment) and checked against the schema: the rest of the file may be absent,
incomplete, or name variables that are not set, and still the accounts load. Errors carry
``file:line:column`` like every other desired-state error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode

from reconciler.desired.document import Diagnostics, _Converter, compose, secret_text
from reconciler.desired.model import AculabAccount, AqlAccount
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.secret import Secret

SECTIONS = ("aculab", "aql")


@dataclass(frozen=True, slots=True)
class Accounts:
    """The accounts of a file. ``raw`` holds the two sections as written (``${NAME}``
    references unresolved), for writing them back out."""

    aculab: AculabAccount | None
    aql: AqlAccount | None
    raw: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""


def _account_file(path: Path) -> Path:
    """``path`` itself, or for a directory the first ``*.yaml`` file with an ``aculab:`` (or,
    for an aql customer without an Aculab account, an ``aql:``) section."""
    if not path.is_dir():
        return path
    found: dict[str, Path] = {}
    for candidate in sorted(path.glob("*.yaml")):
        try:
            text = candidate.read_text(encoding="utf-8")
        except OSError:
            continue
        for section in SECTIONS:
            if any(line.startswith(f"{section}:") for line in text.splitlines()):
                found.setdefault(section, candidate)
    for section in SECTIONS:
        if section in found:
            return found[section]
    raise ConfigError(
        f"no *.yaml file in {path} has an `aculab:` or `aql:` section",
        hint="give the file that holds the account: `aculab: {cloud_id, username, api_key}` "
        "and/or `aql: {username, password}`",
    )


def load_accounts(
    path: str | Path, *, environ: Mapping[str, str] | None = None, simulate: bool = False
) -> Accounts:
    """Load only the ``aculab``/``aql`` sections of ``path`` (a file, or the file of a
    directory that has them). Raises :class:`ValidationFailed` with every problem.

    Under ``simulate`` an unset ``${NAME}`` is not an error (the simulator's credentials are
    used), as in :func:`reconciler.desired.load`.
    """
    from reconciler.desired.schema import problems

    env = os.environ if environ is None else environ
    file_path = _account_file(Path(path))
    file = str(file_path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such file", hint="give the YAML file that holds `aculab:`"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot be read: {err}") from None
    diags = Diagnostics([file])
    # The one guarded way in (reconciler/desired/document.py): no input can crash the process.
    doc = compose(file, text, diags)
    if diags.has_errors:
        raise ValidationFailed(diags.sorted())
    root = doc.root
    if not isinstance(root, MappingNode):
        raise ConfigError(
            f"{file}:1:1: the account file must be a mapping with an `aculab:` or `aql:` section"
        )
    converter = _Converter(file, diags, env, simulate)
    values: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for knode, vnode in root.value:
        if isinstance(knode, ScalarNode) and knode.value in SECTIONS:
            values[knode.value] = converter.convert(vnode, 1)
            # As written (``${NAME}`` unresolved), built from the same nodes: no second parse.
            raw[knode.value] = SafeConstructor().construct_object(vnode, deep=True)
    if not values:
        diags.error(
            doc.start,
            "the account file has neither an `aculab:` section (cloud_id, username, api_key) "
            "nor an `aql:` section (username, password)",
        )
    else:
        for problem in problems({"version": 1, **values}):
            diags.error(doc.at(problem.path, key=problem.at_key), problem.message)
    if diags.has_errors:
        raise ValidationFailed(diags.sorted())
    return Accounts(
        aculab=_aculab(values.get("aculab")),
        aql=_aql(values.get("aql")),
        raw=raw,
        file=file,
    )


def _secret(value: Any) -> Secret:
    # Under --simulate a ${NAME} here reads as simulated-NAME, whatever the environment holds.
    return value if isinstance(value, Secret) else Secret(secret_text(value))


def _aculab(data: Any) -> AculabAccount | None:
    if not isinstance(data, Mapping):
        return None
    return AculabAccount(
        cloud_id=str(data["cloud_id"]),
        username=str(data["username"]),
        api_key=_secret(data["api_key"]),
        endpoint=data.get("endpoint"),
    )


def _aql(data: Any) -> AqlAccount | None:
    if not isinstance(data, Mapping):
        return None
    return AqlAccount(
        username=str(data["username"]),
        password=_secret(data["password"]),
        endpoint=data.get("endpoint"),
    )


__all__ = ["Accounts", "load_accounts"]
