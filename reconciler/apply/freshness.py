"""Is a saved plan still the plan? (``reconciler apply --plan plan.json``)

A saved plan holds no secrets, so it cannot be executed as it is: apply re-reads the live
account, re-plans from the desired state (which supplies the secrets), and executes the new
plan only when

1. every live resource the saved plan depends on still has the fingerprint it had
   (:func:`stale_resources`; a service the plan creates must still be absent), and
2. the new plan equals the saved one (:meth:`Plan.comparable`: same changes, same bodies,
   same diffs; secrets compare by their mask).

Otherwise the plan is refused, naming what changed: the reviewer approved something else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import PlanMismatchError, StalePlanError
from reconciler.live.model import LiveState
from reconciler.plan.changes import ABSENT, Plan


def _describe(key: str, old: str, new: str) -> str:
    if old == ABSENT:
        return f"{key}: appeared since the plan was made"
    if new == ABSENT:
        return f"{key}: is gone since the plan was made"
    return f"{key}: changed since the plan was made"


def stale_resources(saved: Plan, live: LiveState) -> list[str]:
    """The resources the saved plan depends on whose live state changed, described."""
    current = live.resource_fingerprints()
    out: list[str] = []
    for key, old in sorted(saved.fingerprints.items()):
        new = current.get(key, ABSENT)
        if new != old:
            out.append(_describe(key, old, new))
    return out


def _by_address(data: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for change in data.get("changes", []):
        key = f"{change.get('kind')} {change.get('address')}"
        out.setdefault(key, []).append(json.dumps(change, sort_keys=True, default=str))
    return out


def plan_differences(saved: Plan, replanned: Plan) -> list[str]:
    """How the re-computed plan differs from the saved one (empty when equal)."""
    old, new = saved.comparable(), replanned.comparable()
    if old == new:
        return []
    before, after = _by_address(old), _by_address(new)
    out: list[str] = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            out.append(f"{key}: in the saved plan, no longer needed")
        elif key not in before:
            out.append(f"{key}: now needed, not in the saved plan")
        elif before[key] != after[key]:
            out.append(f"{key}: different now")
    if not out:
        # Same changes; something else differs (warnings, limits, unmanaged numbers).
        for field in sorted(set(old) | set(new)):
            if old.get(field) != new.get(field):
                out.append(f"{field}: different now")
    return out


def check_saved_plan(saved: Plan, replanned: Plan, live: LiveState) -> None:
    """Raise :class:`StalePlanError` (the account changed) or :class:`PlanMismatchError` (the
    plan would now be different) unless ``replanned`` may be applied in place of ``saved``."""
    changed = stale_resources(saved, live)
    moved = _other_sources(saved, replanned)
    if changed and moved:
        # What PATH does not declare is not read, so it looks "gone": name the real cause.
        raise PlanMismatchError([moved, *changed])
    if changed:
        raise StalePlanError(changed)
    differences = plan_differences(saved, replanned)
    if differences:
        raise PlanMismatchError([moved, *differences] if moved else differences)


def _other_sources(saved: Plan, replanned: Plan) -> str | None:
    """A note when the saved plan was made from other files than the ones now planned."""

    def same(a: str, b: str) -> bool:
        return os.path.normpath(a) == os.path.normpath(b) or Path(a).resolve() == Path(b).resolve()

    old, new = list(saved.sources), list(replanned.sources)
    if not old or not new:
        return None
    if len(old) == len(new) and all(same(a, b) for a, b in zip(old, new, strict=True)):
        return None
    return (
        f"the plan was made from {', '.join(old)}, this apply reads {', '.join(new)}: "
        "give apply the PATH the plan was made from"
    )
