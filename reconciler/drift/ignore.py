"""Ignore rules: the globs that silence known, accepted drift.

A rule is ``ADDRESS_GLOB`` or ``ADDRESS_GLOB/FIELD_GLOB``:

- ``ADDRESS_GLOB`` matches a change's address, the same address ``reconciler plan`` shows:
  ``inbound:<name>``, ``outbound:<name>``, ``relay:<number>``, ``pool:<name>`` (a pool short
  of numbers) or ``number:<number>`` (a number apply would release).
- ``FIELD_GLOB`` matches a field path: the dotted path of a service option
  (``rest.first_page.address``), or ``action`` / ``detail`` of a relay route. It matches a
  field when it matches the field's path or the path of one of its parents, so
  ``inbound:*/rest`` silences every option under ``rest``.

A rule without ``/FIELD_GLOB`` silences the whole resource. Globs are shell-style
(:mod:`fnmatch`, case-sensitive): ``*`` matches any run of characters (dots included), ``?`` one
character, ``[...]`` a set. Examples::

    inbound:*/description              the description of every inbound service
    outbound:wakeup/rest.tts_voice     one option of one service
    relay:44113000112                  everything about one relay route
    pool:london-*                      pools short of numbers, by name
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from reconciler.desired.numbers import NumberError, normalise_glob
from reconciler.errors import ConfigError

# The kinds of address whose name is (or may be) a telephone number.
_NUMBERED = frozenset({"number", "relay", "inbound"})


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One parsed rule. ``field`` is None for a rule that silences whole resources."""

    pattern: str
    address: str
    field: str | None = None

    @classmethod
    def parse(cls, pattern: str) -> IgnoreRule:
        """Parse ``ADDRESS_GLOB[/FIELD_GLOB]``; raises ConfigError for an empty part."""
        text = pattern.strip()
        address, sep, field = text.partition("/")
        if not address or (sep and not field):
            raise ConfigError(
                f"drift ignore rule {pattern!r} is not ADDRESS_GLOB or ADDRESS_GLOB/FIELD_GLOB",
                hint="e.g. `inbound:*/description`, `relay:44113000112` or `outbound:*`",
            )
        kind, colon, name = address.partition(":")
        if colon and kind in _NUMBERED:
            # A number is normalised wherever it is written: `number:+44 1908 *` names the
            # addresses `number:441908...` the plan shows.
            try:
                address = f"{kind}:{normalise_glob(name)}"
            except NumberError as err:
                raise ConfigError(
                    f"drift ignore rule {pattern!r}: {err}",
                    hint="write the number in international form, as the plan shows it",
                ) from None
        return cls(pattern=pattern, address=address, field=field if sep else None)

    def matches_resource(self, address: str) -> bool:
        """True when this rule silences the whole resource at ``address``."""
        return self.field is None and fnmatchcase(address, self.address)

    def matches_field(self, address: str, path: str) -> bool:
        """True when this rule silences field ``path`` of the resource at ``address``."""
        if not fnmatchcase(address, self.address):
            return False
        if self.field is None:
            return True
        parts = path.split(".")
        return any(fnmatchcase(".".join(parts[:i]), self.field) for i in range(len(parts), 0, -1))


def parse_rules(patterns: Iterable[str]) -> tuple[IgnoreRule, ...]:
    """Parse every pattern, keeping their order and dropping exact duplicates."""
    seen: dict[str, IgnoreRule] = {}
    for p in patterns:
        if p not in seen:
            seen[p] = IgnoreRule.parse(p)
    return tuple(seen.values())


def first_match(
    rules: Sequence[IgnoreRule], address: str, path: str | None = None
) -> IgnoreRule | None:
    """The first rule that silences ``address`` (``path`` None) or its field ``path``."""
    for rule in rules:
        if path is None and rule.matches_resource(address):
            return rule
        if path is not None and rule.matches_field(address, path):
            return rule
    return None
