"""Saved plans (``reconciler plan --out plan.json``, ``reconciler apply --plan plan.json``).

The file is the plan's JSON form (``schemas/plan.schema.json``) plus ``saved_at``, the
``reconciler_version`` that wrote it and a ``checksum`` over everything else, so a truncated
or hand-edited file is refused. It holds the live fingerprints the changes depend on and
no secret value, nor any digest of one (secrets are saved as ``(sensitive)``).

It is written atomically (a temporary file in the same directory, then a rename) and created
with mode 0600, so it is never readable by others, not even for a moment.

Secrets cannot be restored from the file: apply re-plans from the YAML and checks that
``recomputed.comparable() == saved.comparable()`` (and that the fingerprints still hold).

It also records the ``account`` it was made for (:class:`PlanAccount`: the endpoints, the
cloud ID and the user names, never a key or password), so that ``apply --plan`` refuses a
plan made for another account (:func:`check_account`), a plan made under ``--simulate``
included.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.desired.model import AculabAccount, AqlAccount
from reconciler.errors import PlanFileError
from reconciler.plan.changes import FORMAT_VERSION, Plan
from reconciler.plan.safety import check_safety
from reconciler.schemas import schema_file
from reconciler.secret import json_default, redact
from reconciler.storage import NotAFile, read_regular, write_private_atomic

# Refuse to parse anything larger: a saved plan of a very large account is a few MB.
MAX_SIZE = 256 * 1024 * 1024

_SCHEMA_FILE = "plan.schema.json"
# The hint of a file that can't be used; the command line says it with the real command.
REPLAN_HINT = "make a new one with `reconciler plan PATH --out FILE`"
_META_KEYS = ("saved_at", "reconciler_version", "checksum", "account")
SIMULATOR = "the embedded simulator (--simulate)"


@dataclass(frozen=True)
class PlanAccount:
    """The account a saved plan was made for: who it talks to, and as whom. Under
    ``--simulate`` the endpoint is :data:`SIMULATOR` (its port changes with every run)."""

    aculab_endpoint: str | None = None
    cloud_id: str | None = None
    aculab_username: str | None = None
    aql_endpoint: str | None = None
    aql_username: str | None = None

    @classmethod
    def of(
        cls, aculab: AculabAccount | None, aql: AqlAccount | None, *, simulated: bool = False
    ) -> PlanAccount:
        """The account of the clients a run uses (the simulator's under ``--simulate``)."""
        return cls(
            aculab_endpoint=None if aculab is None else SIMULATOR if simulated else aculab.base_url,
            cloud_id=None if aculab is None else aculab.cloud_id,
            aculab_username=None if aculab is None else aculab.username,
            aql_endpoint=None if aql is None else SIMULATOR if simulated else aql.url,
            aql_username=None if aql is None else aql.username,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "aculab": None
            if self.cloud_id is None
            else {
                "endpoint": self.aculab_endpoint,
                "cloud_id": self.cloud_id,
                "username": self.aculab_username,
            },
            "aql": None
            if self.aql_username is None
            else {"endpoint": self.aql_endpoint, "username": self.aql_username},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanAccount:
        aculab = data.get("aculab") or {}
        aql = data.get("aql") or {}
        return cls(
            aculab_endpoint=aculab.get("endpoint"),
            cloud_id=aculab.get("cloud_id"),
            aculab_username=aculab.get("username"),
            aql_endpoint=aql.get("endpoint"),
            aql_username=aql.get("username"),
        )

    def fits(self, other: PlanAccount) -> bool:
        """The same account of each vendor both name. (A vendor only one names: the plans
        differ, and the re-plan of ``apply --plan`` says how.)"""
        if self.cloud_id is not None and other.cloud_id is not None:
            mine = (self.aculab_endpoint, self.cloud_id, self.aculab_username)
            if mine != (other.aculab_endpoint, other.cloud_id, other.aculab_username):
                return False
        if self.aql_username is None or other.aql_username is None:
            return True
        return (self.aql_endpoint, self.aql_username) == (other.aql_endpoint, other.aql_username)

    def describe(self) -> str:
        parts = []
        if self.cloud_id is not None:
            parts.append(
                f"Aculab Cloud {self.cloud_id}/{self.aculab_username} at {self.aculab_endpoint}"
            )
        if self.aql_username is not None:
            parts.append(f"aql {self.aql_username} at {self.aql_endpoint}")
        return ", ".join(parts) or "no account"


@dataclass(frozen=True)
class SavedPlan:
    """A saved plan and the account it was made for (None: a file that doesn't say)."""

    plan: Plan
    account: PlanAccount | None


def check_account(saved: SavedPlan, current: PlanAccount, *, source: str, replan: str) -> None:
    """Raise :class:`PlanFileError` unless ``saved`` was made for ``current`` (``replan``:
    the command that makes a plan for it, as the user would type it)."""
    hint = f"make a plan for this account with `{replan}`, review it, then apply that"
    if saved.account is None:
        raise PlanFileError(
            f"{source} does not say which account it was made for (an older reconciler "
            "saved it), so it can't be checked against this one",
            hint=hint,
        )
    if not saved.account.fits(current):
        raise PlanFileError(
            f"{source} was made for another account ({saved.account.describe()}); this run "
            f"is for {current.describe()}",
            hint=hint,
        )


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


def plan_document(
    plan: Plan,
    *,
    now: datetime.datetime | None = None,
    account: PlanAccount | None = None,
) -> dict[str, Any]:
    """The document a saved plan file holds."""
    if not plan.live_fingerprint:
        # A plan made without fingerprints (make_plan(fingerprint=False)) could not be
        # checked for staleness at apply time: never saved.
        raise ValueError("a plan made without live fingerprints cannot be saved")
    # A saved plan shows releases as blocked: the flags of the apply that uses it aren't known.
    data = plan.as_json(check_safety(plan, plan.safety, allow_release=False, force=False))
    if account is not None:
        data["account"] = account.as_json()
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


def save_plan(
    plan: Plan, path: str | os.PathLike[str], *, account: PlanAccount | None = None
) -> None:
    """Write ``plan`` (made for ``account``) to ``path`` (mode 0600, atomically). Raises
    :class:`PlanFileError`."""
    target = Path(path)
    text = json.dumps(
        plan_document(plan, account=account),
        sort_keys=True,
        indent=2,
        ensure_ascii=False,
        default=json_default,
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
    return load_saved(path).plan


def load_saved(path: str | os.PathLike[str]) -> SavedPlan:
    """:func:`load_plan`, with the account the plan was made for."""
    source = Path(path)
    hint = REPLAN_HINT
    try:
        raw = read_regular(source, limit=MAX_SIZE)
    except NotAFile as err:
        raise PlanFileError(f"{source} is not a saved plan: it {err.strerror}", hint=hint) from None
    except OSError as err:
        raise PlanFileError(
            f"cannot read the saved plan {source}: {err.strerror or err}",
            hint="give --plan the file `reconciler plan --out FILE` wrote",
        ) from None
    return parse_saved(raw, source=str(source))


def parse_plan(raw: bytes, *, source: str = "the saved plan") -> Plan:
    """Parse the bytes of a saved plan (see :func:`load_plan`)."""
    return parse_saved(raw, source=source).plan


def parse_saved(raw: bytes, *, source: str = "the saved plan") -> SavedPlan:
    """Parse the bytes of a saved plan, with its account (see :func:`load_saved`)."""
    hint = REPLAN_HINT
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
        plan = Plan.from_json(body)
    except (KeyError, ValueError, TypeError, ArithmeticError, RecursionError) as err:
        raise PlanFileError(
            f"{source} is not a valid saved plan ({type(err).__name__})", hint=hint
        ) from None
    account = data.get("account")
    return SavedPlan(plan, PlanAccount.from_json(account) if isinstance(account, dict) else None)


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
