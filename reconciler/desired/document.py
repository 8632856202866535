"""One YAML file of the desired state, read with the place of every value kept.

PyYAML's constructors forget where a value came from and silently keep the last of two equal
keys. Here the file is *composed* into nodes (libyaml's ``CSafeLoader`` when present: a large
file composes several times faster than with the pure-Python loader) and the nodes are turned
into plain values by :class:`_Converter`, which

- reports a key given twice in one mapping,
- replaces ``${NAME}`` with the environment variable ``NAME`` (``$${`` writes ``${``), and
  reports a variable that is not set,
- keeps YAML merge keys (``<<: *anchor``) working, refuses recursive aliases and documents
  that aliases blow up beyond :data:`MAX_VALUES` values,
- turns every scalar into a JSON value (a YAML timestamp stays the text it was written as).

The :class:`Document` keeps the root node, so that any path into the value (``("numbers",
"pools", "london", "count")``) maps back to ``file:line:column``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.desired.model import Origin
from reconciler.errors import Diagnostic
from reconciler.secret import SECRET_KEYS, know, password_span, secret_url, url_has_password

try:  # libyaml: the same nodes and marks, composed in C
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

# The first characters with which a plain scalar can be anything but a string.
_MAYBE_TYPED = frozenset(k for k in _BaseLoader.yaml_implicit_resolvers if k)

Path = tuple[str | int, ...]


class _Loader(_BaseLoader):
    """The safe loader with a quicker implicit typing, which the parser asks of every node:
    a quoted scalar is a string, so is a plain one that starts with a character no other type
    starts with (names, URLs), and the answer for the rest (keys, numbers) is remembered."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            if not implicit[0] or (value and value[0] not in _MAYBE_TYPED):
                return _STR
            tag = self._tags.get(value)
            if tag is None:
                tag = self._tags[value] = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


# Deeper than any real desired state; far below Python's recursion limit.
MAX_DEPTH = 64
# Aliases can make a small file stand for a huge value ("billion laughs").
MAX_VALUES = 2_000_000

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_MAP = _TAG + "map"
_SEQ = _TAG + "seq"
_MERGE = _TAG + "merge"
_TIMESTAMP = _TAG + "timestamp"
_CONSTRUCTED = {_TAG + t for t in ("int", "float", "bool", "null")}

_ENV = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EnvStr(str):
    """A string that came from the environment: messages show what was written (``${NAME}``),
    never the value, which may be a secret that is not yet known to be one.

    ``refs`` are the ``(start, end, NAME)`` spans of the value that variables filled in, and
    ``simulate`` says the file was read under ``--simulate``: there, a variable in a secret
    position reads as ``simulated-NAME`` whatever the environment holds (:meth:`as_secret`,
    :meth:`as_secret_url`), so that a real secret in the environment never reaches the
    simulator's account file. Only the code that knows a value is secret can ask for that."""

    raw: str
    refs: tuple[tuple[int, int, str], ...]
    simulate: bool

    def __new__(
        cls,
        value: str,
        raw: str,
        refs: tuple[tuple[int, int, str], ...] = (),
        simulate: bool = False,
    ) -> EnvStr:
        self = super().__new__(cls, value)
        self.raw = raw
        self.refs = refs
        self.simulate = simulate
        return self

    def _simulated(self, start: int, end: int) -> str:
        """The text of ``[start, end)`` with every variable touching it read as
        ``simulated-NAME`` (once each) and the literal text kept."""
        text = str.__str__(self)
        out: list[str] = []
        at = start
        for ref_start, ref_end, name in self.refs:
            if ref_end <= start or ref_start >= end:
                continue
            if ref_start > at:
                out.append(text[at:ref_start])
            out.append(f"simulated-{name}")
            at = max(at, ref_end)
        if at < end:
            out.append(text[at:end])
        return "".join(out)

    def as_secret(self) -> str:
        """The value where it is a secret (an ``api_key``, a ``password``, ...): under
        ``--simulate`` each variable reads as ``simulated-NAME``; else the value itself."""
        if not self.simulate or not self.refs:
            return str.__str__(self)
        return self._simulated(0, len(self))

    def as_secret_url(self) -> str:
        """The value as a URL whose password is a secret: under ``--simulate`` the variables
        that fill the password read as ``simulated-NAME`` (a whole URL from one variable keeps
        its scheme, user and host from the environment, its password becomes
        ``simulated-NAME``); the rest of the URL reads the environment as usual."""
        text = str.__str__(self)
        span = self.password_span() if self.simulate else None
        if span is None:
            return text
        start, end = span
        return text[:start] + self._simulated(start, end) + text[end:]

    def password_span(self) -> tuple[int, int] | None:
        """Where the password is, when the value is a URL carrying one
        (:func:`reconciler.secret.password_span`), a variable that begins in it included to
        its end: the password is taken to end at the first "@", but a variable's value may
        hold an "@" itself, and all of it is the secret."""
        span = password_span(str.__str__(self))
        if span is None:
            return None
        start, end = span
        for ref_start, ref_end, _name in self.refs:
            if start <= ref_start < end:
                end = max(end, ref_end)
        return start, end


def secret_text(value: Any) -> str:
    """The text of a value in a secret position (an ``api_key``, a ``password``, ...). Under
    ``--simulate`` a ``${NAME}`` there reads as ``simulated-NAME`` even when ``NAME`` is set:
    the simulator stores what it is given, and a real secret must not end up in its account
    file (see :meth:`EnvStr.as_secret`)."""
    return value.as_secret() if isinstance(value, EnvStr) else str(value)


def secret_url_text(value: Any) -> str:
    """The text of a URL whose password is a secret: under ``--simulate`` the variables that
    fill its password read as ``simulated-NAME``; the rest of it reads the environment."""
    return value.as_secret_url() if isinstance(value, EnvStr) else str(value)


class Diagnostics:
    """Collects diagnostics; errors and warnings, sorted into file order at the end."""

    def __init__(self, files: list[str] | None = None) -> None:
        self.items: list[Diagnostic] = []
        self.files: list[str] = list(files or [])

    def add(
        self, where: Origin, message: str, severity: Literal["error", "warning"] = "error"
    ) -> None:
        self.items.append(Diagnostic(where.file, where.line, where.column, message, severity))

    def error(self, where: Origin, message: str) -> None:
        self.add(where, message, "error")

    def warning(self, where: Origin, message: str) -> None:
        self.add(where, message, "warning")

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        order = {name: i for i, name in enumerate(self.files)}
        # A value reached through several aliases reports its problem once.
        unique = list(dict.fromkeys(self.items))
        # Stable: equal places keep the order the checks found them in.
        return sorted(
            unique, key=lambda d: (order.get(d.file, len(order)), d.file, d.line, d.column)
        )


def origin_of(file: str, node: Node, *, end: bool = False) -> Origin:
    mark = node.end_mark if end else node.start_mark
    return Origin(file, mark.line + 1, mark.column + 1)


def show(value: Any, key: str | int | None = None) -> str:
    """A value as a message may quote it: never a secret, never an environment value, short."""
    if isinstance(key, str) and key in SECRET_KEYS:
        return "(sensitive)"
    if isinstance(value, EnvStr):
        return repr(value.raw)
    if isinstance(value, str):
        text = secret_url(value).display if url_has_password(value) else value
        if len(text) > 60:
            text = text[:57] + "..."
        return repr(text)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


@dataclass
class Document:
    """One YAML file: its display name, root node and plain value (``None`` if unreadable)."""

    file: str
    root: Node | None = None
    value: Any = None
    # Lazily built: id(mapping node) -> {key text: (key node, value node)}
    _index: dict[int, dict[str, tuple[Node, Node]]] = field(default_factory=dict, repr=False)

    @property
    def start(self) -> Origin:
        return Origin(self.file, 1, 1)

    # ------------------------------------------------------------------ path -> place

    def _pairs(self, node: MappingNode) -> dict[str, tuple[Node, Node]]:
        index = self._index.get(id(node))
        if index is None:
            index = {}
            merged: list[Node] = []
            for knode, vnode in node.value:
                if not isinstance(knode, ScalarNode):
                    continue
                if knode.tag == _MERGE:
                    merged.append(vnode)
                    continue
                index.setdefault(knode.value, (knode, vnode))
            for source in merged:
                sources = source.value if isinstance(source, SequenceNode) else [source]
                for sub in sources:
                    if isinstance(sub, MappingNode):
                        for k, pair in self._pairs(sub).items():
                            index.setdefault(k, pair)
            self._index[id(node)] = index
        return index

    def nodes(self, path: Path) -> tuple[Node | None, Node | None]:
        """The key node (None for a list item or the root) and value node at ``path``; both
        None when the path leads nowhere."""
        key: Node | None = None
        node = self.root
        for seg in path:
            if isinstance(node, MappingNode):
                pair = self._pairs(node).get(str(seg))
                if pair is None:
                    return None, None
                key, node = pair
            elif isinstance(node, SequenceNode) and isinstance(seg, int):
                if not 0 <= seg < len(node.value):
                    return None, None
                key, node = None, node.value[seg]
            else:
                return None, None
        return key, node

    def at(self, path: Path, *, key: bool = False) -> Origin:
        """``file:line:column`` of the value at ``path`` (of its key with ``key=True``),
        or of the nearest place above it that exists."""
        for cut in range(len(path), -1, -1):
            knode, vnode = self.nodes(path[:cut])
            if key and knode is not None:
                return origin_of(self.file, knode)
            if vnode is not None:
                return origin_of(self.file, vnode)
        return self.start

    def entries(self, path: Path) -> Iterator[tuple[str, Origin, Any]]:
        """``(name, place of the name, value)`` for each key of the mapping at ``path``."""
        value = self.value
        for seg in path:
            if not isinstance(value, dict):
                return
            value = value.get(seg)
        if not isinstance(value, dict):
            return
        _, node = self.nodes(path)
        pairs = self._pairs(node) if isinstance(node, MappingNode) else {}
        file = self.file
        for name, item in value.items():
            pair = pairs.get(name)
            if pair is None:  # pragma: no cover - every key of a converted mapping has a node
                yield name, self.at(path), item
                continue
            mark = pair[0].start_mark
            yield name, Origin(file, mark.line + 1, mark.column + 1), item


# ---------------------------------------------------------------------- parsing


def parse(
    file: str,
    text: str,
    diags: Diagnostics,
    *,
    environ: Mapping[str, str],
    simulate: bool = False,
) -> Document:
    """Compose ``text`` and convert it; every problem goes to ``diags``."""
    doc = compose(file, text, diags)
    if doc.root is None:
        return doc
    converter = _Converter(file, diags, environ, simulate, aliases=_may_alias(text))
    doc.value = converter.convert(doc.root, 0)
    return doc


def compose(file: str, text: str, diags: Diagnostics) -> Document:
    """Compose ``text`` into nodes (``doc.root``), guarded: the one way any YAML the user
    gives is read. Nothing a file holds can crash the process (nesting is measured before
    libyaml recurses); every problem goes to ``diags`` at its place and leaves ``doc.root``
    None."""
    doc = Document(file)
    try:
        too_deep = _too_deep(text)
        if too_deep is not None:
            diags.error(
                Origin(file, too_deep[0] + 1, too_deep[1] + 1),
                f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)",
            )
            return doc
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = Origin(file, mark.line + 1, mark.column + 1) if mark else doc.start
        diags.error(where, _yaml_message(err, text))
        return doc
    except yaml.YAMLError as err:  # ReaderError: a character YAML does not allow
        diags.error(_reader_origin(file, text, err), _reader_message(err))
        return doc
    except RecursionError:
        diags.error(doc.start, f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)")
        return doc
    if root is None:
        diags.error(doc.start, "the file is empty: a desired state starts with `version: 1`")
        return doc
    doc.root = root
    return doc


# libyaml composes recursively in C: tens of thousands of nested brackets overflow the C
# stack and kill the process, no exception. Text that *could* nest that deep is first
# measured with the event stream, which libyaml produces without recursion.
_SAFE_BOUND = 2000
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where (line, column; 0-based) nesting passes :data:`MAX_DEPTH`; None when it doesn't."""
    # A cheap bound: block nesting needs a new column (or a compact "- ", same column), so
    # at most twice the longest line; flow nesting at most the bracket depth.
    longest = max(map(len, text.splitlines()), default=0)
    peak = max(accumulate(map(_STEP.__getitem__, _BRACKETS.findall(text))), default=0)
    if 2 * (longest + 1) + peak < _SAFE_BOUND:
        return None
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                return (mark.line, mark.column) if mark is not None else (0, 0)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


# An anchor (&name) starts a node: after a space, a flow indicator or at the start of a
# line. An "&" inside a URL's query doesn't match; a false match only costs speed. Without an
# anchor there can be no alias (an alias to nothing is a YAML error).
_ANCHOR = re.compile(r"[\s\[\]{},]&[^\s\[\]{},]")


def _may_alias(text: str) -> bool:
    return "&" in text and (text.startswith("&") or _ANCHOR.search(text) is not None)


# libyaml's words for the usual slips, and what to do about each.
_YAML_HINTS = (
    ("did not find expected key", "check the indentation of this line against the lines "
     "above it"),
    ("mapping values are not allowed", "a ': ' where YAML expects none: quote a value that "
     "contains ': '"),
    ("did not find expected ',' or '}'", "a { ... } that is not closed (or a missing comma)"),
    ("did not find expected ',' or ']'", "a [ ... ] that is not closed (or a missing comma)"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
    ("found duplicate anchor", "an anchor (&name) defined twice"),
    ("nesting depth", f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)"),
    ("found unexpected end of stream", "a quoted string that is not closed"),
)  # fmt: skip


def _after_long_key(source: str, index: int, text: str) -> bool:
    """Is the error at ``index`` libyaml's way of refusing a plain key over 1,024 characters
    (it stops looking for the ':' of a "simple key" there)?"""
    if "simple key" not in text and "mapping values are not allowed" not in text:
        return False
    start = source.rfind("\n", 0, index) + 1
    key = source[start:index].lstrip(" -?")
    return len(key) > 1024 and ": " not in key


def _yaml_message(err: yaml.MarkedYAMLError, source: str) -> str:
    problem = err.problem or "invalid YAML"
    text = f"{problem} {err.context or ''}"
    if "expected a single document" in text:
        return "the file holds more than one YAML document (a second `---`): use one per file"
    mark = err.problem_mark
    if mark is not None and 0 <= mark.index < len(source) and source[mark.index] == "\t":
        return "invalid YAML: a tab character: YAML is indented with spaces only"
    if mark is not None and _after_long_key(source, mark.index, text):
        return (
            "invalid YAML: a key longer than 1,024 characters (YAML's limit for a plain key): "
            "shorten it, or write it as an explicit key (`? the-key` on one line, `: value` on "
            "the next)"
        )
    for words, hint in _YAML_HINTS:
        if words in text:
            return f"invalid YAML: {problem}: {hint}"
    if err.context and err.context not in problem:
        return f"invalid YAML: {problem} ({err.context})"
    return f"invalid YAML: {problem}"


def _reader_origin(file: str, text: str, err: yaml.YAMLError) -> Origin:
    position = getattr(err, "position", None)
    if not isinstance(position, int):
        return Origin(file, 1, 1)
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return Origin(file, line, column)


def _reader_message(err: yaml.YAMLError) -> str:
    character = getattr(err, "character", None)
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    if isinstance(character, int):  # libyaml gives the code point
        return f"invalid YAML: the character U+{character:04X} is not allowed in YAML"
    return "invalid YAML: a character that YAML does not allow"


class _Converter:
    """Nodes to plain values. Hot: a large file has tens of thousands of nodes."""

    def __init__(
        self,
        file: str,
        diags: Diagnostics,
        environ: Mapping[str, str],
        simulate: bool,
        *,
        aliases: bool = True,
    ) -> None:
        self.file = file
        self.diags = diags
        self.environ = environ
        self.simulate = simulate
        # Without anchors there are no aliases: no value is reached twice, and the much
        # cheaper walk of :meth:`plain` is enough.
        self.aliases = aliases
        self.constructor = yaml.constructor.SafeConstructor()
        # id(collection node) -> (value, number of values in it): aliases are converted once
        self.memo: dict[int, tuple[Any, int]] = {}
        self.active: set[int] = set()
        self.count = 0
        self.too_big = False

    def error(self, node: Node, message: str) -> None:
        self.diags.error(origin_of(self.file, node), message)

    def plain(self, node: Node, depth: int) -> Any:
        """:meth:`convert` for a document without anchors: one pass, scalars inline."""
        if depth >= MAX_DEPTH:
            self.error(node, f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)")
            return None
        kind = type(node)
        if kind is MappingNode and node.tag == _MAP:
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                if type(knode) is not ScalarNode or knode.tag == _MERGE or knode.value in out:
                    return self.mapping(node, depth)  # type: ignore[arg-type]  # rare: said there
                if type(vnode) is ScalarNode:
                    if vnode.tag == _STR:
                        text: str = vnode.value
                        out[knode.value] = self.substitute(text, vnode) if "$" in text else text
                    else:
                        out[knode.value] = self.scalar(vnode)
                else:
                    out[knode.value] = self.plain(vnode, depth + 1)
            return out
        if kind is SequenceNode and node.tag == _SEQ:
            items: list[Any] = []
            for item in node.value:
                if type(item) is ScalarNode:
                    if item.tag == _STR:
                        text = item.value
                        items.append(self.substitute(text, item) if "$" in text else text)
                    else:
                        items.append(self.scalar(item))
                else:
                    items.append(self.plain(item, depth + 1))
            return items
        return self.general(node, depth)

    def convert(self, node: Node, depth: int) -> Any:
        """The plain value of ``node``; problems are reported and read as None."""
        if not self.aliases and type(node) is not ScalarNode:
            return self.plain(node, depth)
        return self.general(node, depth)

    def general(self, node: Node, depth: int) -> Any:
        self.count += 1
        if type(node) is ScalarNode:
            if node.tag == _STR:
                value: str = node.value
                return self.substitute(value, node) if "$" in value else value
            return self.scalar(node)
        key = id(node)
        memo = self.memo.get(key)
        if memo is not None:
            self.count += memo[1]
            if self.count > MAX_VALUES and not self.too_big:
                self.too_big = True
                self.error(node, f"aliases expand this file beyond {MAX_VALUES:,} values")
            return None if self.too_big else memo[0]
        if key in self.active:
            self.error(node, "this anchored value contains an alias to itself (a recursive alias)")
            return None
        if depth >= MAX_DEPTH:
            self.error(node, f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)")
            return None
        self.active.add(key)
        before = self.count
        result: Any
        if type(node) is MappingNode:
            if node.tag != _MAP:
                self.error(node, f"unsupported YAML type {_tag_name(node.tag)}: use a mapping")
                result = None
            else:
                result = self.mapping(node, depth)
        elif type(node) is SequenceNode:
            if node.tag != _SEQ:
                self.error(node, f"unsupported YAML type {_tag_name(node.tag)}: use a list")
                result = None
            else:
                result = [self.convert(item, depth + 1) for item in node.value]
        else:  # pragma: no cover - composing yields only these three node types
            result = None
        self.active.discard(key)
        self.memo[key] = (result, self.count - before)
        return result

    def mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for knode, vnode in node.value:
            if type(knode) is not ScalarNode:
                self.error(knode, "a key must be a plain name or number, not a list or mapping")
                continue
            if knode.tag == _MERGE:
                merges.append(vnode)
                continue
            name: str = knode.value
            if name in out:
                first = next(k for k, _ in node.value if k.value == name and k is not knode)
                self.error(
                    knode,
                    f"duplicate key {show(name)}: already given on line {first.start_mark.line + 1}"
                    " of this mapping (YAML would silently keep only the last)",
                )
                continue
            out[name] = self.convert(vnode, depth + 1)
        for merge in merges:
            self.merge(out, merge, depth)
        return out

    def merge(self, out: dict[str, Any], merge: Node, depth: int) -> None:
        """``<<: *anchor`` or ``<<: [*a, *b]``: keys not given here come from those mappings
        (the first one that has a key wins, as YAML specifies)."""
        sources = merge.value if type(merge) is SequenceNode else [merge]
        for source in sources:
            if type(source) is not MappingNode:
                self.error(source, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            value = self.convert(source, depth + 1)
            if isinstance(value, dict):
                for name, item in value.items():
                    out.setdefault(name, item)

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in _CONSTRUCTED:
            try:
                return self.constructor.yaml_constructors[tag](self.constructor, node)
            # LookupError: PyYAML's own constructors index into the text ('!!int' with no
            # value) and into their table of booleans ('!!bool maybe').
            except (yaml.YAMLError, ValueError, OverflowError, LookupError):
                self.error(node, f"{show(node.value)} is not a valid {_tag_name(tag)} value")
                return None
        if tag == _TIMESTAMP:
            # A date in a description or a name is meant as text, not a datetime.
            return node.value
        self.error(node, f"unsupported YAML type {_tag_name(tag)}: write a plain value")
        return None

    def substitute(self, text: str, node: ScalarNode) -> str:
        """``${NAME}`` -> the environment variable; ``$${`` -> ``${``. A reference that can't
        be resolved is reported and left as written, so no second error follows from it."""
        used = False
        # Where each variable's value lands in the result: the text before a match is the
        # text between matches (kept as is) plus what earlier matches were replaced by.
        refs: list[tuple[int, int, str]] = []
        shift = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal used, shift
            out = resolve(match)
            if match.group(0) != "$${" and match.group(2) and _ENV_NAME.match(match.group(1)):
                start = match.start() + shift
                refs.append((start, start + len(out), match.group(1)))
            shift += len(out) - (match.end() - match.start())
            return out

        def resolve(match: re.Match[str]) -> str:
            nonlocal used
            if match.group(0) == "$${":
                return "${"
            name, closed = match.group(1), match.group(2)
            if not closed:
                self.error(node, "a ${ is not closed: write ${NAME} (or $${ for a literal ${)")
                return match.group(0)
            if not _ENV_NAME.match(name):
                self.error(
                    node,
                    # The text is not shown: it may be part of an inline secret.
                    "a ${...} here is not a variable reference: a name is letters, digits and _ "
                    "(write $${ for a literal ${)",
                )
                return match.group(0)
            used = True
            value = self.environ.get(name)
            if value is None:
                if self.simulate:
                    return f"simulated-{name}"
                self.error(
                    node,
                    f"environment variable {name} is not set (set it, or use --simulate to "
                    "run against the simulator without credentials)",
                )
                return match.group(0)
            return value

        result = _ENV.sub(replace, text)
        if not used:
            return result
        value = EnvStr(result, text, tuple(refs), self.simulate)
        span = value.password_span()
        if span is not None:
            # The password, variables and all, is a secret whole: shown as the URL's host,
            # the part of a variable past an "@" of its own would give it away
            # (reconciler/secret.py, secret_url).
            know([result[span[0] : span[1]]])
        return value


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
