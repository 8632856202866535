"""What ``reconciler doctor`` found: one :class:`Finding` per assumption, and the verdict.

Each finding says what the vendors' pages say (or that they are silent), what this account
answered, and what ``reconciler`` does about it. Its verdict is one of:

- ``holds``: the account answered as ``reconciler`` assumes;
- ``adapts``: it answered otherwise, and ``reconciler`` handles that (the finding says how);
- ``breaks``: it answered in a way ``reconciler`` can't handle (the finding says what to
  report, and what not to run until then);
- ``unchecked``: doctor could not ask (no such resource on the account, or an earlier
  finding broke); it says why, and does not count towards the exit code.

The exit code is the one every command uses: 0 all hold, 2 some adapt, 1 something breaks.
The JSON form is made to be attached to a bug report: no secret, and no account data beyond
what a finding needs (counts, not numbers or service names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler import __version__
from reconciler.doctor.recorder import Latency
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from reconciler.secret import redact

Verdict = Literal["holds", "adapts", "breaks", "unchecked"]
VERDICTS: tuple[Verdict, ...] = ("holds", "adapts", "breaks", "unchecked")

FORMAT = "reconciler-doctor"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Finding:
    """One assumption, checked against the account.

    ``id`` is stable across versions (``aculab.services.inbound-list``), for scripts and bug
    reports; ``facts`` holds what the JSON form adds (counts, shapes, codes; never a number
    or a name from the account)."""

    id: str
    title: str
    verdict: Verdict
    pages: str
    answered: str
    action: str
    facts: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "verdict": self.verdict,
            "pages": self.pages,
            "answered": redact(self.answered),
            "reconciler": redact(self.action),
            "facts": dict(self.facts),
        }


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every finding of one run, with what the run itself measured."""

    findings: Sequence[Finding]
    aculab_host: str | None
    aql_host: str | None
    calls: int
    calls_by_api: Mapping[str, int]
    latency: Mapping[str, Latency]
    suggested_concurrency: int
    notes: Sequence[str] = ()

    @property
    def counts(self) -> dict[str, int]:
        return {v: sum(1 for f in self.findings if f.verdict == v) for v in VERDICTS}

    @property
    def exit_code(self) -> int:
        verdicts = {f.verdict for f in self.findings}
        if "breaks" in verdicts:
            return EXIT_ERROR
        if "adapts" in verdicts:
            return EXIT_CHANGES
        return EXIT_OK

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "reconciler": __version__,
            "exit_code": self.exit_code,
            "summary": self.counts,
            "aculab_host": self.aculab_host,
            "aql_host": self.aql_host,
            "calls": {"total": self.calls, **self.calls_by_api},
            "latency_ms": {
                endpoint: {
                    "calls": lat.calls,
                    "median": round(lat.median_ms, 1),
                    "max": round(lat.max_ms, 1),
                }
                for endpoint, lat in sorted(self.latency.items())
            },
            "suggested_concurrency": self.suggested_concurrency,
            "findings": [f.as_json() for f in self.findings],
            "notes": [redact(n) for n in self.notes],
        }


_MARKS: dict[Verdict, str] = {
    "holds": "ok",
    "adapts": "ADAPTS",
    "breaks": "BREAKS",
    "unchecked": "--",
}


def render_text(report: DoctorReport) -> str:
    """The human form: a header, one block per assumption, a summary and what to do next."""
    aculab = f"Aculab Cloud at {report.aculab_host}" if report.aculab_host else "no Aculab account"
    lines = [
        f"reconciler doctor: {aculab}"
        + (f", aql at {report.aql_host}" if report.aql_host else ", no aql account")
        + f" ({report.calls} read-only calls)",
        "",
    ]
    width = max(len(m) for m in _MARKS.values())
    pad = " " * (width + 2)
    for f in report.findings:
        lines.append(f"{_MARKS[f.verdict]:<{width}}  {f.title}")
        lines.append(f"{pad}pages:      {f.pages}")
        lines.append(f"{pad}answered:   {redact(f.answered)}")
        lines.append(f"{pad}reconciler: {redact(f.action)}")
        lines.append("")
    if report.latency:
        lines.append("Latency per endpoint (median / slowest, calls):")
        width = max(len(endpoint) for endpoint in report.latency)
        for endpoint, lat in sorted(report.latency.items()):
            lines.append(
                f"  {endpoint:<{width}}  {lat.median_ms:7.1f} ms / {lat.max_ms:7.1f} ms  "
                f"{lat.calls:>4}"
            )
        lines.append("")
    for note in report.notes:
        lines.append(f"Note: {redact(note)}")
    if report.notes:
        lines.append("")
    c = report.counts
    lines.append(
        f"{c['holds']} hold, {c['adapts']} adapt, {c['breaks']} break, {c['unchecked']} unchecked."
    )
    if c["breaks"]:
        lines.append(
            "Something breaks: read each BREAKS line before running apply against this account, "
            "and attach `reconciler doctor ... --format json` to the report it asks for."
        )
    elif c["adapts"]:
        lines.append("reconciler adapts to every difference (each ADAPTS line says how).")
    else:
        lines.append("Every assumption holds.")
    return "\n".join(lines) + "\n"
