"""``reconciler doctor``: test every API assumption against a real account, read-only.

``reconciler`` is built from the vendors' published pages, which leave things open
(``docs/vendor-api.md``). Doctor asks the account each of them and says, one finding per
assumption, what the pages say, what this account answered and what ``reconciler`` does about
it (``docs/doctor.md``). It never writes: see :mod:`reconciler.doctor.checks` for the only
calls it makes.

ACCOUNT is a YAML file with the ``aculab`` (and optionally ``aql``) sections, as for export.
When the same file is a whole valid desired state, its pools are checked against the
catalogue and its relay numbers are queried too.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.doctor.recorder import Latency, Recorder
from reconciler.doctor.report import DoctorReport, Finding, Verdict, render_text

if TYPE_CHECKING:
    from reconciler.desired.model import DesiredState
    from reconciler.doctor.checks import RelayTarget
    from reconciler.session import Session

__all__ = ["DoctorReport", "Finding", "Verdict", "render_text", "run_doctor"]

# Enough calls in flight to keep about this many per second at the measured latency.
TARGET_CALLS_PER_SECOND = 100
DEFAULT_CONCURRENCY = 16
MAX_SUGGESTED_CONCURRENCY = 64


def suggest_concurrency(latency: dict[str, Latency], rate_limited: int, used: int) -> int:
    """The ``--concurrency`` to suggest: when the server answered 429, a quarter of what doctor
    used (at least 1); otherwise enough to keep about 100 calls a second at the median
    latency, never below the default 16 nor above 64."""
    if rate_limited:
        return max(1, used // 4)
    medians = sorted(lat.median_ms for lat in latency.values())
    if not medians:
        return DEFAULT_CONCURRENCY
    median = medians[len(medians) // 2]
    wanted = math.ceil(median / 1000 * TARGET_CALLS_PER_SECOND)
    return max(DEFAULT_CONCURRENCY, min(MAX_SUGGESTED_CONCURRENCY, wanted))


async def run_doctor(
    session: Session, account: str | Path, *, relay_numbers: Sequence[str] = ()
) -> DoctorReport:
    """Check every assumption against the account ACCOUNT names (or the simulator's under
    ``--simulate``). Raises only for a bad ACCOUNT file; what the account answers, however
    surprising, becomes a finding."""
    import httpx

    from reconciler.clients.aculab import AculabClient
    from reconciler.clients.aql import AqlClient
    from reconciler.desired.accounts import load_accounts
    from reconciler.desired.model import DesiredState
    from reconciler.doctor.checks import Doctor

    accounts = load_accounts(account, environ=session.environ, simulate=session.settings.simulate)
    desired, note = _desired_state(session, account)
    aculab_account, aql_account = session.accounts(
        DesiredState(aculab=accounts.aculab, aql=accounts.aql)
    )
    relay = _relay_targets(desired, relay_numbers)
    concurrency = session.settings.concurrency
    recorder = Recorder()
    # httpx's own transport under the recorder: doctor makes a few dozen calls, so the CPU the
    # default transport saves other commands doesn't matter here (TLS is verified the same way).
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with contextlib.AsyncExitStack() as stack:
        aculab: AculabClient | None = None
        aql: AqlClient | None = None
        if aculab_account is not None:
            transport = recorder.wrap(httpx.AsyncHTTPTransport(limits=limits), "aculab")
            aculab = await stack.enter_async_context(
                AculabClient(aculab_account, transport=transport, concurrency=concurrency)
            )
        if aql_account is not None:
            transport = recorder.wrap(httpx.AsyncHTTPTransport(limits=limits), "aql")
            aql = await stack.enter_async_context(
                AqlClient(aql_account, transport=transport, concurrency=concurrency)
            )
        doctor = Doctor(
            aculab,
            aql,
            recorder,
            pools=list(desired.pools.values()) if desired else [],
            relay=relay,
            concurrency=concurrency,
        )
        findings = await doctor.run()
    latency = recorder.latency()
    rate_limited = sum(1 for ex in recorder.log if ex.status == 429)
    suggested = suggest_concurrency(latency, rate_limited, concurrency)
    findings.append(_latency_finding(latency, suggested, rate_limited, concurrency))
    by_api: dict[str, int] = {}
    for ex in recorder.log:
        by_api[ex.api] = by_api.get(ex.api, 0) + 1
    return DoctorReport(
        findings=findings,
        aculab_host=aculab.http.host if aculab is not None else None,
        aql_host=aql.http.host if aql is not None else None,
        calls=len(recorder.log),
        calls_by_api=by_api,
        latency=latency,
        suggested_concurrency=suggested,
        notes=[note] if note else [],
    )


def _desired_state(session: Session, account: str | Path) -> tuple[DesiredState | None, str]:
    """The whole desired state when ACCOUNT is one (its pools and relay numbers are checked
    too), else None and a note saying why they are not."""
    from reconciler.errors import ConfigError, ValidationFailed

    try:
        return session.load(account).state, ""
    except ValidationFailed as err:
        return None, (
            f"ACCOUNT is not a complete desired state ({len(err.diagnostics)} problems; "
            "`reconciler validate` lists them): its pools and relay routes were not checked"
        )
    except ConfigError as err:
        return None, f"ACCOUNT's pools and relay routes were not checked: {err.message}"


def _relay_targets(desired: DesiredState | None, given: Sequence[str]) -> list[RelayTarget]:
    from reconciler.desired.numbers import digits_of
    from reconciler.doctor.checks import RelayTarget

    targets: list[RelayTarget] = []
    seen: set[str] = set()
    for i, number in enumerate(given, start=1):
        digits = digits_of(number)
        if digits and digits not in seen:
            seen.add(digits)
            targets.append(RelayTarget(digits, f"--relay-number #{i}"))
    if desired is not None:
        for number, route in desired.relay_routes.items():
            if number not in seen:
                seen.add(number)
                targets.append(RelayTarget(number, str(route.origin)))
    return targets


def _latency_finding(
    latency: dict[str, Latency], suggested: int, rate_limited: int, used: int
) -> Finding:
    pages = "silent: no latency or request rate is published"
    if not latency:
        return Finding(
            "latency",
            "Latency per endpoint, and a suggested --concurrency",
            "unchecked",
            pages,
            "no call was answered",
            f"keep the default --concurrency {DEFAULT_CONCURRENCY}",
        )
    slowest = max(latency.items(), key=lambda item: item[1].median_ms)
    medians = sorted(lat.median_ms for lat in latency.values())
    answered = (
        f"median {medians[len(medians) // 2]:.0f} ms over {len(latency)} endpoints; slowest "
        f"{slowest[0]} at {slowest[1].median_ms:.0f} ms (max {slowest[1].max_ms:.0f} ms)"
    )
    why = (
        f"429s were answered with at most {used} calls in flight"
        if rate_limited
        else "enough calls in flight for about 100 a second at this latency"
    )
    return Finding(
        "latency",
        "Latency per endpoint, and a suggested --concurrency",
        "holds",
        pages,
        answered,
        f"suggests --concurrency {suggested} ({why}; the default is {DEFAULT_CONCURRENCY})",
        {"suggested_concurrency": suggested},
    )
