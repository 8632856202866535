"""Dry-run validation of service bodies against the server's own schema.

The server's schema (``GET /service/v1/schema/{kind}``) is the authority on what a service
configuration may hold. A dry run fetches it once per kind and checks every body a real apply
would send: a PUT body as it is (omitted options take their defaults), a PATCH body merged
into the live configuration first (the server merges, then validates the result).

Messages never carry a secret: the check runs on the revealed body (a password must be a
string, and only the real value says whether it is), but a message about a value that holds
a secret is written from the masked value, and every message passes through
:func:`reconciler.secret.redact`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.apply.ports import AculabApi
from reconciler.secret import redact, reveal, to_jsonable

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


def _at(document: Any, path: Iterable[Any]) -> Any:
    for step in path:
        try:
            document = document[step]
        except (KeyError, IndexError, TypeError):
            return None
    return document


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Rules whose messages name keys, never values.
_KEYS_ONLY = frozenset({"additionalProperties", "required", "dependentRequired", "dependencies"})


def _message(error: ValidationError, shown: Any) -> str:
    """jsonschema's own message when the value it quotes holds no secret; otherwise one
    built from the masked value (a secret's value, or its length, is never quoted)."""
    if shown == error.instance or error.validator in _KEYS_ONLY:
        return redact(error.message)
    rule = _short(error.validator_value, 60)
    return redact(f"{_short(shown)} does not satisfy the schema's {error.validator} {rule}")


class ServiceSchemas:
    """The server's service schemas, fetched at most once per kind for one run."""

    def __init__(
        self, aculab: AculabApi, known: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self.aculab = aculab
        self._schemas: dict[str, Mapping[str, Any]] = dict(known or {})
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, kind: str) -> Mapping[str, Any]:
        if kind in self._schemas:
            return self._schemas[kind]
        lock = self._locks.setdefault(kind, asyncio.Lock())
        async with lock:
            if kind not in self._schemas:
                self._schemas[kind] = await self.aculab.service_schema(kind)
        return self._schemas[kind]

    async def problems(self, kind: str, body: Mapping[str, Any]) -> list[str]:
        """Every way ``body`` breaks the server's schema for ``kind`` (empty when valid),
        as ``path: message`` lines, secrets masked."""
        from jsonschema import Draft7Validator
        from jsonschema.exceptions import SchemaError

        schema = await self.get(kind)
        try:
            validator = Draft7Validator(schema)
        except SchemaError as err:  # pragma: no cover - the server's schema is broken
            return [f"the server's {kind} schema is not a valid JSON Schema: {err.message}"]
        public = to_jsonable(body)
        out: list[str] = []
        errors = sorted(
            validator.iter_errors(reveal(body)), key=lambda e: [str(p) for p in e.absolute_path]
        )
        for error in errors:
            path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
            out.append(f"{path}: {_message(error, _at(public, error.absolute_path))}")
        return out
