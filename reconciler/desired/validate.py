"""From checked YAML documents to the frozen model: merging, templates, semantic checks.

The schema has already judged each file's shape. :func:`build` then works across the files:
it merges them (a name defined twice is an error naming both places; the account, prune,
safety and drift sections may appear in one file only), normalises numbers, resolves
``template:`` chains, and makes the checks a schema can't express: two pools at one location,
a tollfree pool that accepts no calls, relay details of the wrong kind, an outbound service
without a password, ... Every problem goes to the shared :class:`Diagnostics` with the place
it is about; an entry the schema rejected is skipped here, so one mistake is reported once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from reconciler.configuration import deep_merge
from reconciler.desired.document import (
    Diagnostics,
    Document,
    Path,
    secret_text,
    secret_url_text,
    show,
)
from reconciler.desired.model import (
    AculabAccount,
    AqlAccount,
    ConfigPlaces,
    DesiredState,
    Location,
    NumberPool,
    Origin,
    PinnedNumber,
    PoolInbound,
    PruneSettings,
    RelayRoute,
    SafetyLimits,
    ServiceKind,
    ServiceMode,
    ServiceSpec,
)
from reconciler.desired.numbers import (
    NumberError,
    looks_like_number,
    normalise_glob,
    normalise_number,
)
from reconciler.desired.schema import service_options, where
from reconciler.secret import (
    SECRET_KEYS,
    Secret,
    know,
    password_span,
    secret_url,
    url_has_password,
)

# Sections that hold one thing for the whole state: in one file only.
SINGLE_SECTIONS = ("aculab", "aql", "prune", "safety", "drift")
# reconciler's own keys inside a service entry; the rest is the vendor's configuration.
SERVICE_KEYS = ("template", "mode", "ignore_changes")

_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,.]+$")
_HTTP_URL = re.compile(r"^https?://[^/\s?#]+[^\s]*$", re.IGNORECASE)


@dataclass
class Entry:
    """A named thing declared in one document: a pool, pin, template, service or route."""

    name: str  # normalised (numbers: digits only)
    written: str  # as written in the YAML
    origin: Origin  # of its key
    value: Any
    doc: Document
    path: Path  # in its document
    bad: bool = False  # the schema rejected something inside: not checked further


@dataclass
class Checked:
    """Per document: the paths under which the schema found errors."""

    doc: Document
    bad: set[Path] = field(default_factory=set)

    def is_bad(self, path: Path) -> bool:
        if not self.bad:
            return False
        return any(path[:cut] in self.bad for cut in range(len(path) + 1))


def bad_paths(problem_paths: Iterable[Path]) -> set[Path]:
    """The entries (or sections) that contain schema errors."""
    bad: set[Path] = set()
    for path in problem_paths:
        if path[:1] == ("numbers",):
            depth = 3  # numbers.pools.NAME, numbers.pinned.NUMBER
        elif path[:1] and path[0] in SINGLE_SECTIONS:
            depth = 1  # a one-file section is built whole, or not at all
        else:
            depth = 2  # templates.NAME, inbound_services.NAME, ...
        bad.add(path[:depth])
    return bad


def build(checked: list[Checked], diags: Diagnostics) -> DesiredState:
    """The merged desired state of ``checked`` documents; problems go to ``diags``.

    The state returned is only meaningful when ``diags`` has no errors.
    """
    return _Builder(checked, diags).build()


class _Builder:
    def __init__(self, checked: list[Checked], diags: Diagnostics) -> None:
        self.checked = checked
        self.diags = diags
        self.templates: dict[str, Entry] = {}
        self.resolved_templates: dict[str, dict[str, Any] | None] = {}
        self.used_templates: set[str] = set()

    # ------------------------------------------------------------------ collecting

    def collect(
        self, path: Path, label: str, normalise: Callable[[str], str] | None = None
    ) -> dict[str, Entry]:
        """The entries of the mapping at ``path`` across all documents, by (normalised) name."""
        seen: dict[str, Entry] = {}
        for item in self.checked:
            doc = item.doc
            for written, origin, value in doc.entries(path):
                name = written
                if normalise is not None:
                    try:
                        name = normalise(written)
                    except NumberError as err:
                        self.diags.error(origin, f"{where(path)}: {err}")
                        continue
                first = seen.get(name)
                if first is not None:
                    also = f" (written {first.written!r} there)" if first.written != written else ""
                    self.diags.error(
                        origin, f"{label} {show(name)} is already defined at {first.origin}{also}"
                    )
                    continue
                entry_path = (*path, written)
                seen[name] = Entry(
                    name, written, origin, value, doc, entry_path, item.is_bad(entry_path)
                )
        return seen

    def single(self, section: str) -> tuple[Any, Document] | None:
        """The value of a one-file-only section, reporting the files that repeat it."""
        found: tuple[Any, Document, Origin] | None = None
        for item in self.checked:
            doc = item.doc
            if not isinstance(doc.value, dict) or section not in doc.value:
                continue
            here = doc.at((section,), key=True)
            if found is not None:
                self.diags.error(
                    here,
                    f"the {section} section is already defined at {found[2]}: it may appear in "
                    "one file only",
                )
                continue
            if item.is_bad((section,)):
                # Defined, but wrong: the schema said why. Mark it seen, build nothing.
                found = (None, doc, here)
                continue
            found = (doc.value[section], doc, here)
        return (found[0], found[1]) if found is not None else None

    def first_place(self, *paths: Path) -> Origin | None:
        """Where the first of ``paths`` that is non-empty is declared (for "needs" errors)."""
        for item in self.checked:
            for path in paths:
                value: Any = item.doc.value
                for seg in path:
                    value = value.get(seg) if isinstance(value, dict) else None
                if value:
                    return item.doc.at(path, key=True)
        return None

    # ------------------------------------------------------------------ the whole state

    def build(self) -> DesiredState:
        aculab_section = self.single("aculab")
        aql_section = self.single("aql")
        prune_section = self.single("prune")
        safety_section = self.single("safety")
        drift_section = self.single("drift")

        self.templates = self.collect(("templates",), "template")
        for name, entry in self.templates.items():
            # Each template on its own, so that a cycle is found even where nothing uses it.
            self.template(name, entry.doc, entry.path, ())
            if not entry.bad:
                self.check_options(None, entry.value, entry.doc, entry.path)
        pools_in = self.collect(("numbers", "pools"), "pool")
        pinned_in = self.collect(("numbers", "pinned"), "pinned number", normalise_number)
        inbound_in = self.collect(("inbound_services",), "inbound service", _service_name)
        outbound_in = self.collect(("outbound_services",), "outbound service")
        relay_in = self.collect(("relay_routes",), "relay route", normalise_number)

        pinned = {
            name: PinnedNumber(number=name, origin=e.origin)
            for name, e in pinned_in.items()
            if not e.bad
        }
        pools = self.pools(pools_in)
        inbound = self.services("inbound", inbound_in)
        outbound = self.services("outbound", outbound_in)
        relay = self.relay_routes(relay_in)

        aculab = self.aculab(aculab_section)
        aql = self.aql(aql_section)
        if aculab_section is None:
            place = self.first_place(
                ("numbers", "pools"), ("numbers", "pinned"), ("inbound_services",),
                ("outbound_services",),
            )  # fmt: skip
            if place is not None:
                self.diags.error(
                    place,
                    "numbers and services need the aculab section (cloud_id, username, api_key): "
                    "it names the account they belong to",
                )
        if aql_section is None:
            place = self.first_place(("relay_routes",))
            if place is not None:
                self.diags.error(
                    place,
                    "relay_routes need the aql section (username, password): it names the aql "
                    "account the numbers belong to",
                )

        self.warn_unowned_numbers(inbound, inbound_in, pinned, pools)
        self.warn_unused_templates()

        return DesiredState(
            aculab=aculab,
            aql=aql,
            pools=pools,
            pinned=pinned,
            inbound_services=inbound,
            outbound_services=outbound,
            relay_routes=relay,
            prune=self.prune(prune_section),
            safety=self.safety(safety_section),
            drift_ignore=self.drift(drift_section),
            sources=tuple(item.doc.file for item in self.checked),
        )

    # ------------------------------------------------------------------ accounts

    def aculab(self, section: tuple[Any, Document] | None) -> AculabAccount | None:
        if section is None or not isinstance(section[0], dict):
            return None
        data = section[0]
        return AculabAccount(
            cloud_id=_text(data["cloud_id"]),
            username=_text(data["username"]),
            api_key=Secret(secret_text(data["api_key"])),
            endpoint=self.endpoint(section, "aculab"),
        )

    def aql(self, section: tuple[Any, Document] | None) -> AqlAccount | None:
        if section is None or not isinstance(section[0], dict):
            return None
        data = section[0]
        return AqlAccount(
            username=_text(data["username"]),
            password=Secret(secret_text(data["password"])),
            endpoint=self.endpoint(section, "aql"),
        )

    def endpoint(self, section: tuple[Any, Document], name: str) -> str | None:
        """The section's ``endpoint``; the schema checks only its start (``http(s)://host``),
        so a port out of range, a broken IPv6 host, a control character or anything else the
        client could not send is reported here, not as a crash or a failed call later."""
        endpoint = _optional_text(section[0].get("endpoint"))
        if endpoint is None:
            return None
        try:
            parts = urlsplit(endpoint)
            parts.port  # noqa: B018 - parsing the port is the check
            for at, char in enumerate(endpoint):
                # urlsplit drops tabs and newlines (WHATWG), so the client would call another
                # URL than the one written
                if ord(char) < 0x20 or ord(char) == 0x7F:
                    raise ValueError(f"a control character, {char!r}, at position {at}")
            # What the client will send, or why it can't (a host IDNA refuses, ...): asked of
            # the client's own rule. Imported here: only a state with an endpoint needs it.
            from reconciler.clients.http import wire_url

            _wire, unusable = wire_url(endpoint)
            if unusable is not None:
                raise ValueError(unusable)
        except ValueError as err:
            self.diags.error(
                section[1].at((name, "endpoint")),
                f"{name}.endpoint is not a usable URL ({err}); write it as "
                "http(s)://HOST[:PORT][/PATH] with a port from 1 to 65535",
            )
            return endpoint
        if name == "aculab" and "@" in parts.netloc:
            # Aculab gets HTTP Basic from cloud_id/username/api_key; a user:password@ in the URL
            # would be a second, conflicting set of credentials (the client refuses it).
            self.diags.error(
                section[1].at((name, "endpoint")),
                "aculab.endpoint must not hold credentials (user:password@): the account is "
                "named by aculab.cloud_id, aculab.username and aculab.api_key",
            )
        return endpoint

    # ------------------------------------------------------------------ templates

    def resolve(self, value: Any, doc: Document, path: Path) -> dict[str, Any] | None:
        """A service entry (finalised), with its template chain merged in (its own
        keys win); None when a template is unknown, broken or part of a cycle (reported).

        Parts of a template that a service doesn't change are shared between the services
        that use it, as a pool's inbound configuration is shared by its numbers: the model is
        read-only."""
        own: dict[str, Any] = dict(value) if isinstance(value, dict) else {}
        name = own.pop("template", None)
        if name is None:
            return cast(dict[str, Any], finalise(own))
        self.used_templates.add(_text(name))
        # ``name`` stays as read (perhaps from the environment) for a message to show it.
        base = self.template(name, doc, (*path, "template"), ())
        if base is None:
            return None
        return deep_merge(base, finalise(own))

    def template(
        self, name: str, doc: Document, used_at: Path, chain: tuple[str, ...]
    ) -> dict[str, Any] | None:
        if name in chain:
            cycle = " -> ".join((*chain, _text(name)))  # every name here is a template's
            self.diags.error(doc.at(used_at), f"templates form a cycle: {cycle}")
            return None
        if name in self.resolved_templates:
            return self.resolved_templates[name]
        entry = self.templates.get(name)
        if entry is None:
            self.diags.error(doc.at(used_at), _unknown_template(name, list(self.templates)))
            return None
        if entry.bad:
            result = None
        else:
            own = dict(entry.value) if isinstance(entry.value, dict) else {}
            parent = own.pop("template", None)
            if parent is None:
                result = finalise(own)
            else:
                self.used_templates.add(_text(parent))
                base = self.template(parent, entry.doc, (*entry.path, "template"), (*chain, name))
                result = None if base is None else deep_merge(base, finalise(own))
        self.resolved_templates[name] = result
        return result

    def warn_unused_templates(self) -> None:
        """A template no ``template:`` names is probably a misspelt reference elsewhere."""
        for name, entry in self.templates.items():
            if name not in self.used_templates and not entry.bad:
                self.diags.warning(
                    entry.origin, f"template {show(name)} is not used by any service or pool"
                )

    # ------------------------------------------------------------------ services

    def places(self, doc: Document, path: Path, value: Any) -> ConfigPlaces:
        """Where each key of the configuration declared at ``path`` is written: the service's
        own declaration first, then its template chain's (found lazily, only for a key a
        message needs to place)."""
        templates = self.templates

        def place(sub: tuple[str | int, ...]) -> Origin:
            here_doc, here_path, here_value = doc, path, value
            seen: set[str] = set()
            while True:
                knode, vnode = here_doc.nodes((*here_path, *sub))
                if vnode is not None:
                    return here_doc.at((*here_path, *sub), key=knode is not None)
                name = here_value.get("template") if isinstance(here_value, dict) else None
                entry = templates.get(name) if isinstance(name, str) else None
                if entry is None or not isinstance(name, str) or name in seen:
                    return doc.at((*path, *sub), key=True)
                seen.add(name)
                here_doc, here_path, here_value = entry.doc, entry.path, entry.value

        return place

    def service_parts(
        self, entry: Entry, value: Any, path: Path
    ) -> tuple[dict[str, Any], ServiceMode, tuple[str, ...]] | None:
        merged = self.resolve(value, entry.doc, path)
        if merged is None:
            return None
        mode = cast(ServiceMode, merged.pop("mode", None) or "merge")
        ignore = tuple(merged.pop("ignore_changes", None) or ())
        return merged, mode, ignore

    def services(self, kind: ServiceKind, entries: dict[str, Entry]) -> dict[str, ServiceSpec]:
        out: dict[str, ServiceSpec] = {}
        for name, entry in entries.items():
            if entry.bad:
                continue
            wrong = _bad_service_name(entry.written)
            if wrong is not None:
                self.diags.error(entry.origin, f"{kind} service name {show(entry.written)} {wrong}")
                continue
            self.check_options(kind, entry.value, entry.doc, entry.path)
            parts = self.service_parts(entry, entry.value, entry.path)
            if parts is None:
                continue
            config, mode, ignore = parts
            if kind == "outbound" and config.get("service_password") is None:
                self.diags.error(
                    entry.origin,
                    f"outbound service {show(name)} has no service_password: the server needs "
                    "one (write service_password: ${SOME_VARIABLE} to read it from the "
                    "environment)",
                )
                continue
            out[name] = ServiceSpec(
                kind=kind,
                name=name,
                config=config,
                mode=mode,
                ignore_changes=ignore,
                origin=entry.origin,
                places=self.places(entry.doc, entry.path, entry.value),
            )
        return out

    def check_options(
        self, kind: ServiceKind | None, value: Any, doc: Document, path: Path
    ) -> None:
        """A warning for a top-level option no service of ``kind`` has (None: a template, for
        either kind): most often a misspelt ``template`` or ``mode``, which would otherwise
        reach the server as an option of that name."""
        if not isinstance(value, dict):
            return
        if kind is None:
            known = service_options("inbound") | service_options("outbound")
        else:
            known = service_options(kind)
        if not known:
            return
        for key in value:
            if key in known or key in SERVICE_KEYS:
                continue
            close = difflib.get_close_matches(key, [*SERVICE_KEYS, *known], n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            what = "a service" if kind is None else f"an {kind} service"
            self.diags.warning(
                doc.at((*path, key), key=True),
                f"{show(key)} is not an option of {what}{hint}: unless the server's schema has "
                "it, plan and apply will be refused",
            )

    # ------------------------------------------------------------------ pools

    def pools(self, entries: dict[str, Entry]) -> dict[str, NumberPool]:
        out: dict[str, NumberPool] = {}
        by_location: dict[tuple[str, str, str, str], NumberPool] = {}
        for name, entry in entries.items():
            if entry.bad:
                continue
            data: dict[str, Any] = entry.value
            location = Location(
                country=_text(data["country"]),
                region=_text(data["region"]),
                state=_optional_text(data.get("state")),
                did_type=_text(data.get("did_type") or "geographic"),
            )
            allows = {k: bool(data.get(k, False)) for k in _ALLOW_KEYS}
            self.check_pool(entry, location, allows, data["region"])
            inbound: PoolInbound | None = None
            if "inbound" in data:
                self.check_options("inbound", data["inbound"], entry.doc, (*entry.path, "inbound"))
                parts = self.service_parts(entry, data["inbound"], (*entry.path, "inbound"))
                if parts is None:
                    continue
                config, mode, ignore = parts
                inbound = PoolInbound(
                    config=config,
                    mode=mode,
                    ignore_changes=ignore,
                    places=self.places(entry.doc, (*entry.path, "inbound"), data["inbound"]),
                )
            pool = NumberPool(
                name=name,
                location=location,
                count=int(data["count"]),
                allow_landline=allows["allow_landline"],
                allow_cellular=allows["allow_cellular"],
                allow_payphone=allows["allow_payphone"],
                regulation_address=_optional_text(data.get("regulation_address")),
                inbound=inbound,
                origin=entry.origin,
            )
            twin = by_location.get(location.key())
            if twin is not None:
                # No location in the text: a part of it may have come from the environment.
                self.diags.error(
                    entry.origin,
                    f"pool {show(name)} has the same location (country, state, region, "
                    f"did_type) as pool {show(twin.name)} at {twin.origin}: a live number there "
                    "would belong to both",
                )
                continue
            by_location[location.key()] = pool
            out[name] = pool
        return out

    def check_pool(
        self, entry: Entry, location: Location, allows: dict[str, bool], region: Any
    ) -> None:
        name = show(entry.name)
        if location.did_type == "tollfree":
            if not any(allows.values()):
                self.diags.error(
                    entry.origin,
                    f"tollfree pool {name} accepts calls from nowhere: set at least one of "
                    "allow_landline, allow_cellular, allow_payphone to true",
                )
        else:
            for key, on in allows.items():
                if on:
                    self.diags.warning(
                        entry.doc.at((*entry.path, key), key=True),
                        f"{key} applies to tollfree pools only; pool {name} is "
                        f"{location.did_type}, so it is ignored",
                    )
        if location.did_type in ("national", "tollfree") and not location.region.isdigit():
            self.diags.warning(
                entry.doc.at((*entry.path, "region")),
                f"the region of a {location.did_type} pool is a number prefix (such as 855), "
                f"not a name like {show(region)}",
            )

    # ------------------------------------------------------------------ relay routes

    def relay_routes(self, entries: dict[str, Entry]) -> dict[str, RelayRoute]:
        out: dict[str, RelayRoute] = {}
        for number, entry in entries.items():
            if entry.bad:
                continue
            data: dict[str, Any] = entry.value
            action = _text(data["action"])
            raw_detail = data.get("detail")
            items: list[str] = []
            if isinstance(raw_detail, str):
                items.append(raw_detail)
            elif isinstance(raw_detail, list):
                items.extend(raw_detail)
            if not self.check_relay(entry, action, items, isinstance(raw_detail, list)):
                continue
            detail = tuple(_detail_text(d) for d in items)
            for item in detail:
                _make_known(item)
            out[number] = RelayRoute(
                number=number,
                action=action,
                detail=detail,
                allow_mvno_takeover=bool(data.get("allow_mvno_takeover", False)),
                origin=entry.origin,
            )
        return out

    def check_relay(self, entry: Entry, action: str, items: list[str], listed: bool) -> bool:
        """The checks of one route; ``listed``: the detail was written as a list."""
        route = f"relay route {entry.name}"
        detail_path = (*entry.path, "detail")
        if action == "mvno":
            self.diags.error(
                entry.doc.at((*entry.path, "action")),
                f"{route}: action mvno can be read but never set; choose null-route, email, "
                "httpget or httppost (allow_mvno_takeover: true lets apply move a number off "
                "mvno, which stops delivery to its MVNO SIM)",
            )
            return False
        if action == "null-route":
            if items:
                self.diags.error(
                    entry.doc.at(detail_path),
                    f"{route}: a null-route takes no detail (it drops the messages)",
                )
                return False
            return True
        wanted = "e-mail addresses" if action == "email" else "http(s) callback URLs"
        if not items:
            self.diags.error(
                entry.origin, f"{route}: action {action} needs a detail: one or more {wanted}"
            )
            return False
        ok = True
        for i, item in enumerate(items):
            problem = None
            if "," in item:
                problem = (
                    "a detail can't contain a comma (aql joins details with commas); list each "
                    "one as its own item"
                )
            elif action == "email" and not _EMAIL.match(item):
                problem = f"{show(item)} is not an e-mail address (action email)"
            elif action != "email" and not _HTTP_URL.match(item):
                problem = f"{show(item)} is not an http(s) URL (action {action} calls it)"
            if problem is not None:
                # The place is looked up only for a problem: most routes have none.
                where_ = entry.doc.at((*detail_path, i) if listed else detail_path)
                self.diags.error(where_, f"{route}: {problem}")
                ok = False
        return ok

    # ------------------------------------------------------------------ the rest

    def prune(self, section: tuple[Any, Document] | None) -> PruneSettings:
        data = section[0] if section is not None and isinstance(section[0], dict) else {}
        return PruneSettings(
            numbers=bool(data.get("numbers", False)),
            inbound_services=bool(data.get("inbound_services", False)),
            outbound_services=bool(data.get("outbound_services", False)),
            # A number in a glob is normalised like every number of the YAML: "+44 1908 538007"
            # must protect 441908538007 (the planner matches globs against normal forms).
            ignore=self.ignore_globs(section),
        )

    def ignore_globs(self, section: tuple[Any, Document] | None) -> tuple[str, ...]:
        """``prune.ignore``, normalised; a number in it that could protect nothing is an error
        at its place (a typo here releases the number it meant)."""
        if section is None or not isinstance(section[0], dict):
            return ()
        data, doc = section
        globs: list[str] = []
        for i, glob in enumerate(data.get("ignore") or ()):
            try:
                globs.append(normalise_glob(_text(glob)))
            except NumberError as err:
                self.diags.error(doc.at(("prune", "ignore", i)), f"prune.ignore: {err}")
        return tuple(globs)

    def safety(self, section: tuple[Any, Document] | None) -> SafetyLimits:
        data = section[0] if section is not None and isinstance(section[0], dict) else {}
        defaults = SafetyLimits()
        return SafetyLimits(
            max_purchase=int(data.get("max_purchase", defaults.max_purchase)),
            max_delete_percent=float(data.get("max_delete_percent", defaults.max_delete_percent)),
            max_update_percent=float(data.get("max_update_percent", defaults.max_update_percent)),
            min_existing=int(data.get("min_existing", defaults.min_existing)),
        )

    def drift(self, section: tuple[Any, Document] | None) -> tuple[str, ...]:
        data = section[0] if section is not None and isinstance(section[0], dict) else {}
        return tuple(_text(g) for g in data.get("ignore") or ())

    def warn_unowned_numbers(
        self,
        inbound: dict[str, ServiceSpec],
        entries: dict[str, Entry],
        pinned: dict[str, PinnedNumber],
        pools: dict[str, NumberPool],
    ) -> None:
        """An inbound service named by a number answers calls only while the account owns the
        number: pinned, or bought by a pool. Offline, a pool's numbers are unknown, so the
        warning is for a number that is not pinned when there is no pool at all."""
        if pools:
            return
        for name in inbound:
            if name in pinned or not looks_like_number(name):
                continue
            self.diags.warning(
                entries[name].origin,
                f"inbound service {name} is named by a number that is not pinned, and no pool "
                "can supply it: pin it under numbers.pinned if the account owns it",
            )


_ALLOW_KEYS = ("allow_landline", "allow_cellular", "allow_payphone")


def _make_known(detail: str) -> None:
    """A relay detail stays plain text in the model (aql needs it whole, and the planner
    compares it with what aql reports), so the password of a URL in it is made known to the
    command's redactor, the last line of defence of every output."""
    span = password_span(detail)
    if span is not None:
        know([detail[span[0] : span[1]]])


# The spellings of a YAML null: as a key they name nothing (`~: {...}` is not a service).
_NULLS = frozenset({"~", "null", "Null", "NULL"})


def _bad_service_name(written: str) -> str | None:
    """Why ``written`` can't name a service (the API puts it in a URL path, a terminal shows
    it), or None."""
    if not written.strip():
        return "is empty: give the service a name"
    if written in _NULLS:
        return "is YAML's null (~), not a name: give the service a name"
    if not written.isprintable():
        return (
            "holds a character a terminal would hide (a control or invisible character): "
            "two names could look the same; remove it"
        )
    if written != written.strip():
        return "starts or ends with a space: two names could look the same; remove it"
    # The API names a service in its URL (/service/v1/inbound/<name>): "." and ".." are
    # path steps that servers and proxies resolve, and "/", "?" and "#" end a path segment.
    # Encoded or not, such a name reaches another URL, or a 404 that apply would misread.
    if written in (".", ".."):
        return "is a path step (. or ..), not a name: the API names a service in its URL"
    odd = sorted({c for c in written if c in "/?#"})
    if odd:
        shown = " ".join(repr(c) for c in odd)
        return f"holds {shown}: the API names a service in its URL, where these end the name"
    return None


def _service_name(written: str) -> str:
    """An inbound service name: a number (normalised) or a SIP username (as written)."""
    return normalise_number(written) if looks_like_number(written) else written


def _unknown_template(name: str, known: list[str]) -> str:
    message = f"unknown template {show(name)}"
    if not known:
        return f"{message}: no templates are defined (add them under templates:)"
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"{message} (did you mean {close[0]!r}?)"
    return f"{message}; defined templates: {', '.join(sorted(known))}"


def finalise(value: Any, key: str | None = None) -> Any:
    """A configuration as the model holds it: plain ``str`` (no environment markers), fresh
    containers, and every secret wrapped, as :func:`reconciler.secret.conceal` does, including
    a password YAML read as a number."""
    if isinstance(value, str):
        text = value if type(value) is str else str(value)
        if key in SECRET_KEYS:
            return Secret(secret_text(value))
        if "://" in text and url_has_password(text):
            return secret_url(secret_url_text(value))
        return text
    if isinstance(value, dict):
        return {k: finalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [finalise(v, key) for v in value]
    if key in SECRET_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
        return Secret(str(value))
    return value


def _detail_text(value: Any) -> str:
    """A relay detail as the model holds it: plain text, a URL's password as a secret."""
    text = _text(value)
    return secret_url_text(value) if "://" in text and url_has_password(text) else text


def _text(value: Any) -> str:
    """A model string: ``str`` itself, never the environment marker subclass."""
    return value if type(value) is str else str(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)
