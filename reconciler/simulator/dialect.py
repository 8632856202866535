"""Which of the alternatives the vendors' pages leave open the simulated server speaks.

The pages leave several things open (``docs/simulator.md`` lists them): whether the service
schemas carry ``default`` keywords, which separator the aql gateway really writes, what shape
the inbound service list has, whether every endpoint answers errors in JSON, whether the
server stores a value exactly as it was written. The simulator's documented behaviour makes
one choice for each (:data:`DOCUMENTED`); a :class:`Dialect` switches any of them to the
alternative, so that ``reconciler`` (and ``reconciler doctor``) can be tested against each.

A dialect is chosen by mode names (:data:`MODES`), in Python
(``Simulator(dialect=Dialect.from_modes(["aql-star"]))``), with ``reconciler simulator serve
--dialect MODE`` (repeatable), or for every simulator of a process that is given none (the
embedded ``--simulate`` one and those of the test suite) with the environment variable
``RECONCILER_SIMULATOR_DIALECT=MODE[,MODE...]``::

    RECONCILER_SIMULATOR_DIALECT=no-schema-defaults make unit

Rate limiting is not a dialect: it is a fault (:class:`reconciler.simulator.faults.Faults`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.errors import ConfigError

ENVIRONMENT_VARIABLE = "RECONCILER_SIMULATOR_DIALECT"

InboundList = Literal["services", "array", "keyed"]
ErrorFormat = Literal["json", "html"]
AqlSeparator = Literal[":", "*"]


@dataclass(frozen=True)
class Dialect:
    """The simulated server's choice for each point the vendor pages leave open.

    - ``schema_defaults``: the served service schemas carry ``default`` keywords (False: none,
      as the published excerpt shows; the server still fills defaults on a write);
    - ``aql_separator``: ``":"`` (``200: OK``, ``number: N``) or ``"*"`` (the published
      example's ``status * 200``, ``number * N``, ``69001 * number is invalid``);
    - ``inbound_list``: the inbound list's shape: ``"services"`` (the outbound list's
      documented ``{"services": [{"name", "target", "description"}]}``), ``"array"`` (a bare
      JSON array of those entries) or ``"keyed"`` (``{"<name>": {"target", "description"}}``,
      the shape of ``tel_list_numbers``);
    - ``errors``: Aculab error bodies as the documented JSON, or ``"html"`` pages (status and
      text in the page, no JSON), as legacy endpoints answer without ``Accept``;
    - ``normalise``: the server stores some values differently from what was written: the
      scheme and host of every URL lower-cased (service pages and relay callbacks), and an
      option a modify sets to ``null`` reset to its default instead of cleared.
    """

    schema_defaults: bool = True
    aql_separator: AqlSeparator = ":"
    inbound_list: InboundList = "services"
    errors: ErrorFormat = "json"
    normalise: bool = False

    @property
    def modes(self) -> tuple[str, ...]:
        """The mode names that make this dialect (empty: the documented one)."""
        return tuple(
            name
            for name, change in MODES.items()
            if all(getattr(self, key) == value for key, value in change.items())
        )

    def describe(self) -> str:
        """``documented``, or the modes in force, comma-separated."""
        return ", ".join(self.modes) or "documented"

    @classmethod
    def from_modes(cls, modes: Iterable[str], base: Dialect | None = None) -> Dialect:
        """A dialect with each named mode switched on (``documented`` switches none; ``all``
        switches every one, the inbound list as a bare array). Raises :class:`ConfigError`
        naming an unknown mode or two that contradict each other."""
        changes: dict[str, Any] = {}
        given: dict[str, str] = {}
        for raw in modes:
            name = raw.strip().lower().replace("_", "-")
            if not name or name == "documented":
                continue
            if name == "all":
                for mode in ALL:
                    _add(changes, given, mode)
                continue
            if name not in MODES:
                raise ConfigError(
                    f"unknown simulator dialect mode {raw.strip()!r}",
                    hint="use one of: documented, all, " + ", ".join(MODES),
                )
            _add(changes, given, name)
        return dataclasses.replace(base or cls(), **changes)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Dialect:
        """The dialect ``RECONCILER_SIMULATOR_DIALECT`` names (comma-separated modes)."""
        env = os.environ if environ is None else environ
        text = env.get(ENVIRONMENT_VARIABLE, "")
        try:
            return cls.from_modes(text.split(","))
        except ConfigError as err:
            raise ConfigError(f"{ENVIRONMENT_VARIABLE}: {err.message}", hint=err.hint) from None


def _add(changes: dict[str, Any], given: dict[str, str], mode: str) -> None:
    for key, value in MODES[mode].items():
        if key in changes and changes[key] != value:
            raise ConfigError(
                f"simulator dialect modes {given[key]!r} and {mode!r} contradict each other",
                hint="choose one inbound list shape",
            )
        changes[key] = value
        given[key] = mode


DOCUMENTED = Dialect()

# Each mode: the fields it changes from the documented dialect.
MODES: dict[str, dict[str, Any]] = {
    "no-schema-defaults": {"schema_defaults": False},
    "aql-star": {"aql_separator": "*"},
    "inbound-array": {"inbound_list": "array"},
    "inbound-keyed": {"inbound_list": "keyed"},
    "html-errors": {"errors": "html"},
    "normalise": {"normalise": True},
}
# What ``all`` switches on (one inbound shape: the two exclude each other).
ALL: tuple[str, ...] = (
    "no-schema-defaults",
    "aql-star",
    "inbound-array",
    "html-errors",
    "normalise",
)
