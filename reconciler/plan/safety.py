"""Safety checks: what apply refuses without ``--force`` or ``--allow-release``.

The limits come from the desired state's ``safety`` section (DESIGN.md §2):

- ``max_purchase``: numbers bought in one apply;
- ``max_delete_percent`` / ``max_update_percent``: services deleted / updated, as a
  percentage of the managed services (declared services plus the inbound services of the
  pools' numbers; :attr:`Plan.managed_services`). With no managed service, any delete or
  update counts as 100%.

Each limit passed is one refusal, overridden by ``--force``. Releases are irreversible:
without ``--allow-release`` they are refused (and shown as blocked), whatever ``--force``
says. A refused plan exits with code 3 (:class:`SafetyRefusal`).
"""

from __future__ import annotations

from reconciler.desired.model import SafetyLimits
from reconciler.errors import SafetyRefusal
from reconciler.plan.changes import Plan


def _percent(count: int, total: int) -> float:
    if not count:
        return 0.0
    return 100.0 * count / total if total else 100.0


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def check_safety(
    plan: Plan, limits: SafetyLimits, *, allow_release: bool, force: bool
) -> list[str]:
    """Every reason apply would refuse ``plan``; empty when it may go ahead.

    Each message names the limit, the count and the flag that overrides it.
    """
    refusals: list[str] = []
    counts = plan.counts()
    managed = plan.managed_services
    if not force:
        if counts["purchase"] > limits.max_purchase:
            refusals.append(
                f"safety.max_purchase: the plan buys {_plural(counts['purchase'], 'number')}, "
                f"over the limit of {limits.max_purchase}; review the plan, then apply it "
                "with --force"
            )
        for what, verb, limit in (
            ("delete", "deletes", limits.max_delete_percent),
            ("update", "updates", limits.max_update_percent),
        ):
            count = counts[what]
            pct = _percent(count, managed)
            if pct > limit:
                refusals.append(
                    f"safety.max_{what}_percent: the plan {verb} "
                    f"{_plural(count, 'service')} of {managed} managed ({pct:.0f}%), over the "
                    f"limit of {limit:g}%; review the plan, then apply it with --force"
                )
    releases = counts["release"]
    if releases and not allow_release:
        refusals.append(
            f"the plan releases {_plural(releases, 'number')}: releasing is irreversible "
            "(a released number can't be bought back), so the releases are blocked; review "
            "them, then apply with --allow-release"
        )
    return refusals


def enforce_safety(plan: Plan, limits: SafetyLimits, *, allow_release: bool, force: bool) -> None:
    """Raise :class:`SafetyRefusal` (exit code 3) naming every refusal, if any."""
    refusals = check_safety(plan, limits, allow_release=allow_release, force=force)
    if not refusals:
        return
    if len(refusals) == 1:
        message = f"refused by a safety rule: {refusals[0]}"
    else:
        message = "refused by safety rules:\n" + "\n".join(f"  - {r}" for r in refusals)
    flags = []
    if any(not r.startswith("the plan releases") for r in refusals):
        flags.append("--force")
    if any(r.startswith("the plan releases") for r in refusals):
        flags.append("--allow-release")
    raise SafetyRefusal(
        message,
        hint=f"nothing was changed; if the plan is what you want, pass {' and '.join(flags)}",
    )
