"""Every service body a plan would write, checked against a service schema.

A plan is a promise about apply (``docs/commands.md``, "Bodies"): a body the server's schema
refuses must fail the plan, at the place in the YAML that wrote the offending key, not fail
apply after it has bought the pool's numbers. What the server validates is what is checked:

- a create, or an update in ``mode: replace``, is a PUT: the body as it is (the server fills
  the options it omits with their defaults, then validates);
- an update in ``mode: merge`` is a PATCH: the body merged into the live configuration
  (the server merges, then validates the result);
- the numbers a purchase buys get the pool's ``inbound:`` configuration by PUT: checked once
  for the pool.

:func:`check_bodies` takes the schemas as data: the CLI reads the server's (``GET
/service/v1/schema/{kind}``, once per kind and run, only for kinds with bodies to write) and
``validate`` passes the copies shipped in ``schemas/`` (:func:`check_declared`), saying that
the server's schema decides.

Messages never carry a secret: the check runs on the revealed body (a password must be a
string, and only the real value says whether it is), but a message about a value that holds
a secret is written from the masked value, and every message passes through
:func:`reconciler.secret.redact`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from reconciler.configuration import deep_merge, schema_defaults
from reconciler.desired.model import DesiredState, Origin, ServiceKind, ServiceSpec
from reconciler.errors import Diagnostic
from reconciler.live.model import LiveState
from reconciler.plan.changes import CreateService, Plan, Purchase, UpdateService
from reconciler.secret import redact, reveal, to_jsonable

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Path = tuple[str | int, ...]
KINDS: tuple[ServiceKind, ...] = ("inbound", "outbound")


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One way a configuration breaks a schema: the path of the offending key and why."""

    path: Path
    message: str

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.path) or "(top level)"

    def __str__(self) -> str:
        return f"{self.dotted}: {self.message}"


# ----------------------------------------------------------------------------- one body


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


_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object (key: value lines)",
    "array": "a list",
    "null": "null",
}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    return "array"


def _message(error: ValidationError, shown: Any) -> str:
    """Why ``shown`` (the value at the error's path, secrets masked) breaks the rule, in our
    words; a secret's value, or its length, is never quoted."""
    rule, want = error.validator, error.validator_value
    secret = shown != error.instance  # masking changed it: it holds a secret
    value = _short(shown)
    if rule == "type":
        wanted = [want] if isinstance(want, str) else list(want)
        words = " or ".join(_JSON_TYPES.get(str(w), str(w)) for w in wanted)
        return f"{value} is {_JSON_TYPES[_type_of(error.instance)]}; it must be {words}"
    if rule in ("maxLength", "minLength"):
        most = rule == "maxLength"
        bound = f"at {'most' if most else 'least'} {want} characters"
        if secret:
            return f"the value must be {bound}"
        return f"{len(error.instance)} characters long; it must be {bound}"
    if rule == "enum":
        return f"{value} is not one of " + ", ".join(_short(v, 40) for v in want)
    if rule == "const":
        return f"{value} is not allowed here: it must be {_short(want, 40)}"
    if rule == "pattern":
        return f"{value} does not match the pattern {want}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{value} is out of range ({rule} {want})"
    if rule == "required":
        have = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [str(k) for k in want if k not in have]
        return "missing " + ", ".join(repr(k) for k in missing)
    return redact(f"{value} does not satisfy the schema's {rule} {_short(want, 60)}")


def _unexpected(error: ValidationError) -> list[SchemaProblem]:
    """An ``additionalProperties`` error, one problem per unexpected key, placed at the key
    itself (a typo's place is the typo), with the nearest allowed name."""
    allowed = error.schema.get("properties") if isinstance(error.schema, Mapping) else None
    names = list(allowed) if isinstance(allowed, Mapping) else []
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    out: list[SchemaProblem] = []
    for key in instance:
        if key in names:
            continue
        close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append(
            SchemaProblem(
                (*error.absolute_path, key),
                redact(f"{str(key)!r} is not an option the schema allows here{hint}"),
            )
        )
    return out


class _Checker:
    """One schema, compiled once: fastjsonschema says whether a body is valid (the common
    case, some 40x faster), jsonschema words the problems of one that isn't."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        import copy

        import fastjsonschema
        from jsonschema import Draft7Validator

        self.schema = schema
        self.words = Draft7Validator(schema)
        try:
            # A copy: compiling rewrites the $refs of the schema it is given.
            self.fast: Any = fastjsonschema.compile(
                copy.deepcopy(dict(schema)), use_default=False, use_formats=False
            )
        except Exception:
            self.fast = None

    def problems(self, body: Mapping[str, Any]) -> list[SchemaProblem]:
        revealed = reveal(body)
        if self.fast is not None:
            import fastjsonschema

            try:
                self.fast(revealed)
            except (fastjsonschema.JsonSchemaException, TypeError, ValueError, RecursionError):
                pass  # invalid, or unsure: jsonschema decides, and words every problem
            else:
                return []
        public = to_jsonable(body)
        out: list[SchemaProblem] = []
        for error in self.words.iter_errors(revealed):
            if error.validator == "additionalProperties":
                out.extend(_unexpected(error))
                continue
            shown = _at(public, error.absolute_path)
            text = redact(_message(error, shown))
            out.append(SchemaProblem(tuple(error.absolute_path), text))
        out.sort(key=lambda p: [str(s) for s in p.path])
        return out


def schema_problems(schema: Mapping[str, Any], body: Mapping[str, Any]) -> list[SchemaProblem]:
    """Every way ``body`` breaks ``schema`` (empty when valid), secrets masked."""
    from jsonschema.exceptions import SchemaError

    try:
        return _Checker(schema).problems(body)
    except SchemaError as err:  # pragma: no cover - the server's schema is broken
        return [SchemaProblem((), f"the schema is not a valid JSON Schema: {err.message}")]


# ----------------------------------------------------------------------------- a plan's bodies


@dataclass(frozen=True, slots=True)
class Body:
    """One body a plan would write: to which service, how, and what the server validates.

    ``checked`` is ``body`` for a PUT, ``body`` merged into the live configuration for a
    PATCH. ``spec`` is the declaration that wrote it (for the places of its keys)."""

    kind: ServiceKind
    name: str
    method: Literal["PUT", "PATCH"]
    body: Mapping[str, Any]
    checked: Mapping[str, Any]
    spec: ServiceSpec


def declaration(desired: DesiredState, live: LiveState, kind: str, name: str) -> ServiceSpec | None:
    """The declaration a plan's service change comes from: the service declared under
    ``name``, else the ``inbound:`` of the pool the live number ``name`` belongs to."""
    service_kind: ServiceKind = "inbound" if kind == "inbound" else "outbound"
    spec = desired.services(service_kind).get(name)
    if spec is not None or service_kind != "inbound":
        return spec
    number = live.numbers.get(name)
    pool = desired.pool_of(name, number.location) if number is not None else None
    if pool is None or pool.inbound is None:
        return None
    return pool.inbound.for_number(name, pool.origin)


def bodies_to_write(plan: Plan, desired: DesiredState, live: LiveState) -> list[Body]:
    """Every body ``plan`` would write, in plan order (a pool's new numbers: once)."""
    out: list[Body] = []
    for change in plan.changes:
        if isinstance(change, CreateService | UpdateService):
            spec = declaration(desired, live, change.service_kind, change.name)
            if spec is None:  # pragma: no cover - every planned write comes from one
                continue
            method: Literal["PUT", "PATCH"] = (
                "PUT" if isinstance(change, CreateService) else change.method
            )
            checked: Mapping[str, Any] = change.body
            if method == "PATCH":
                current = live.services(change.service_kind).get(change.name)
                if current is not None:
                    checked = deep_merge(current.config, change.body)
            out.append(Body(change.service_kind, change.name, method, change.body, checked, spec))
        elif isinstance(change, Purchase) and change.inbound is not None:
            pool = desired.pools.get(change.pool)
            origin = pool.origin if pool is not None else Origin("<plan>", 0, 0)
            spec = change.inbound.for_number(f"<new numbers of pool {change.pool}>", origin)
            body = change.inbound.config
            out.append(Body("inbound", spec.name, "PUT", body, body, spec))
    return out


def kinds_to_check(bodies: Iterable[Body]) -> set[ServiceKind]:
    """The kinds whose schema the check needs."""
    return {b.kind for b in bodies}


def check_bodies(
    bodies: Sequence[Body], schemas: Mapping[str, Mapping[str, Any]], *, whose: str
) -> list[str]:
    """Every problem of ``bodies`` against ``schemas`` (by kind), one line each, at the
    place in the YAML of the offending key; the same problem of many numbers of a pool is
    told once. ``whose``: the schemas' owner for the message (``the server's``)."""
    checkers: dict[str, _Checker] = {}
    seen: dict[tuple[str, str, int], list[SchemaProblem]] = {}
    grouped: dict[tuple[Origin, str, str], list[str]] = {}
    for body in bodies:
        schema = schemas.get(body.kind)
        if schema is None:
            continue
        checker = checkers.get(body.kind)
        if checker is None:
            checker = checkers[body.kind] = _Checker(schema)
        # A pool's configuration is one object shared by every number: check it once.
        key = (body.kind, body.method, id(body.checked))
        found = seen.get(key)
        if found is None:
            found = seen[key] = checker.problems(body.checked)
        for problem in found:
            where = body.spec.place_of(problem.path)
            grouped.setdefault((where, body.kind, str(problem)), []).append(body.name)
    lines: list[str] = []
    for (where, kind, text), names in grouped.items():
        more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
        lines.append(
            f"{where}: {kind} service {names[0]}{more}: {text} ({whose} {kind} schema refuses this)"
        )
    return sorted(lines)


# ----------------------------------------------------------------------------- offline


def _declared(config: Any, path: Path) -> bool:
    """True when the YAML's ``config`` itself holds a value at ``path``."""
    node = config
    for step in path:
        if not isinstance(node, Mapping) or step not in node:
            return False
        node = node[step]
    return True


def check_declared(
    desired: DesiredState,
    schemas: Mapping[str, Mapping[str, Any]],
    *,
    whose: str,
    then: str = "",
) -> list[Diagnostic]:
    """``validate``'s offline check of every declared configuration against ``schemas``
    (the copies shipped in ``schemas/``), as errors at the offending keys.

    ``mode: replace`` configurations are what a PUT sends: checked whole. A ``mode: merge``
    configuration is merged into the live one, which validate doesn't read: it is checked
    with the schema's defaults under it, and only the problems at keys it declares count
    (a required option it leaves to the live configuration is the server's to judge)."""
    specs: list[ServiceSpec] = [*desired.inbound_services.values()]
    specs.extend(desired.outbound_services.values())
    for pool in desired.pools.values():
        if pool.inbound is not None:
            specs.append(pool.inbound.for_number(f"<numbers of pool {pool.name}>", pool.origin))
    checkers: dict[str, _Checker] = {}
    under: dict[str, dict[str, Any]] = {}
    out: list[Diagnostic] = []
    done: set[tuple[int, Origin]] = set()
    for spec in specs:
        schema = schemas.get(spec.kind)
        if schema is None or (id(spec.config), spec.origin) in done:
            continue
        done.add((id(spec.config), spec.origin))
        checker = checkers.get(spec.kind)
        if checker is None:
            checker = checkers[spec.kind] = _Checker(schema)
            under[spec.kind] = schema_defaults(schema, every_option=True)
        if spec.mode == "replace":
            found = checker.problems(spec.config)
        else:
            merged = deep_merge(under[spec.kind], spec.config)
            found = [
                p for p in checker.problems(merged) if p.path and _declared(spec.config, p.path)
            ]
        for problem in found:
            where = spec.place_of(problem.path)
            out.append(
                Diagnostic(
                    where.file,
                    where.line,
                    where.column,
                    f"{spec.kind} service {spec.name}: {problem} "
                    f"({whose} {spec.kind} schema refuses this{then})",
                )
            )
    return out


def check_shipped(desired: DesiredState) -> list[Diagnostic]:
    """:func:`check_declared` against the copies of the service schemas reconciler ships
    (``validate``, offline); each message says that the server's schema decides."""
    from reconciler.schemas import shipped_service_schema

    schemas: dict[str, Mapping[str, Any]] = {}
    for kind in KINDS:
        try:
            schemas[kind] = shipped_service_schema(kind)
        except (OSError, ValueError):  # pragma: no cover - an installation without them
            continue
    return check_declared(
        desired,
        schemas,
        whose="reconciler's copy of the vendor's",
        then="; the server's own schema decides: `reconciler plan` checks against it",
    )
