"""The drift report: what differs between the live account and the desired state.

Drift is read off the same :class:`~reconciler.plan.changes.Plan` that ``reconciler plan``
makes: every change apply would make is a resource that drifted. The report keeps, for each,
the fields that differ (live and declared values, secrets masked by their type) and what
apply would do about it, after the ignore rules (``drift.ignore`` in the YAML and
``--ignore`` on the command line) have silenced known, accepted drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.drift.ignore import IgnoreRule, first_match, parse_rules
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.plan.changes import Change, FieldChange, Plan
from reconciler.plan.grouping import Group, group_by
from reconciler.secret import conceal, json_default, to_jsonable


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
    mark: str  # the change's mark: + ~ -
    resource: str  # "inbound service", "pool", ...
    summary: str
    remedy: str
    fields: tuple[DriftField, ...] = ()
    blocked: bool = False

    def edit(self) -> tuple[object, ...]:
        """The item without its address: equal for the same drift on many resources (the
        renderers fold those into one entry). Values count as they are shown."""
        return (
            self.kind,
            self.mark,
            self.resource,
            self.summary,
            self.remedy,
            self.blocked,
            tuple((f.path, f.action, _shown(f.live), _shown(f.declared)) for f in self.fields),
        )


def _shown(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True, default=json_default)


@dataclass(frozen=True, slots=True)
class Silenced:
    """Drift an ignore rule silenced: a whole resource (``field`` None) or one field."""

    address: str
    field: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every drifted resource, the drift that was silenced, the plan's warnings, and what is
    on the account that nothing declares (``unmanaged_*``, after the ignore rules)."""

    items: tuple[DriftItem, ...] = ()
    silenced: tuple[Silenced, ...] = ()
    unused_patterns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    unmanaged_numbers: tuple[str, ...] = ()
    unmanaged_services: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.items

    @property
    def has_unmanaged(self) -> bool:
        return bool(self.unmanaged_numbers or self.unmanaged_services)

    def exit_code(self, *, fail_on_unmanaged: bool = False) -> int:
        """0 in sync, 2 drift found (docs/commands.md); with ``fail_on_unmanaged``, an
        unmanaged number or service counts as drift too."""
        if self.in_sync and not (fail_on_unmanaged and self.has_unmanaged):
            return EXIT_OK
        return EXIT_CHANGES

    def groups(self) -> tuple[Group[DriftItem], ...]:
        """The items, the same drift on many resources gathered into one group."""
        return group_by(self.items, DriftItem.edit)

    def counts(self) -> dict[str, int]:
        """Drifted resources by resource type, in report order."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.resource] = out.get(item.resource, 0) + 1
        return out


# --------------------------------------------------------------------------- per change


def _describe(change: Change, fields: Sequence[FieldChange]) -> DriftItem:
    """The drift ``change`` stands for, with the ``fields`` no ignore rule silenced."""
    return DriftItem(
        address=change.address,
        kind=change.kind,
        mark=change.mark,
        resource=change.resource,
        summary=change.finding(len(fields)),
        remedy=change.remedy,
        fields=tuple(_field(fc) for fc in fields),
        blocked=change.irreversible,
    )


def _masked(value: Any, path: str = "") -> Any:
    """``value`` with every secret wrapped, whatever upstream did: plain strings under a
    secret key and URLs with a password (a relay route's detail comes from aql as text)."""
    return conceal(value, key=path.rsplit(".", 1)[-1] if path else None)


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
    field is silenced is silenced whole. The plan's unmanaged numbers (``number:N``) and
    services (``inbound:NAME``) are reported unless a whole-resource rule matches them.
    """
    rules: Sequence[IgnoreRule] = parse_rules(ignore)
    used: set[str] = set()
    items: list[DriftItem] = []
    silenced: list[Silenced] = []
    for change in plan.changes:
        rule = first_match(rules, change.address)
        if rule is not None:
            used.add(rule.pattern)
            silenced.append(Silenced(change.address, None, rule.pattern))
            continue
        kept: list[FieldChange] = []
        for fc in change.fields:
            rule = first_match(rules, change.address, fc.path)
            if rule is None:
                kept.append(fc)
            else:
                used.add(rule.pattern)
                silenced.append(Silenced(change.address, fc.path, rule.pattern))
        if change.fields and not kept:
            continue
        items.append(_describe(change, kept))
    unmanaged: dict[str, list[str]] = {"number": [], "service": []}
    for what, addresses in (
        ("number", [f"number:{n}" for n in plan.unmanaged_numbers]),
        ("service", list(plan.unmanaged_services)),
    ):
        for address in addresses:
            rule = first_match(rules, address)
            if rule is None:
                unmanaged[what].append(address)
            else:
                used.add(rule.pattern)
                silenced.append(Silenced(address, None, rule.pattern))
    return DriftReport(
        items=tuple(items),
        silenced=tuple(silenced),
        unused_patterns=tuple(r.pattern for r in rules if r.pattern not in used),
        warnings=tuple(plan.warnings),
        unmanaged_numbers=tuple(a.removeprefix("number:") for a in unmanaged["number"]),
        unmanaged_services=tuple(unmanaged["service"]),
        sources=tuple(plan.sources),
    )
