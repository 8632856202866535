"""Saved plans (``reconciler plan --out plan.json``, ``reconciler apply --plan plan.json``).

The file is the plan's JSON form (``schemas/plan.schema.json``) plus ``saved_at``, the
``reconciler_version`` that wrote it and a ``checksum`` over everything else, so a truncated
or hand-edited file is refused. It holds the live fingerprints the changes depend on and
no secret value, nor any digest of one (secrets are saved as ``(sensitive)``).

It is written atomically (a temporary file in the same directory, then a rename) and created
with mode 0600, so it is never readable by others, not even for a moment.

Secrets cannot be restored from the file: apply re-plans from the YAML and checks that
``recomputed.comparable() == saved.comparable()`` (and that the fingerprints still hold).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.errors import PlanFileError
from reconciler.plan.changes import FORMAT_VERSION, Plan
from reconciler.plan.safety import check_safety
from reconciler.schemas import schema_file
from reconciler.secret import json_default, redact
from reconciler.storage import NotAFile, read_regular, write_private_atomic

# Refuse to parse anything larger: a saved plan of a very large account is a few MB.
MAX_SIZE = 256 * 1024 * 1024

_SCHEMA_FILE = "plan.schema.json"
_META_KEYS = ("saved_at", "reconciler_version", "checksum")


def _schema_path() -> Path:
    try:
        return schema_file(_SCHEMA_FILE)
    except FileNotFoundError:
        raise PlanFileError(
            f"the plan schema {_SCHEMA_FILE} is missing from this installation"
        ) from None


@cache
def plan_schema() -> dict[str, Any]:
    """The JSON Schema of the plan's JSON form (and of saved plans)."""
    schema: dict[str, Any] = json.loads(_schema_path().read_text(encoding="utf-8"))
    return schema


def _checksum(data: dict[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_document(plan: Plan, *, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The document a saved plan file holds."""
    # A saved plan shows releases as blocked: the flags of the apply that uses it aren't known.
    data = plan.as_json(check_safety(plan, plan.safety, allow_release=False, force=False))
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    data["saved_at"] = moment.isoformat(timespec="seconds")
    data["reconciler_version"] = __version__
    data["checksum"] = _checksum(data)
    return data


def check_plan_target(path: str | os.PathLike[str]) -> None:
    """Raise :class:`PlanFileError` when a plan could not be saved at ``path``.

    ``plan --out`` calls it before reading the account, so a typo in the path fails at once
    instead of after a read of the whole account."""
    target = Path(path)
    directory = target.parent
    hint = "create the directory first, or give --out a path in an existing one"
    if target.is_dir():
        raise PlanFileError(
            f"cannot save the plan to {target}: it is a directory",
            hint="give --out a file name, e.g. plan.json",
        )
    if not directory.exists():
        raise PlanFileError(
            f"cannot save the plan to {target}: the directory {directory} does not exist",
            hint=hint,
        )
    if not directory.is_dir():
        raise PlanFileError(
            f"cannot save the plan to {target}: {directory} is not a directory", hint=hint
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PlanFileError(
            f"cannot save the plan to {target}: the directory {directory} is not writable",
            hint="give --out a path in a directory you can write to",
        )


def save_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write ``plan`` to ``path`` (mode 0600, atomically). Raises :class:`PlanFileError`."""
    target = Path(path)
    text = json.dumps(
        plan_document(plan), sort_keys=True, indent=2, ensure_ascii=False, default=json_default
    )
    # Secrets are masked by type; the command's redactor is the last line of defence.
    text = redact(text)
    check_plan_target(target)
    try:
        write_private_atomic(target, (text + "\n").encode("utf-8"))
    except NotAFile as err:
        raise PlanFileError(
            f"cannot save the plan to {target}: it {err.strerror}",
            hint="give --out a path that is not a link (or remove the link first)",
        ) from None
    except OSError as err:
        raise PlanFileError(
            f"cannot save the plan to {target}: {err.strerror or err}",
            hint="check that the directory exists and is writable",
        ) from None


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a saved plan. Any problem -- unreadable, not JSON, another format version, a
    checksum that doesn't match, a document the schema refuses -- raises
    :class:`PlanFileError` with a clear message."""
    source = Path(path)
    hint = "make a new one with `reconciler plan --out`"
    try:
        raw = read_regular(source, limit=MAX_SIZE)
    except NotAFile as err:
        raise PlanFileError(f"{source} is not a saved plan: it {err.strerror}", hint=hint) from None
    except OSError as err:
        raise PlanFileError(
            f"cannot read the saved plan {source}: {err.strerror or err}",
            hint="give --plan the file `reconciler plan --out FILE` wrote",
        ) from None
    return parse_plan(raw, source=str(source))


def parse_plan(raw: bytes, *, source: str = "the saved plan") -> Plan:
    """Parse the bytes of a saved plan (see :func:`load_plan`)."""
    hint = "make a new one with `reconciler plan --out`"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise PlanFileError(f"{source} is not a saved plan (not JSON)", hint=hint) from None
    if not isinstance(data, dict):
        raise PlanFileError(f"{source} is not a saved plan (not a JSON object)", hint=hint)
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanFileError(
            f"{source} has plan format version {version!r}; this reconciler "
            f"({__version__}) reads version {FORMAT_VERSION}",
            hint=hint,
        )
    checksum = data.get("checksum")
    try:
        expected = _checksum(data)
    except (TypeError, ValueError, RecursionError):
        raise PlanFileError(f"{source} is not a saved plan (unserialisable)", hint=hint) from None
    if checksum != expected:
        raise PlanFileError(
            f"{source} was altered after it was saved (its checksum does not match)",
            hint=hint,
        )
    _validate(data, source, hint)
    body = {k: v for k, v in data.items() if k not in _META_KEYS}
    try:
        return Plan.from_json(body)
    except (KeyError, ValueError, TypeError, ArithmeticError, RecursionError) as err:
        raise PlanFileError(
            f"{source} is not a valid saved plan ({type(err).__name__})", hint=hint
        ) from None


@cache
def _validator() -> Any:
    import jsonschema  # heavy: only when a plan is loaded

    return jsonschema.Draft202012Validator(plan_schema())


def _validate(data: dict[str, Any], source: str, hint: str) -> None:
    import jsonschema

    validator = _validator()
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    except RecursionError:
        raise PlanFileError(f"{source} is not a valid saved plan (too deep)", hint=hint) from None
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        # The schema's message, not the offending value: keep the output short.
        raise PlanFileError(
            f"{source} is not a valid saved plan: at {where}: {error.validator} check failed",
            hint=hint,
        )
