"""The drift report: what differs between the live account and the desired state.

Drift is read off the same :class:`~reconciler.plan.changes.Plan` that ``reconciler plan``
makes: every change apply would make is a resource that drifted. The report keeps, for each,
the fields that differ (live and declared values, secrets masked by their type) and what
apply would do about it, after the ignore rules (``drift.ignore`` in the YAML and
``--ignore`` on the command line) have silenced known, accepted drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.drift.ignore import IgnoreRule, first_match, parse_rules
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.plan.changes import (
    Change,
    CreateService,
    DeleteService,
    FieldChange,
    ModifyRelay,
    Plan,
    Purchase,
    Release,
    UpdateService,
)
from reconciler.secret import Secret, conceal


@dataclass(frozen=True, slots=True)
class DriftField:
    """One field that differs: ``live`` is on the account, ``declared`` is in the YAML.

    Values may be :class:`~reconciler.secret.Secret`; renderers show their mask.
    ``action`` is ``add`` (missing live), ``change`` or ``remove`` (apply would take it back
    to its default).
    """

    path: str
    action: str
    live: Any
    declared: Any


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One drifted resource and what ``reconciler apply`` would do about it.

    ``blocked`` is true when apply would not do it without an extra flag
    (``--allow-release`` for a release).
    """

    address: str
    kind: str  # the change kind of the plan: update_service, purchase, ...
    resource: str  # "inbound service", "pool", ...
    summary: str
    remedy: str
    fields: tuple[DriftField, ...] = ()
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Silenced:
    """Drift an ignore rule silenced: a whole resource (``field`` None) or one field."""

    address: str
    field: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every drifted resource, the drift that was silenced, and the plan's warnings."""

    items: tuple[DriftItem, ...] = ()
    silenced: tuple[Silenced, ...] = ()
    unused_patterns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged_numbers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.items

    @property
    def exit_code(self) -> int:
        """0 in sync, 2 drift found (DESIGN.md §3)."""
        return EXIT_OK if self.in_sync else EXIT_CHANGES

    def counts(self) -> dict[str, int]:
        """Drifted resources by resource type, in report order."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.resource] = out.get(item.resource, 0) + 1
        return out


# --------------------------------------------------------------------------- per change


def _service_noun(kind: str) -> str:
    return f"{kind} service"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fields_differ(n: int) -> str:
    verb = "differs" if n == 1 else "differ"
    return f"{_plural(n, 'field')} {verb} from the declared configuration"


def _describe(change: Change) -> DriftItem:
    """The drift one change stands for (before ignore rules)."""
    if isinstance(change, UpdateService):
        fields = tuple(_field(fc) for fc in change.diff)
        paths = ", ".join(fc.path for fc in change.diff)
        how = (
            f"PATCH {paths}"
            if change.method == "PATCH"
            else f"PUT the whole declared configuration ({paths} differ)"
        )
        return DriftItem(
            address=change.address,
            kind=change.kind,
            resource=_service_noun(change.service_kind),
            summary=_fields_differ(len(fields)),
            remedy=f"apply would {how}",
            fields=fields,
        )
    if isinstance(change, CreateService):
        return DriftItem(
            address=change.address,
            kind=change.kind,
            resource=_service_noun(change.service_kind),
            summary="declared, but missing from the account",
            remedy="apply would create it (PUT) with the declared configuration",
        )
    if isinstance(change, DeleteService):
        return DriftItem(
            address=change.address,
            kind=change.kind,
            resource=_service_noun(change.service_kind),
            summary=(
                f"on the account, but not declared (prune.{change.service_kind}_services is on)"
            ),
            remedy="apply would delete it",
        )
    if isinstance(change, Purchase):
        have = len(change.existing)
        want = have + change.quantity
        return DriftItem(
            address=change.address,
            kind=change.kind,
            resource="pool",
            summary=f"has {have} of {want} numbers at {change.location}",
            remedy=f"apply would buy {_plural(change.quantity, 'number')} there (tel_purchase)",
            fields=(DriftField("count", "change", have, want),),
        )
    if isinstance(change, Release):
        return DriftItem(
            address=change.address,
            kind=change.kind,
            resource="number",
            summary=change.reason,
            remedy=(
                "apply --allow-release would release it (irreversible); "
                "without --allow-release apply refuses the plan (exit 3)"
            ),
            blocked=True,
        )
    if isinstance(change, ModifyRelay):
        relay_fields: list[DriftField] = []
        if change.old_action != change.new_action:
            relay_fields.append(
                DriftField("action", "change", change.old_action, change.new_action)
            )
        if tuple(change.old_detail) != tuple(change.new_detail):
            relay_fields.append(
                DriftField(
                    "detail",
                    "change",
                    _masked(list(change.old_detail)),
                    _masked(list(change.new_detail)),
                )
            )
        remedy = f"apply would set it to {change.new_action}"
        if change.new_detail:
            remedy += " " + ",".join(_shown(d) for d in _masked(list(change.new_detail)))
        if change.mvno_takeover:
            remedy += " (this stops delivery to the number's MVNO SIM)"
        return DriftItem(
            address=change.address,
            kind=change.kind,
            resource="relay route",
            summary="differs from the declared route",
            remedy=remedy,
            fields=tuple(relay_fields),
        )
    return DriftItem(  # a change type added later: still reported, never dropped
        address=change.address,
        kind=change.kind,
        resource=change.kind.replace("_", " "),
        summary="differs",
        remedy=f"apply would {change.kind.replace('_', ' ')}",
    )


def _masked(value: Any, path: str = "") -> Any:
    """``value`` with every secret wrapped, whatever upstream did: plain strings under a
    secret key and URLs with a password (a relay route's detail comes from aql as text)."""
    return conceal(value, key=path.rsplit(".", 1)[-1] if path else None)


def _shown(value: Any) -> str:
    return value.display if isinstance(value, Secret) else str(value)


def _field(fc: FieldChange) -> DriftField:
    return DriftField(
        path=fc.path,
        action=fc.action,
        live=_masked(fc.old, fc.path),
        declared=_masked(fc.new, fc.path),
    )


# --------------------------------------------------------------------------- the report


def detect_drift(plan: Plan, ignore: Iterable[str] = ()) -> DriftReport:
    """The drift report of ``plan`` after the ``ignore`` rules (see
    :mod:`reconciler.drift.ignore`). Pure: reads nothing, writes nothing.

    A resource is silenced by a rule without a field part that matches its address; a field
    by a rule that matches its address and the field (or a parent); a resource whose every
    field is silenced is silenced whole.
    """
    rules: Sequence[IgnoreRule] = parse_rules(ignore)
    used: set[str] = set()
    items: list[DriftItem] = []
    silenced: list[Silenced] = []
    for change in plan.changes:
        item = _describe(change)
        rule = first_match(rules, item.address)
        if rule is not None:
            used.add(rule.pattern)
            silenced.append(Silenced(item.address, None, rule.pattern))
            continue
        if item.fields:
            kept: list[DriftField] = []
            for f in item.fields:
                rule = first_match(rules, item.address, f.path)
                if rule is None:
                    kept.append(f)
                else:
                    used.add(rule.pattern)
                    silenced.append(Silenced(item.address, f.path, rule.pattern))
            if not kept:
                continue
            if len(kept) != len(item.fields):
                item = DriftItem(
                    address=item.address,
                    kind=item.kind,
                    resource=item.resource,
                    summary=item.summary
                    if item.kind != "update_service"
                    else _fields_differ(len(kept)),
                    remedy=item.remedy,
                    fields=tuple(kept),
                    blocked=item.blocked,
                )
        items.append(item)
    return DriftReport(
        items=tuple(items),
        silenced=tuple(silenced),
        unused_patterns=tuple(r.pattern for r in rules if r.pattern not in used),
        warnings=tuple(plan.warnings),
        unmanaged_numbers=tuple(plan.unmanaged_numbers),
        sources=tuple(plan.sources),
    )
