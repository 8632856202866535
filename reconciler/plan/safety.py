"""Safety checks: what apply refuses without ``--force`` or ``--allow-release``.

The limits come from the desired state's ``safety`` section (docs/desired-state.md):

- ``max_purchase``: numbers bought in one apply;
- ``max_delete_percent`` / ``max_update_percent``: services deleted / updated, as a
  percentage of the managed services (declared services plus the inbound services of the
  pools' numbers; :attr:`Plan.managed_services`). With no managed service, any delete or
  update counts as 100%.

Each limit passed is one refusal, overridden by ``--force``. Irreversible changes (releases)
are refused without ``--allow-release`` (and shown as blocked), whatever ``--force`` says. A
refused plan exits with code 3 (:class:`SafetyRefusal`).

:func:`check_safety` returns a :class:`Verdict`: renderers receive it to show what is blocked
and refused; the plan itself knows nothing of flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.desired.model import SafetyLimits
from reconciler.errors import SafetyRefusal
from reconciler.plan.changes import Change, Plan
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


def _percent(count: int, total: int) -> float:
    if not count:
        return 0.0
    return 100.0 * count / total if total else 100.0


def check_safety(plan: Plan, limits: SafetyLimits, *, allow_release: bool, force: bool) -> Verdict:
    """The verdict on ``plan``: every reason apply would refuse it (none when it may go
    ahead). Each message names the limit, the count and the flag that overrides it."""
    refusals: list[Refusal] = []
    counts = plan.counts()
    managed = plan.managed_services
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
        for what, verb, limit in (
            ("delete", "deletes", limits.max_delete_percent),
            ("update", "updates", limits.max_update_percent),
        ):
            count = counts[what]
            pct = _percent(count, managed)
            if pct > limit:
                refusals.append(
                    Refusal(
                        f"safety.max_{what}_percent: the plan {verb} "
                        f"{plural(count, 'service')} of {managed:,} managed ({pct:.0f}%), over "
                        f"the limit of {limit:g}%; review the plan, then apply it with --force",
                        "--force",
                    )
                )
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
