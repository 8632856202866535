"""Turn a whole account's :class:`~reconciler.live.model.LiveState` (read by
:func:`reconciler.live.reader.read_account`) into desired-state YAML.

What is written (and why it plans clean against the same account):

- ``numbers``: every number pinned, or with ``pools=True`` one pool per location (country,
  state, region, did_type) whose ``count`` is the number of numbers there. A pool gets an
  ``inbound:`` only when it has two or more numbers, every one has an inbound service, and
  all those services have the same configuration (after defaults are dropped); otherwise
  each service is written under ``inbound_services`` by its number.
- ``inbound_services`` / ``outbound_services``: every service on the account, in the default
  ``mode: merge``, keeping only the options that differ from the server schema's defaults.
- ``relay_routes``: the aql numbers asked for. A route in ``mvno`` can be read but never set,
  so it is left out (and said so).
- Every secret (``api_key``, ``password``, ``service_password``, a URL's password) is written
  as a ``${PLACEHOLDER}`` reference and listed at the end; literal ``${`` in other text is
  escaped as ``$${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.configuration import schema_defaults
from reconciler.desired.model import Location, ServiceKind
from reconciler.desired.schema import SCHEMA_NAME, schema_path
from reconciler.export.defaults import strip_defaults
from reconciler.live.model import LiveNumber, LiveState
from reconciler.secret import (
    MASK,
    Secret,
    conceal,
    password_span,
    secret_url,
    url_has_password,
)

SCHEMA_LINE = "# yaml-language-server: $schema={ref}"
_ENV_NAME = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# What a simulated account holds for a secret the desired state wrote as ``${NAME}``.
_SIMULATED = re.compile(r"^simulated-([A-Za-z_][A-Za-z0-9_]*)$")
# ``scheme://user:PASSWORD@``: group 1 is the password.

# The files of a directory export, in the order they are written: the YAML, and the schema
# its first lines point at.
FILES = (
    "account.yaml",
    "numbers.yaml",
    "inbound-services.yaml",
    "outbound-services.yaml",
    "relay-routes.yaml",
    SCHEMA_NAME,
)
_FILE_OF_SECTION = {
    "aculab": "account.yaml",
    "aql": "account.yaml",
    "numbers": "numbers.yaml",
    "inbound_services": "inbound-services.yaml",
    "outbound_services": "outbound-services.yaml",
    "relay_routes": "relay-routes.yaml",
}


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A ``${NAME}`` written in place of a secret; ``where`` is its dotted YAML path."""

    name: str
    where: str


@dataclass(frozen=True, slots=True)
class ExportResult:
    """The YAML to write: ``files`` maps a file name to its text (one entry, ``"-"``, for a
    single document), with the placeholders the user must set and notes on what was left
    out."""

    files: Mapping[str, str]
    placeholders: tuple[Placeholder, ...]
    notes: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)


class _Secrets:
    """Hands out placeholder names, unique and stable within one export.

    With ``simulate`` (an export of the simulator's account), a secret whose value is
    ``simulated-NAME`` is written as ``${NAME}``: that is what the desired state applied to the
    simulator wrote, and under ``--simulate`` it reads back as the same value with no
    variable set. Such a name may stand in several places, as it did in the desired state."""

    def __init__(self, *, simulate: bool = False) -> None:
        self.placeholders: list[Placeholder] = []
        self._names: set[str] = set()
        self.simulate = simulate

    def simulated_name(self, value: str) -> str | None:
        """``NAME`` when ``value`` is ``simulated-NAME`` and this is a simulated export."""
        match = _SIMULATED.match(value) if self.simulate else None
        return match.group(1) if match else None

    def name_for(self, where: str, preferred: str | None = None, *, shared: bool = False) -> str:
        if shared and preferred:
            self._names.add(preferred)
            self.placeholders.append(Placeholder(preferred, where))
            return preferred
        base = preferred or _env_name(where)
        if not base or base[0].isdigit():
            base = "SECRET_" + base
        name, n = base, 2
        while name in self._names:
            name, n = f"{base}_{n}", n + 1
        self._names.add(name)
        self.placeholders.append(Placeholder(name, where))
        return name


# Shorter names for the sections a placeholder's name starts with.
_NAME_PREFIXES = (
    ("inbound_services.", "inbound."),
    ("outbound_services.", "outbound."),
    ("relay_routes.", "relay."),
    ("numbers.pools.", "pool."),
)


def _env_name(where: str) -> str:
    """``outbound_services.wakeup.service_password`` -> ``OUTBOUND_WAKEUP_SERVICE_PASSWORD``."""
    for long, short in _NAME_PREFIXES:
        if where.startswith(long):
            where = short + where[len(long) :]
            break
    return re.sub(r"[^A-Z0-9]+", "_", where.upper()).strip("_")


def _escape(text: str) -> str:
    """A literal string as the loader must read it back: ``${`` is written ``$${``."""
    return text.replace("${", "$${")


def _secret_text(secret: Secret, where: str, secrets: _Secrets, env_name: str | None) -> str:
    """The YAML text standing for a secret: ``${NAME}``, or for a URL with credentials the
    URL with ``${NAME}`` in place of its password only."""
    display = secret.display
    value = secret.reveal()
    if display != MASK and display.count(MASK) == 1:
        span = password_span(value)
        simulated = secrets.simulated_name(value[span[0] : span[1]]) if span else None
        if simulated is not None:
            name = secrets.name_for(where + ".password", simulated, shared=True)
        else:
            name = secrets.name_for(where + ".password")
        return _escape(display).replace(MASK, "${" + name + "}")
    simulated = secrets.simulated_name(value)
    if simulated is not None:
        return "${" + secrets.name_for(where, simulated, shared=True) + "}"
    return "${" + secrets.name_for(where, env_name) + "}"


def _to_yaml_value(value: Any, where: str, secrets: _Secrets) -> Any:
    """Plain YAML-ready data: secrets replaced by placeholders, text escaped."""
    if isinstance(value, Secret):
        return _secret_text(value, where, secrets, None)
    if isinstance(value, str):
        if url_has_password(value):  # never trust that a reader concealed it
            return _secret_text(secret_url(value), where, secrets, None)
        return _escape(value)
    if isinstance(value, Mapping):
        return {str(k): _to_yaml_value(v, f"{where}.{k}", secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_yaml_value(v, f"{where}.{i + 1}", secrets) for i, v in enumerate(value)]
    return value


# --------------------------------------------------------------------------- accounts


def account_sections(
    raw: Mapping[str, Any], secrets: _Secrets
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The ``aculab``/``aql`` sections to write, from the ACCOUNT file's own YAML (not its
    resolved values): the secret is kept only when it is a ``${NAME}`` reference, else it
    becomes ``${ACULAB_API_KEY}`` / ``${AQL_PASSWORD}``. A secret is never copied in clear.
    """

    def section(key: str, secret_key: str, default_env: str) -> dict[str, Any] | None:
        src = raw.get(key)
        if not isinstance(src, Mapping):
            return None
        out: dict[str, Any] = {}
        for k, v in src.items():
            if k == secret_key:
                continue
            out[str(k)] = v
        ref = src.get(secret_key)
        match = _ENV_NAME.match(ref) if isinstance(ref, str) else None
        env = match.group(1) if match else default_env
        # Listed under its own name even when the ACCOUNT file chose it.
        out[secret_key] = "${" + secrets.name_for(f"{key}.{secret_key}", env) + "}"
        # Keep the documented order: identity first, secret, then endpoint.
        order = [k for k in out if k != "endpoint"] + (["endpoint"] if "endpoint" in out else [])
        return {k: out[k] for k in order}

    return (
        section("aculab", "api_key", "ACULAB_API_KEY"),
        section("aql", "password", "AQL_PASSWORD"),
    )


# --------------------------------------------------------------------------- numbers


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "x"


def pool_names(locations: Sequence[Location]) -> dict[tuple[str, str, str, str], str]:
    """A readable, unique pool name per location: the region (``london``), the did_type and
    prefix for non-geographic numbers (``tollfree-855``), and the country (and state) in
    front only where two locations would otherwise share a name."""

    def base(loc: Location) -> str:
        if loc.did_type == "geographic":
            return _slug(loc.region)
        return f"{loc.did_type}-{_slug(loc.region)}"

    bases = [base(loc) for loc in locations]
    names: dict[tuple[str, str, str, str], str] = {}
    taken: set[str] = set()
    for loc, b in zip(locations, bases, strict=True):
        name = b
        if bases.count(b) > 1:
            name = "-".join(_slug(p) for p in (loc.country, loc.state or "") if p) + "-" + b
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name}-{n}", n + 1
        taken.add(candidate)
        names[loc.key()] = candidate
    return names


def _pool_entry(loc: Location, count: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"country": loc.country}
    if loc.state:
        entry["state"] = loc.state
    entry["region"] = loc.region
    if loc.did_type != "geographic":
        entry["did_type"] = loc.did_type
    entry["count"] = count
    if loc.did_type == "tollfree":
        # The account does not say which callers its tollfree numbers accept; these only
        # matter when a purchase is needed (count raised), and a tollfree pool needs one.
        entry.update(allow_landline=True, allow_cellular=True, allow_payphone=True)
    return entry


# --------------------------------------------------------------------------- the export


try:  # libyaml: several times faster on a large account
    _BaseDumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseDumper = yaml.SafeDumper


class _Dumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Plain YAML: no anchors and aliases, even where two values are equal."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(data: Mapping[str, Any]) -> str:
    return yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )


def _trailer(placeholders: Sequence[Placeholder], notes: Sequence[str]) -> str:
    lines: list[str] = []
    if placeholders:
        lines.append("")
        lines.append("# Secrets: set these environment variables before `reconciler plan`;")
        lines.append("# export never writes a secret in clear.")
        width = max(len(p.name) for p in placeholders)
        lines.extend(f"#   {p.name:<{width}}  {p.where}" for p in placeholders)
    if notes:
        lines.append("")
        lines.append("# Left out:")
        lines.extend(f"#   {n}" for n in notes)
    return "\n".join(lines) + ("\n" if lines else "")


def build_export(
    snapshot: LiveState,
    account_yaml: Mapping[str, Any],
    *,
    pools: bool = False,
    split: bool = False,
    schema_ref: str = SCHEMA_NAME,
    source: str = "the live account",
    simulate: bool = False,
) -> ExportResult:
    """The YAML text of an export. ``account_yaml`` is the ACCOUNT file's raw mapping (only
    its ``aculab``/``aql`` are used). ``split`` writes one file per section (see
    :data:`FILES`), else one document (``files["-"]``). ``simulate``: the account is the
    simulator's, where a secret ``simulated-NAME`` is written back as ``${NAME}``."""
    secrets = _Secrets(simulate=simulate)
    notes: list[str] = []
    aculab, aql = account_sections(account_yaml, secrets)

    defaults = {kind: schema_defaults(s) for kind, s in snapshot.service_schemas.items()}

    def service_config(kind: ServiceKind, name: str) -> dict[str, Any]:
        live = conceal(dict(snapshot.services(kind)[name].config))
        return strip_defaults(live, defaults.get(kind, {}))

    inbound_names = sorted(snapshot.inbound)
    outbound_names = sorted(snapshot.outbound)
    inbound_cfg = {n: service_config("inbound", n) for n in inbound_names}
    outbound_cfg = {n: service_config("outbound", n) for n in outbound_names}

    numbers_section: dict[str, Any] = {}
    in_pool_inbound: set[str] = set()
    sorted_numbers = sorted(snapshot.numbers)
    if pools and sorted_numbers:
        by_location: dict[tuple[str, str, str, str], list[LiveNumber]] = {}
        locations: dict[tuple[str, str, str, str], Location] = {}
        for n in sorted_numbers:
            live = snapshot.numbers[n]
            key = live.location.key()
            by_location.setdefault(key, []).append(live)
            locations.setdefault(key, live.location)
        ordered = sorted(locations, key=lambda k: (k[0], k[1], k[2], k[3]))
        names = pool_names([locations[k] for k in ordered])
        pool_map: dict[str, Any] = {}
        for key in ordered:
            members = by_location[key]
            entry = _pool_entry(locations[key], len(members))
            configs = [inbound_cfg.get(m.number) for m in members]
            first = configs[0]
            # One number is no evidence of a pattern: its service stays its own.
            if len(members) > 1 and first is not None and all(c == first for c in configs):
                entry["inbound"] = first
                in_pool_inbound.update(m.number for m in members)
            pool_map[names[key]] = entry
        numbers_section["pools"] = pool_map
    elif sorted_numbers:
        numbers_section["pinned"] = {n: {} for n in sorted_numbers}

    relay: dict[str, Any] = {}
    for number in sorted(snapshot.relay_routes):
        route = snapshot.relay_routes[number]
        if route.is_mvno:
            notes.append(
                f"relay route {number}: mvno (delivery to an MVNO SIM) can be read but not declared"
            )
            continue
        entry2: dict[str, Any] = {"action": route.action}
        if route.detail:
            entry2["detail"] = list(route.detail)
        relay[number] = entry2

    sections: dict[str, Any] = {}
    if aculab is not None:
        sections["aculab"] = aculab
    if aql is not None:
        sections["aql"] = aql
    if numbers_section:
        sections["numbers"] = numbers_section
    inbound_out = {n: c for n, c in inbound_cfg.items() if n not in in_pool_inbound}
    if inbound_out:
        sections["inbound_services"] = inbound_out
    if outbound_cfg:
        sections["outbound_services"] = outbound_cfg
    if relay:
        sections["relay_routes"] = relay

    # Secrets become placeholders section by section, so names follow the YAML paths; the
    # account sections registered theirs first, in order.
    yaml_sections: dict[str, Any] = {}
    per_section: dict[str, list[Placeholder]] = {}
    account_placeholders = list(secrets.placeholders)
    for section in ("aculab", "aql"):
        if section in sections:
            yaml_sections[section] = sections[section]  # copied text and placeholders
            per_section[section] = [account_placeholders.pop(0)]
    for section, value in sections.items():
        if section in ("aculab", "aql"):
            continue
        before = len(secrets.placeholders)
        yaml_sections[section] = _to_yaml_value(value, section, secrets)
        per_section[section] = secrets.placeholders[before:]

    header = SCHEMA_LINE.format(ref=schema_ref)
    comment = f"# Exported by `reconciler export` from {source}."
    counts = {
        "numbers": len(sorted_numbers),
        "pools": len(numbers_section.get("pools", {})),
        "inbound_services": len(inbound_names),
        "outbound_services": len(outbound_names),
        "relay_routes": len(relay),
    }
    if not split:
        text = f"{header}\n{comment}\n\n" + _dump({"version": 1, **yaml_sections})
        text += _trailer(secrets.placeholders, notes)
        return ExportResult({"-": text}, tuple(secrets.placeholders), tuple(notes), counts)

    files: dict[str, str] = {}
    grouped: dict[str, dict[str, Any]] = {}
    for section, value in yaml_sections.items():
        grouped.setdefault(_FILE_OF_SECTION[section], {})[section] = value
    for fname in FILES:
        if fname not in grouped:
            continue
        body = _dump({"version": 1, **grouped[fname]})
        used = [p for sec in grouped[fname] for p in per_section.get(sec, [])]
        file_notes = notes if fname == "relay-routes.yaml" else []
        files[fname] = f"{header}\n{comment}\n\n{body}" + _trailer(used, file_notes)
    if notes and "relay-routes.yaml" not in files:
        files["account.yaml" if "account.yaml" in files else next(iter(files))] += _trailer(
            [], notes
        )
    # The schema beside the YAML, which points at it by a relative name: it resolves on
    # every machine the directory is checked out on.
    files[SCHEMA_NAME] = schema_path().read_text(encoding="utf-8")
    return ExportResult(files, tuple(secrets.placeholders), tuple(notes), counts)
