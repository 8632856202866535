"""Typed changes and the Plan that holds them: one object shared by ``plan`` and ``apply``.

Modelled on octoDNS: the planner (a pure function of desired and live state) produces a
:class:`Plan`; safety checks read it (:mod:`reconciler.plan.safety`); renderers (text, json,
markdown) live apart and only read it; the applier executes its changes in order.

Every change has an ``address`` (``inbound:441908538007``, ``pool:london-support``,
``relay:44113000111``, ``number:441908538007``) that names it in output, journal and errors,
and ``depends_on``: the live resources (fingerprint keys of
:meth:`reconciler.live.model.LiveState.resource_fingerprints`) whose state it was computed
from. A saved plan is refused when any of those changed.

The JSON form (:meth:`Plan.as_json`, documented by ``schemas/plan.schema.json``) is what
``--format json`` prints and what ``--out`` saves. It never holds a secret: every
:class:`~reconciler.secret.Secret` (and anything that looks like one: a value under a secret
key, a URL with a password) is shown by its mask. :meth:`Plan.from_json` reads it back; the
secrets it cannot restore become :class:`RedactedSecret`, which refuses to be revealed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import UnionType
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

from reconciler.desired.model import Location, PoolInbound, SafetyLimits, ServiceKind
from reconciler.errors import PlanFileError
from reconciler.names import printable
from reconciler.plan.grouping import Group, group_by
from reconciler.secret import MASK, Secret, json_default, masked

if TYPE_CHECKING:
    from reconciler.plan.safety import Verdict

Action = Literal["add", "change", "remove"]

# Version of the JSON form (and of saved plan files). Bump on any incompatible change.
FORMAT_VERSION = 2

# The fingerprint recorded for a resource a change depends on that does not exist (yet): a
# service the plan creates. If it exists when a saved plan is applied, the plan is stale.
ABSENT = "absent"

_MASKED_URL = f":{MASK}@"


class RedactedSecret(Secret):
    """A secret read back from a saved plan: only its mask was saved, so its value is gone.

    It displays and compares like the mask; :meth:`reveal` raises, so a value restored from
    a plan file can never be sent to an API by mistake (apply re-plans from the YAML).
    """

    __slots__ = ()

    def __init__(self, display: str = MASK) -> None:
        # An empty value: nothing to register for redaction, nothing to leak.
        super().__init__("", display=display)

    def reveal(self) -> str:
        raise PlanFileError(
            "a saved plan holds no secret values",
            hint="apply re-plans from the desired state; it never sends values from a plan file",
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RedactedSecret):
            return self.display == other.display
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("RedactedSecret", self.display))


def public(value: Any, *, key: str | None = None) -> Any:
    """``value`` as it may be shown or saved: every secret replaced by its mask.

    Defence in depth: besides :class:`Secret` values, plain strings under a secret key and URLs
    with a password are masked too, in case something upstream forgot to wrap them.
    """
    return masked(value, key=key)


def restore(value: Any) -> Any:
    """The inverse of :func:`public` as far as it goes: masks become :class:`RedactedSecret`."""
    if isinstance(value, str):
        if value == MASK or _MASKED_URL in value:
            return RedactedSecret(value)
        return value
    if isinstance(value, Mapping):
        return {str(k): restore(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [restore(v) for v in value]
    return value


# ----------------------------------------------------------------------------- JSON codecs
#
# A change's JSON form is written from its dataclass fields, each through the codec of its
# type (:func:`_codec_for`), under its own name or the dotted ``json`` name of its field
# metadata (``old.action``). One registry of kinds (:data:`CHANGE_KINDS`) reads it back.


@dataclass(frozen=True, slots=True)
class _Codec:
    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"a price must be a string, not {type(value).__name__}")
    return Decimal(value)


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of strings")
    return tuple(value)


def _counts(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in _mapping(value).items()}


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected an object")
    return cast(Mapping[str, Any], value)


def _same(value: Any) -> Any:
    return value


def _location(value: Any) -> Location:
    location = Location.from_json(value)
    if location is None:
        raise ValueError("not a location")
    return location


def _inbound_json(inbound: PoolInbound) -> dict[str, Any]:
    return {
        "mode": inbound.mode,
        "ignore_changes": list(inbound.ignore_changes),
        "config": public(inbound.config),
    }


def _inbound(value: Any) -> PoolInbound:
    raw = _mapping(value)
    mode = raw["mode"]
    if mode not in ("merge", "replace"):
        raise ValueError(f"unknown service mode {mode!r}")
    return PoolInbound(
        config=_mapping(restore(raw["config"])),
        mode=mode,
        ignore_changes=_str_tuple(raw["ignore_changes"]),
    )


def _one_of(allowed: tuple[Any, ...]) -> Callable[[Any], Any]:
    def load(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"unknown value {value!r} (expected one of {list(allowed)})")
        return value

    return load


def _field_changes(value: Any) -> tuple[FieldChange, ...]:
    if not isinstance(value, list):
        raise ValueError("diff must be a list")
    return tuple(FieldChange.from_json(_mapping(d)) for d in value)


_SIMPLE_CODECS: dict[Any, _Codec] = {
    str: _Codec(_same, str),
    int: _Codec(_same, int),
    bool: _Codec(_same, bool),
    Decimal: _Codec(_money, _decimal),
    Location: _Codec(Location.as_json, _location),
    PoolInbound: _Codec(_inbound_json, _inbound),
}


def _codec_for(hint: Any) -> _Codec:
    """The codec of a change field's type. A type without one is a programming error, raised
    when the change type is registered (at import), never while reading a plan."""
    if hint in _SIMPLE_CODECS:
        return _SIMPLE_CODECS[hint]
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType) and type(None) in args and len(args) == 2:
        inner = _codec_for(next(a for a in args if a is not type(None)))
        return _Codec(
            lambda v: None if v is None else inner.dump(v),
            lambda v: None if v is None else inner.load(v),
        )
    if origin is Literal:
        return _Codec(_same, _one_of(args))
    if origin is tuple and args == (str, ...):
        # A relay route's detail may be a URL with a password: written masked.
        return _Codec(lambda v: public(list(v)), _str_tuple)
    if origin is tuple and args == (FieldChange, ...):
        return _Codec(lambda v: [d.as_json() for d in v], _field_changes)
    if origin is Mapping:
        return _Codec(public, lambda v: _mapping(restore(v)))
    raise TypeError(f"no JSON codec for a change field of type {hint!r}")


@dataclass(frozen=True, slots=True)
class _FieldCodec:
    name: str
    path: tuple[str, ...]
    codec: _Codec


def _json_name(name: str) -> Any:
    """Field metadata: the field's dotted name in the JSON form (``old.action``)."""
    return field(metadata={"json": name})


# ----------------------------------------------------------------------------- changes


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs: ``path`` is dotted (``rest.first_page.address``).

    ``old`` is the live value, ``new`` the declared one; either may hold
    :class:`~reconciler.secret.Secret` values, which renderers show masked. ``old`` is None
    for ``add``, ``new`` is None for ``remove``.
    """

    path: str
    action: Action
    old: Any = None
    new: Any = None

    @property
    def key(self) -> str:
        """The last element of the path: decides whether a plain value is a secret."""
        return self.path.rsplit(".", 1)[-1]

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "action": self.action}
        if self.action != "add":
            data["old"] = public(self.old, key=self.key)
        if self.action != "remove":
            data["new"] = public(self.new, key=self.key)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldChange:
        action = data["action"]
        if action not in ("add", "change", "remove"):
            raise ValueError(f"unknown field action {action!r}")
        return cls(
            path=str(data["path"]),
            action=action,
            old=restore(data.get("old")),
            new=restore(data.get("new")),
        )


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _fields_differ(n: int) -> str:
    return (
        f"{_plural(n, 'field')} {'differs' if n == 1 else 'differ'} from the declared configuration"
    )


# Every change kind by its JSON name, and the codecs of its fields (filled by
# :func:`change_kind`).
CHANGE_KINDS: dict[str, type[Change]] = {}
_CODECS: dict[type[Change], tuple[_FieldCodec, ...]] = {}

C = TypeVar("C", bound="type[Change]")


def change_kind(cls: C) -> C:
    """Register a change type: its ``kind`` names it in JSON, its fields are written through
    the codecs of their types."""
    hints = get_type_hints(cls)
    _CODECS[cls] = tuple(
        _FieldCodec(
            f.name, tuple(f.metadata.get("json", f.name).split(".")), _codec_for(hints[f.name])
        )
        for f in dataclasses.fields(cls)
    )
    CHANGE_KINDS[cls.kind] = cls
    return cls


@dataclass(frozen=True, slots=True)
class Change:
    """Base of every change: what renderers, drift and the journal read, whatever the kind.

    - ``kind`` is the JSON name, ``mark`` the text mark (+ ~ -), ``address`` the name of the
      resource (``inbound:sales``), ``resource`` its noun (``inbound service``);
    - ``headline`` says what apply does in a few words (``update (PATCH)``), ``summary`` in
      one line for a table, ``facts`` in lines above the field diffs;
    - ``fields`` are the field diffs, live (``old``) to declared (``new``); ``config`` is a
      configuration apply creates (shown whole, under ``config_title`` when there is one);
      ``cautions`` are shown after them;
    - ``finding`` is how the live account differs (drift), ``remedy`` what apply would do;
    - ``irreversible``: apply does it only with ``--allow-release``
      (:class:`reconciler.plan.safety.Verdict` says whether it is blocked).

    Extension point: a new kind subclasses this as a frozen dataclass registered with
    :func:`change_kind` (fields of a type :func:`_codec_for` knows), defines the properties
    above, and takes its place in :data:`APPLY_ORDER`.
    """

    kind: ClassVar[str] = "change"
    mark: ClassVar[str] = "~"
    irreversible: ClassVar[bool] = False
    # The JSON keys that name the resource rather than the edit (see :meth:`edit`).
    identity: ClassVar[tuple[str, ...]] = ()

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def depends_on(self) -> tuple[str, ...]:
        return ()

    @property
    def resource(self) -> str:
        raise NotImplementedError

    @property
    def headline(self) -> str:
        raise NotImplementedError

    @property
    def summary(self) -> str:
        return ""

    @property
    def facts(self) -> tuple[str, ...]:
        return ()

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        return ()

    @property
    def config(self) -> Mapping[str, Any] | None:
        return None

    @property
    def config_title(self) -> str | None:
        return None

    @property
    def cautions(self) -> tuple[str, ...]:
        return ()

    def finding(self, fields_shown: int) -> str:
        """How the live account differs, when ``fields_shown`` of :attr:`fields` are shown
        (drift's ignore rules may silence some)."""
        raise NotImplementedError

    @property
    def remedy(self) -> str:
        raise NotImplementedError

    def extra_json(self) -> dict[str, Any]:
        """Keys of the JSON form computed from the fields (written, never read back)."""
        return {}

    def edit(self) -> str:
        """What this change does, leaving out which resource it does it to: equal for the
        same edit made to many resources (renderers fold those into one entry,
        :meth:`Plan.groups`). Secrets count by their mask, as they are shown."""
        data = self.as_json()
        for key in ("address", "depends_on", *self.identity):
            data.pop(key, None)
        return json.dumps(data, sort_keys=True, default=json_default)

    def as_json(self) -> dict[str, Any]:
        """The change's JSON form, secrets masked."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "address": self.address,
            "depends_on": list(self.depends_on),
        }
        for fc in _CODECS[type(self)]:
            target = data
            for part in fc.path[:-1]:
                target = target.setdefault(part, {})
            target[fc.path[-1]] = fc.codec.dump(getattr(self, fc.name))
        data.update(self.extra_json())
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        """Read a change back from its JSON form (raises KeyError/ValueError/TypeError)."""
        kind = data["kind"]
        change_type = CHANGE_KINDS.get(kind)
        if change_type is None:
            raise ValueError(f"unknown change kind {kind!r}")
        values: dict[str, Any] = {}
        for fc in _CODECS[change_type]:
            value: Any = data
            for part in fc.path:
                value = _mapping(value)[part]
            values[fc.name] = fc.codec.load(value)
        return change_type(**values)


@change_kind
@dataclass(frozen=True, slots=True)
class Purchase(Change):
    """Buy ``quantity`` numbers at the pool's location (one ``tel_purchase`` call).

    ``inbound`` is the service each new number gets (named by the number), created in the
    same apply. ``unit_price`` is estimated from the account's numbers of the same country
    and did_type (``price_estimated``), or None when unknown. ``existing`` lists the live
    numbers already at this location: the snapshot against which a failed purchase is
    re-counted.
    """

    kind: ClassVar[str] = "purchase"
    mark: ClassVar[str] = "+"
    identity: ClassVar[tuple[str, ...]] = ("pool", "existing")

    pool: str
    location: Location
    quantity: int
    allow_landline: bool = False
    allow_cellular: bool = False
    allow_payphone: bool = False
    regulation_address: str | None = None
    inbound: PoolInbound | None = None
    unit_price: Decimal | None = None
    price_estimated: bool = True
    existing: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"pool:{self.pool}"

    @property
    def buys(self) -> int:
        """How many numbers apply is expected to buy: none while blocked."""
        return 0 if self.blocked else self.quantity

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(f"number:{n}" for n in self.existing)

    def purchase_params(self) -> dict[str, str]:
        """The ``tel_purchase`` parameters, as strings (the API's "True"/"False")."""
        params: dict[str, str] = {
            "country": self.location.country,
            "region": self.location.region,
            "quantity": str(self.quantity),
            "did_type": self.location.did_type,
        }
        if self.location.state:
            params["state"] = self.location.state
        if self.regulation_address:
            params["regulation_address"] = self.regulation_address
        if self.location.did_type == "tollfree":
            params["allow_landline"] = str(self.allow_landline)
            params["allow_cellular"] = str(self.allow_cellular)
            params["allow_payphone"] = str(self.allow_payphone)
        return params

    def extra_json(self) -> dict[str, Any]:
        return {"params": self.purchase_params()}

    @property
    def resource(self) -> str:
        return "pool"

    @property
    def headline(self) -> str:
        if self.blocked:
            return (
                f"blocked: {_plural(self.quantity, 'number')} missing, but an earlier purchase "
                "has an unknown outcome"
            )
        return f"purchase {_plural(self.quantity, 'number')}"

    def _price(self) -> str:
        if self.unit_price is None:
            return "price unknown"
        return f"est. ${self.unit_price.quantize(Decimal('0.01'))}/month each"

    @property
    def summary(self) -> str:
        return f"{self.location}; {self._price()}"

    @property
    def facts(self) -> tuple[str, ...]:
        lines = [f"location: {self.location}"]
        if self.regulation_address:
            lines.append(f"regulation address: {self.regulation_address}")
        if self.location.did_type == "tollfree":
            allowed = [
                name
                for name, on in (
                    ("landline", self.allow_landline),
                    ("cellular", self.allow_cellular),
                    ("payphone", self.allow_payphone),
                )
                if on
            ]
            lines.append(f"callers allowed: {', '.join(allowed) or 'none'}")
        lines.append(f"price: {self._price().removeprefix('price ')}")
        if self.pending:
            lines.append(
                f"{len(self.pending):,} bought, waiting for the account to list them: "
                f"{', '.join(self.pending)}"
            )
        return tuple(lines)

    @property
    def cautions(self) -> tuple[str, ...]:
        return tuple(
            f"a purchase of {b} has an unknown outcome: apply re-lists and buys nothing for "
            f"this pool until the account lists its numbers (or, once you have checked the "
            f"account, `apply --forget-purchase {self.pool}`)"
            for b in self.blocked
        )

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        have = len(self.existing) + len(self.pending)
        return (FieldChange("count", "change", have, have + self.quantity),)

    @property
    def config(self) -> Mapping[str, Any] | None:
        return None if self.inbound is None else self.inbound.config

    @property
    def config_title(self) -> str | None:
        if self.inbound is None:
            return None
        return f"each new number gets an inbound service ({self.inbound.mode}):"

    def finding(self, fields_shown: int) -> str:
        have = len(self.existing)
        return f"has {have:,} of {have + self.quantity:,} numbers at {self.location}"

    @property
    def remedy(self) -> str:
        return f"apply would buy {_plural(self.quantity, 'number')} there (tel_purchase)"


@change_kind
@dataclass(frozen=True, slots=True)
class Release(Change):
    """Release (delete) a number: irreversible, so blocked without ``--allow-release``."""

    kind: ClassVar[str] = "release"
    mark: ClassVar[str] = "-"
    irreversible: ClassVar[bool] = True
    identity: ClassVar[tuple[str, ...]] = ("number",)

    number: str
    reason: str  # "pool london-support has 4 numbers, wants 3" / "prune: matches no pool or pin"
    pool: str | None = None
    monthly_price: Decimal | None = None
    has_inbound_service: bool = False

    @property
    def address(self) -> str:
        return f"number:{self.number}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"number:{self.number}",)

    @property
    def resource(self) -> str:
        return "number"

    @property
    def headline(self) -> str:
        return "release"

    @property
    def summary(self) -> str:
        facts = [self.reason]
        if self.monthly_price is not None:
            facts.append(f"${self.monthly_price.quantize(Decimal('0.01'))}/month")
        if self.has_inbound_service:
            facts.append("has an inbound service")
        return "; ".join(facts)

    @property
    def facts(self) -> tuple[str, ...]:
        return (self.summary,)

    def finding(self, fields_shown: int) -> str:
        return self.reason

    @property
    def remedy(self) -> str:
        return (
            "apply --allow-release would release it (irreversible); "
            "without --allow-release apply refuses the plan (exit 3)"
        )


class _Service:
    """The address and noun of a change to a service (mixed into the service changes)."""

    __slots__ = ()

    service_kind: ServiceKind
    name: str
    identity: ClassVar[tuple[str, ...]] = ("name",)

    @property
    def address(self) -> str:
        return f"{self.service_kind}:{printable(self.name)}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        # A create depends on the service being absent: a saved plan is stale if it appeared.
        return (self.address,)

    @property
    def resource(self) -> str:
        return f"{self.service_kind} service"


@change_kind
@dataclass(frozen=True, slots=True)
class CreateService(_Service, Change):
    """Create a service with PUT. ``body`` is the exact request body (secrets wrapped)."""

    kind: ClassVar[str] = "create_service"
    mark: ClassVar[str] = "+"

    service_kind: ServiceKind
    name: str
    body: Mapping[str, Any]
    method: Literal["PUT"] = "PUT"

    @property
    def headline(self) -> str:
        return "create (PUT)"

    @property
    def summary(self) -> str:
        return _plural(_leaf_count(self.body), "option")

    @property
    def config(self) -> Mapping[str, Any] | None:
        return self.body

    def finding(self, fields_shown: int) -> str:
        return "declared, but missing from the account"

    @property
    def remedy(self) -> str:
        return "apply would create it (PUT) with the declared configuration"


def _leaf_count(config: Mapping[str, Any]) -> int:
    return sum(_leaf_count(v) if isinstance(v, Mapping) and v else 1 for v in config.values())


@change_kind
@dataclass(frozen=True, slots=True)
class UpdateService(_Service, Change):
    """Change a service: PATCH with only the differing keys (merge mode) or PUT of the whole
    declared configuration (replace mode). ``diff`` is field by field."""

    kind: ClassVar[str] = "update_service"
    mark: ClassVar[str] = "~"

    service_kind: ServiceKind
    name: str
    method: Literal["PATCH", "PUT"]
    body: Mapping[str, Any]
    diff: tuple[FieldChange, ...]

    @property
    def headline(self) -> str:
        return f"update ({self.method})"

    @property
    def summary(self) -> str:
        return _plural(len(self.diff), "field")

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        return self.diff

    def finding(self, fields_shown: int) -> str:
        return _fields_differ(fields_shown)

    @property
    def remedy(self) -> str:
        paths = ", ".join(fc.path for fc in self.diff)
        if self.method == "PATCH":
            return f"apply would PATCH {paths}"
        return f"apply would PUT the whole declared configuration ({paths} differ)"


@change_kind
@dataclass(frozen=True, slots=True)
class DeleteService(_Service, Change):
    """Delete an undeclared service (prune)."""

    kind: ClassVar[str] = "delete_service"
    mark: ClassVar[str] = "-"

    service_kind: ServiceKind
    name: str

    @property
    def headline(self) -> str:
        return "delete"

    def finding(self, fields_shown: int) -> str:
        return f"on the account, but not declared (prune.{self.service_kind}_services is on)"

    @property
    def remedy(self) -> str:
        return "apply would delete it"


@change_kind
@dataclass(frozen=True, slots=True)
class ModifyRelay(Change):
    """Set an aql number's delivery. ``mvno_takeover``: the live route is ``mvno`` and
    changing it stops delivery to the MVNO SIM (allowed only by ``allow_mvno_takeover``)."""

    kind: ClassVar[str] = "modify_relay"
    mark: ClassVar[str] = "~"
    identity: ClassVar[tuple[str, ...]] = ("number",)

    number: str
    old_action: str | None = _json_name("old.action")
    old_detail: tuple[str, ...] = _json_name("old.detail")
    new_action: str = _json_name("new.action")
    new_detail: tuple[str, ...] = _json_name("new.detail")
    mvno_takeover: bool = False

    @property
    def address(self) -> str:
        return f"relay:{self.number}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (self.address,)

    @property
    def resource(self) -> str:
        return "relay route"

    @property
    def headline(self) -> str:
        return "modify (MVNO takeover)" if self.mvno_takeover else "modify"

    def _detail_changed(self) -> bool:
        # A modify changes the action, the detail, or both. When only a password inside a
        # callback URL changed, a plan read back from a file holds equal masked details:
        # the detail is still what changed.
        return self.old_detail != self.new_detail or self.old_action == self.new_action

    @property
    def summary(self) -> str:
        if self.old_action == self.new_action:
            return f"{self.new_action}: detail changed"
        return f"{self.old_action} → {self.new_action}"

    @property
    def fields(self) -> tuple[FieldChange, ...]:
        out = []
        if self.old_action != self.new_action:
            out.append(FieldChange("action", "change", self.old_action, self.new_action))
        if self._detail_changed():
            out.append(
                FieldChange("detail", "change", list(self.old_detail), list(self.new_detail))
            )
        return tuple(out)

    @property
    def cautions(self) -> tuple[str, ...]:
        if not self.mvno_takeover:
            return ()
        return ("takes the number over from its MVNO: SMS delivery to the SIM stops",)

    def finding(self, fields_shown: int) -> str:
        return "differs from the declared route"

    @property
    def remedy(self) -> str:
        remedy = f"apply would set it to {self.new_action}"
        if self.new_detail:
            detail = public(list(self.new_detail))
            remedy += " " + ",".join(str(d) for d in detail)
        if self.mvno_takeover:
            remedy += " (this stops delivery to the number's MVNO SIM)"
        return remedy


# Apply order (docs/commands.md, Apply): purchases, service creates/updates, relay routes, service
# deletes, releases.
APPLY_ORDER: tuple[type[Change], ...] = (
    Purchase,
    CreateService,
    UpdateService,
    ModifyRelay,
    DeleteService,
    Release,
)


@dataclass(frozen=True, slots=True)
class CostChange:
    """The monthly price change of a plan, in USD.

    ``purchased`` is the estimated monthly price of the numbers bought (from the account's
    numbers of the same country and did_type); ``purchased_unknown`` counts those with no
    estimate. ``released`` is the listed monthly price of the numbers released;
    ``released_unknown`` counts those with no listed price.
    """

    purchase_numbers: int = 0
    purchased: Decimal = Decimal(0)
    purchased_unknown: int = 0
    release_numbers: int = 0
    released: Decimal = Decimal(0)
    released_unknown: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.purchase_numbers or self.release_numbers)

    @property
    def net(self) -> Decimal:
        """Known part of the change: estimated purchases minus listed releases."""
        return self.purchased - self.released

    @property
    def estimated(self) -> bool:
        return self.purchase_numbers > self.purchased_unknown

    @property
    def has_unknown(self) -> bool:
        return bool(self.purchased_unknown or self.released_unknown)

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "purchases": {
                "numbers": self.purchase_numbers,
                "monthly": _money(self.purchased),
                "unknown_numbers": self.purchased_unknown,
                "estimated": True,
            },
            "releases": {
                "numbers": self.release_numbers,
                "monthly": _money(self.released),
                "unknown_numbers": self.released_unknown,
            },
            "net_monthly": _money(self.net),
            "net_estimated": self.estimated,
            "net_incomplete": self.has_unknown,
        }


# Keys of the JSON form that describe the live state rather than the changes: a plan
# re-computed at apply time is compared without them (staleness is checked on its own).
_LIVE_KEYS = ("fingerprints", "live_fingerprint", "sources")


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change, in apply order, with what it was computed from.

    ``warnings`` are shown and do not stop anything (an MVNO takeover, an inbound service
    named by a number nobody owns). ``unmanaged_numbers`` lists live numbers matching no
    pool or pin that are not released (number pruning off, or ignored by ``prune.ignore``);
    ``unmanaged_services`` the addresses (``inbound:legacy``) of live services nothing
    declares that are not deleted (service pruning off, ``prune.ignore``, or the service of a
    pool number whose pool has no ``inbound:``). ``fingerprints`` are the live fingerprints
    the changes depend on (:data:`ABSENT` for a resource that does not exist, e.g. a service
    to create); ``live_fingerprint`` digests the whole snapshot. ``managed_services`` counts,
    per kind, the services on the account before apply that the YAML manages (declared, the
    inbound services of the pools' kept numbers, or pruned): the denominators of the
    percentage limits. ``live_services`` counts every service of each kind on the account.
    ``safety`` holds the limits of the desired state, for output.
    """

    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged_numbers: tuple[str, ...] = ()
    unmanaged_services: tuple[str, ...] = ()
    managed_services: Mapping[str, int] = field(default_factory=dict)
    live_services: Mapping[str, int] = field(default_factory=dict)
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    live_fingerprint: str = ""
    sources: tuple[str, ...] = ()
    safety: SafetyLimits = field(default_factory=SafetyLimits)

    def groups(self) -> tuple[Group[Change], ...]:
        """The changes, the same edit to many resources gathered into one group (in apply
        order, each group where its first change is)."""
        return group_by(self.changes, Change.edit)

    def of(self, kind: type[Change]) -> list[Any]:
        return [c for c in self.changes if isinstance(c, kind)]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        """Summary counts: numbers to purchase, services to create/update/delete, relay
        routes to change, numbers to release.

        ``create`` includes ``create_pending``: the inbound services of the numbers to
        purchase (one per new number of a pool with ``inbound:``), which apply creates once
        the numbers are known.
        """
        purchases: Sequence[Purchase] = self.of(Purchase)
        pending = sum(p.buys for p in purchases if p.inbound is not None)
        return {
            "purchase": sum(p.buys for p in purchases),
            "create": len(self.of(CreateService)) + pending,
            "create_pending": pending,
            "update": len(self.of(UpdateService)),
            "delete": len(self.of(DeleteService)),
            "relay": len(self.of(ModifyRelay)),
            "release": len(self.of(Release)),
        }

    def cost(self) -> CostChange:
        """The monthly price change (purchases estimated, releases at their listed price)."""
        purchase_numbers = purchased_unknown = release_numbers = released_unknown = 0
        purchased = released = Decimal(0)
        for change in self.changes:
            if isinstance(change, Purchase):
                purchase_numbers += change.buys
                if change.unit_price is None:
                    purchased_unknown += change.buys
                else:
                    purchased += change.unit_price * change.buys
            elif isinstance(change, Release):
                release_numbers += 1
                if change.monthly_price is None:
                    released_unknown += 1
                else:
                    released += change.monthly_price
        return CostChange(
            purchase_numbers=purchase_numbers,
            purchased=purchased,
            purchased_unknown=purchased_unknown,
            release_numbers=release_numbers,
            released=released,
            released_unknown=released_unknown,
        )

    def as_json(self, verdict: Verdict) -> dict[str, Any]:
        """The JSON form (``schemas/plan.schema.json``): stable, secrets masked.

        ``verdict`` (:func:`reconciler.plan.safety.check_safety`) decides which changes show
        as blocked and lists the refusals apply would make.
        """
        data = self._facts_json()
        blocked = 0
        for change, change_data in zip(self.changes, data["changes"], strict=True):
            if change.irreversible:
                change_data["blocked"] = verdict.blocks(change)
                blocked += change_data["blocked"]
        data["summary"]["release_blocked"] = blocked
        data["safety"]["refusals"] = list(verdict.messages)
        data["groups"] = [
            {
                "kind": group.first.kind,
                "count": len(group),
                "headline": group.first.headline,
                "addresses": [c.address for c in group.items],
            }
            for group in self.groups()
            if group.folded
        ]
        return data

    def _facts_json(self) -> dict[str, Any]:
        """The JSON form without what the verdict adds (what is blocked, what is refused)."""
        return {
            "format_version": FORMAT_VERSION,
            "summary": self.counts(),
            "changes": [change.as_json() for change in self.changes],
            "warnings": list(self.warnings),
            "unmanaged_numbers": list(self.unmanaged_numbers),
            "unmanaged_services": list(self.unmanaged_services),
            "managed_services": dict(sorted(self.managed_services.items())),
            "live_services": dict(sorted(self.live_services.items())),
            "cost": self.cost().as_json(),
            "safety": {
                "limits": {
                    "max_purchase": self.safety.max_purchase,
                    "max_delete_percent": self.safety.max_delete_percent,
                    "max_update_percent": self.safety.max_update_percent,
                    "min_existing": self.safety.min_existing,
                },
            },
            "fingerprints": dict(sorted(self.fingerprints.items())),
            "live_fingerprint": self.live_fingerprint,
            "sources": list(self.sources),
        }

    def comparable(self) -> dict[str, Any]:
        """What must be equal between a saved plan and the plan re-computed at apply time:
        the JSON form without the live fingerprints and sources (checked separately) and
        without what depends on command-line flags (the verdict)."""
        data = self._facts_json()
        for key in _LIVE_KEYS:
            data.pop(key, None)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan back from its JSON form. Raises KeyError/ValueError/TypeError on a
        malformed document (:func:`reconciler.plan.saved.load_plan` turns them into
        :class:`~reconciler.errors.PlanFileError`). Secrets come back as
        :class:`RedactedSecret`."""
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r} is not supported")
        limits = _mapping(_mapping(data["safety"])["limits"])
        changes = data["changes"]
        if not isinstance(changes, list):
            raise ValueError("changes must be a list")
        fingerprints = _mapping(data["fingerprints"])
        return cls(
            changes=tuple(Change.from_json(_mapping(c)) for c in changes),
            warnings=_str_tuple(data["warnings"]),
            unmanaged_numbers=_str_tuple(data["unmanaged_numbers"]),
            # Absent from plans saved before it was listed.
            unmanaged_services=_str_tuple(data.get("unmanaged_services", [])),
            managed_services=_counts(data["managed_services"]),
            live_services=_counts(data["live_services"]),
            fingerprints={str(k): str(v) for k, v in fingerprints.items()},
            live_fingerprint=str(data["live_fingerprint"]),
            sources=_str_tuple(data["sources"]),
            safety=SafetyLimits(
                max_purchase=int(limits["max_purchase"]),
                max_delete_percent=float(limits["max_delete_percent"]),
                max_update_percent=float(limits["max_update_percent"]),
                min_existing=int(limits["min_existing"]),
            ),
        )
