"""Safety checks: what apply refuses without ``--force`` or ``--allow-release``.

The limits come from the desired state's ``safety`` section (docs/desired-state.md):

- ``max_purchase``: numbers bought in one apply;
- ``max_delete_percent`` / ``max_update_percent``: services of a kind (inbound, outbound)
  deleted / updated, as a percentage of the services of that kind on the account *before*
  the apply that the YAML manages (declared, a pool's numbers' inbound services, or pruned:
  :attr:`Plan.managed_services`). Services the plan creates never count, so a plan can't
  dilute its deletes by declaring new services.
- ``min_existing``: the percentages apply only from this many live managed services of a
  kind, as in octoDNS, so a small account is edited without ``--force``;
- whatever the size, a plan that deletes every live service of a kind (two or more) needs
  ``--force`` (docs/safety.md).

Each limit passed is one refusal, overridden by ``--force``. Irreversible changes (releases)
are refused without ``--allow-release`` (and shown as blocked), whatever ``--force`` says. A
refused plan exits with code 3 (:class:`SafetyRefusal`).

:func:`check_safety` returns a :class:`Verdict`: renderers receive it to show what is blocked
and refused; the plan itself knows nothing of flags.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from reconciler.desired.model import SafetyLimits
from reconciler.errors import SafetyRefusal
from reconciler.plan.changes import Change, DeleteService, Plan, UpdateService
from reconciler.plan.grouping import plural

Override = Literal["--force", "--allow-release"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """One reason apply refuses a plan, and the flag that overrides it."""

    message: str
    override: Override


@dataclass(frozen=True, slots=True)
class Verdict:
    """What apply would make of a plan under its flags: the refusals, and whether
    irreversible changes (releases) are allowed or blocked."""

    refusals: tuple[Refusal, ...] = ()
    allow_release: bool = False

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(r.message for r in self.refusals)

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    def blocks(self, change: Change) -> bool:
        """True when apply would skip ``change`` under these flags."""
        return change.irreversible and not self.allow_release

    @property
    def releases_blocked(self) -> bool:
        return not self.allow_release

    def overridable(self, override: Override) -> tuple[str, ...]:
        """The refusals ``override`` would lift."""
        return tuple(r.message for r in self.refusals if r.override == override)


def _service_limits(plan: Plan, limits: SafetyLimits) -> list[str]:
    """The refusals of the delete and update limits, kind by kind."""
    deletes: Counter[str] = Counter(c.service_kind for c in plan.of(DeleteService))
    updates: Counter[str] = Counter(c.service_kind for c in plan.of(UpdateService))
    refusals: list[str] = []
    for kind in sorted(set(deletes) | set(updates)):
        live = plan.live_services.get(kind, 0)
        managed = plan.managed_services.get(kind, 0)
        if deletes[kind] >= live >= 2:
            refusals.append(
                f"the plan deletes every {kind} service on the account "
                f"({plural(live, 'service')}); review the plan, then apply it with --force"
            )
            continue
        if managed < limits.min_existing:
            continue  # a small account: edited freely (safety.min_existing)
        for what, verb, count, limit in (
            ("delete", "deletes", deletes[kind], limits.max_delete_percent),
            ("update", "updates", updates[kind], limits.max_update_percent),
        ):
            pct = 100.0 * count / managed if managed else 100.0
            if pct > limit:
                refusals.append(
                    f"safety.max_{what}_percent: the plan {verb} "
                    f"{plural(count, kind + ' service')} of the {managed:,} on the account that "
                    f"the YAML manages ({pct:.0f}%), over the limit of {limit:g}%; review the "
                    "plan, then apply it with --force"
                )
    return refusals


def check_safety(plan: Plan, limits: SafetyLimits, *, allow_release: bool, force: bool) -> Verdict:
    """The verdict on ``plan``: every reason apply would refuse it (none when it may go
    ahead). Each message names the limit, the count and the flag that overrides it."""
    refusals: list[Refusal] = []
    counts = plan.counts()
    if not force:
        if counts["purchase"] > limits.max_purchase:
            refusals.append(
                Refusal(
                    f"safety.max_purchase: the plan buys {plural(counts['purchase'], 'number')}"
                    f", over the limit of {limits.max_purchase:,}; review the plan, then apply it "
                    "with --force",
                    "--force",
                )
            )
        refusals.extend(Refusal(message, "--force") for message in _service_limits(plan, limits))
    releases = sum(1 for c in plan.changes if c.irreversible)
    if releases and not allow_release:
        refusals.append(
            Refusal(
                f"the plan releases {plural(releases, 'number')}: releasing is irreversible "
                "(a released number can't be bought back), so the releases are blocked; review "
                "them, then apply with --allow-release",
                "--allow-release",
            )
        )
    return Verdict(refusals=tuple(refusals), allow_release=allow_release)


def enforce_safety(verdict: Verdict) -> None:
    """Raise :class:`SafetyRefusal` (exit code 3) naming every refusal of ``verdict``."""
    messages = verdict.messages
    if not messages:
        return
    if len(messages) == 1:
        message = f"refused by a safety rule: {messages[0]}"
    else:
        message = "refused by safety rules:\n" + "\n".join(f"  - {m}" for m in messages)
    flags = [flag for flag in ("--force", "--allow-release") if verdict.overridable(flag)]
    raise SafetyRefusal(
        message,
        hint=f"nothing was changed; if the plan is what you want, pass {' and '.join(flags)}",
    )
