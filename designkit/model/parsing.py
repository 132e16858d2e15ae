"""Design text to plain data, safely: YAML (or JSON) with no objects and no lost keys.

YAML tags that would construct Python objects are refused before anything is built (nothing
is run); a key repeated in a mapping is an error (YAML and JSON would silently keep the
last). Plain scalars are read as YAML 1.2 (its core schema) reads them, as JSON and
editors do: ``true``/``false`` only are booleans (``on``, ``yes``, ``no`` stay words), ints
are decimal (``017`` is 17, ``0x1F`` and ``1:30`` stay text), ``1e-7`` is a float; ISO
dates stay dates. Aliases may not expand a document past :data:`MAX_EXPANSION` nodes (an
"alias bomb" is refused before anything is built) nor refer to themselves; JSON may not
nest past the interpreter's limit. Plain YAML is built straight from libyaml's events (no
node tree), or with anchors in one pass from its nodes; anything unusual (a merge key,
``!!set``, an unsafe tag, a repeated key) or wrong goes the careful way: every node
checked, then PyYAML's constructor — which also says where a problem is.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import yaml

from designkit.errors import DesignError, Problem, UnsafeYAMLError
from designkit.gcpause import gc_paused
from designkit.model.problems import format_path

__all__ = ["EXPONENT_FLOAT", "MAX_EXPANSION", "parse_text", "yaml12_resolvers"]

MAX_EXPANSION = 100_000
"""Nodes a YAML document may hold once its aliases are expanded, beyond ten times the
nodes it writes out: a legitimate design that reuses anchored parts stays far below."""


def parse_text(text: str, label: str | None = None) -> Any:
    """Parse YAML (or JSON) text safely: no Python objects, no duplicate keys.

    Raises:
        UnsafeYAMLError: A tag would construct a Python object (or is unknown).
        DesignError: The text is not valid YAML, or a mapping repeats a key.
    """
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the design
    suffix = (label or "").lower().rpartition(".")[2]
    if suffix == "json" or (suffix not in ("yaml", "yml") and text.lstrip().startswith("{")):
        with gc_paused():
            try:
                return _parse_json(text, label)
            except _NotJSON as err:  # a YAML flow mapping ({a: 1}) unless a .json file
                if suffix == "json":
                    raise err.error from None
                try:
                    return _yaml(text, label)
                except DesignError:
                    raise err.error from None
    return _yaml(text, label)


def _yaml(text: str, label: str | None) -> Any:
    aliases = "&" in text
    if not aliases:  # the usual design: its data straight from libyaml's events
        loader = _Loader(text)
        try:  # anything unusual, or an error: the node path below takes it (and locates
            with gc_paused(), contextlib.suppress(Exception):  # an error as it always has)
                return _event_data(loader)
        finally:
            loader.dispose()
    loader = _Loader(text)
    try:
        with gc_paused():
            return _parse_yaml(loader, label, aliases=aliases)
    finally:
        loader.dispose()


class _NotJSON(Exception):
    """The text is not JSON; ``error`` says where."""

    def __init__(self, error: DesignError) -> None:
        super().__init__(str(error))
        self.error = error


def _parse_yaml(loader: _Loader, label: str | None, aliases: bool) -> Any:
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as err:
        raise DesignError([_syntax_problem(err)], source=label) from None
    if root is None:
        return None
    if aliases:
        _check_expansion(root, label)
    with contextlib.suppress(Exception):  # anything unusual: the careful way
        return _plain_data(root, loader, aliases)
    return _constructed(root, loader, label)


def _constructed(root: yaml.Node, loader: _Loader, label: str | None) -> Any:
    """The careful way: every node checked (tags, duplicate keys), then PyYAML's constructor.

    Handles all YAML (merge keys, ``!!set``…) and reports every problem; the result that
    :func:`_plain_data` must equal.
    """
    problems: list[Problem] = []
    _check_nodes(root, [], problems)  # before anything is constructed
    if problems:
        kind = UnsafeYAMLError if any("tag" in p.message for p in problems) else DesignError
        raise kind(problems, source=label)
    try:
        return loader.construct_document(root)
    except (yaml.YAMLError, ValueError) as err:
        problem = (_syntax_problem(err) if isinstance(err, yaml.YAMLError)
                   else Problem("<text>", f"not valid YAML: {err}"))
        raise DesignError([problem], source=label) from None


def _check_expansion(root: yaml.Node, label: str | None) -> None:
    """Refuse a document whose aliases refer to a node that holds them (a loop) or expand
    it past :data:`MAX_EXPANSION` nodes; costs one visit of each distinct node."""
    size: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        key = id(node)
        kids = _children(node)
        if counted:
            open_.discard(key)
            size[key] = 1 + sum(size[id(kid)] for kid in kids)
            continue
        if key in size:
            continue
        if key in open_:
            line = node.start_mark.line + 1
            raise DesignError([Problem(f"line {line}", "an alias refers to a node that holds "
                                       "it (a loop): a design is a tree; write the part out "
                                       "instead of aliasing it")], source=label)
        open_.add(key)
        stack.append((node, True))
        stack.extend((kid, False) for kid in kids if id(kid) not in size)
    expanded, limit = size[id(root)], MAX_EXPANSION + 10 * len(size)
    if expanded > limit:
        raise DesignError([Problem("<text>", f"aliases expand this document to {expanded:,} "
                                   f"nodes from {len(size):,} written (an alias bomb?); "
                                   f"designkit expands at most {limit:,} here: write the "
                                   "repeated parts out")], source=label)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _parse_json(text: str, label: str | None) -> Any:
    """JSON with every key unique (JSON, too, would silently keep the last)."""
    duplicates: list[Problem] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                duplicates.append(Problem(format_path([key]), "duplicate key: JSON would keep "
                                          "only the last; merge them or rename one"))
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=unique, parse_int=_whole_number)
    except json.JSONDecodeError as err:
        raise _NotJSON(DesignError([Problem(f"line {err.lineno}, column {err.colno}",
                                            f"not valid JSON: {err.msg}")], source=label)) \
            from None
    except RecursionError:
        raise DesignError([Problem("<text>", "not a design: the JSON nests deeper than "
                                   "designkit reads (a design nests a few dozen levels)")],
                          source=label) from None
    if duplicates:
        raise DesignError(duplicates, source=label)
    return data


def _whole_number(text: str) -> int | float:
    """An integer as written; one too long for Python's int-to-text limit (4,300 digits)
    becomes a float (infinite), which validation then refuses as out of range."""
    return int(text) if len(text.lstrip("+-")) <= 4000 else float(text)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML (libyaml when available: ~10x faster) that reads plain scalars as YAML 1.2
    does (booleans ``true``/``false``, decimal ints, ``1e-7`` a float) — see the module.

    The parser asks for the tag of every node. Without path resolvers, a plain scalar's tag
    depends only on its text, a quoted scalar is a string, and a mapping or sequence has the
    default tag, so each loader resolves each distinct plain text once: a design repeats
    the same keys and values many times.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[str, str] = {}  # plain scalar text -> tag
        self._by_text = not self.yaml_path_resolvers

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if not self._by_text:
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        if kind is _SCALAR_NODE:
            if not implicit[0]:  # quoted (or tagged `!`): what the implicit resolvers skip
                return self.DEFAULT_SCALAR_TAG  # type: ignore[no-any-return]
            tag = self._tags.get(value)
            if tag is None:
                tag = self._tags[value] = super().resolve(kind, value, implicit)
            return tag
        if kind is _MAPPING_NODE:
            return self.DEFAULT_MAPPING_TAG  # type: ignore[no-any-return]
        if kind is _SEQUENCE_NODE:
            return self.DEFAULT_SEQUENCE_TAG  # type: ignore[no-any-return]
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]


_SCALAR_NODE, _MAPPING_NODE, _SEQUENCE_NODE = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
"""A float YAML 1.1 reads as text (it wants a dot); the dumper quotes such strings."""


def yaml12_resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """YAML 1.2 core-schema resolvers for null, bool, int and float (ints decimal only,
    as in JSON), and YAML 1.1's for dates and merge keys."""
    tag = "tag:yaml.org,2002:{}".format
    resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}

    def add(kind: str, pattern: str, first: str | list[str]) -> None:
        for char in first:
            resolvers.setdefault(char or None, []).append((tag(kind), re.compile(pattern)))

    add("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF")
    add("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""])
    add("int", r"^[-+]?[0-9]+$", "-+0123456789")
    add("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                 r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789")
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        for kind, pattern in entries:
            if kind in (tag("timestamp"), tag("merge")):
                resolvers.setdefault(first, []).append((kind, pattern))
    return resolvers


def _construct_int(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> Any:
    """A decimal int (``017`` is 17); text an explicit ``!!int`` tag puts on other forms is
    read as YAML 1.1 reads it. Too many digits for an int: a float, refused later."""
    text = str(node.value)
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return _whole_number(text)
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError as err:
        raise yaml.constructor.ConstructorError(None, None, f"not an integer: {err}",
                                                node.start_mark) from None


_Loader.yaml_implicit_resolvers = yaml12_resolvers()
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)

_SAFE_TAGS = {f"tag:yaml.org,2002:{t}" for t in
              ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge",
               "binary", "omap", "pairs", "set")}


def _check_nodes(node: yaml.Node, path: list[str | int], problems: list[Problem]) -> None:
    line = node.start_mark.line + 1
    if node.tag not in _SAFE_TAGS:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        problems.append(Problem(format_path(path) or f"line {line}",
                                f"line {line}: the tag {tag!r} would construct an object; "
                                "designkit reads plain YAML data only, so nothing was run — "
                                "remove the tag"))
        return
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            here = [*path, key]
            if key in seen and key != "<<":
                problems.append(Problem(format_path(here),
                                        f"duplicate key on lines {seen[key]} and "
                                        f"{key_node.start_mark.line + 1}: YAML would keep only "
                                        "the last; merge them or rename one"))
            seen.setdefault(key, key_node.start_mark.line + 1)
            _check_nodes(key_node, path, problems)
            _check_nodes(value_node, here, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_nodes(item, [*path, i], problems)


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{t}" for t in ("str", "seq", "map"))
# Scalars that PyYAML's SafeConstructor builds with a plain function (no generator).
_SCALAR_TAGS = tuple(f"tag:yaml.org,2002:{t}" for t in
                     ("null", "bool", "int", "float", "binary", "timestamp"))


_NOT_BUILT = object()


class _Unusual(Exception):
    """Something :func:`_plain_data` leaves to PyYAML's constructor and ``_check_nodes``."""


def _plain_data(root: yaml.Node, loader: _Loader, aliases: bool) -> Any:
    """The data of ``root``, in one pass, for the plain YAML a design file holds.

    The same data as :func:`_constructed` (PyYAML's constructor): scalars other than
    strings are built by the SafeConstructor's own functions (once per distinct text: they
    depend on nothing else), and with ``aliases`` (the text has an anchor) an aliased node
    gives the same object. Raises :class:`_Unusual` (or whatever a scalar's function
    raises) at anything else: an unsafe or unexpected tag, a repeated key, a key that is
    not a scalar, a merge key (``<<``), an alias inside its own anchor. The caller then
    takes the careful way, which reports the problem exactly as before.
    """
    constructors = {tag: loader.yaml_constructors[tag] for tag in _SCALAR_TAGS}
    values: dict[tuple[str, str], Any] = {}
    built: dict[int, Any] = {}  # id(node) -> its list or dict (None while building it)
    scalar_node, mapping_node, sequence_node = _SCALAR_NODE, _MAPPING_NODE, _SEQUENCE_NODE

    def scalar(node: yaml.Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        key = (tag, node.value)
        value = values.get(key, _NOT_BUILT)
        if value is _NOT_BUILT:
            construct = constructors.get(tag)
            if construct is None:
                raise _Unusual(tag)
            value = values[key] = construct(loader, node)
        return value

    def collection(node: yaml.Node) -> Any:
        if aliases:
            if id(node) in built:
                if built[id(node)] is None:
                    raise _Unusual("an alias inside its own anchor")  # (check_nodes recurses)
                return built[id(node)]
            built[id(node)] = None
        kind = type(node)
        if kind is mapping_node and node.tag == _MAP:
            mapping: dict[Any, Any] = {}
            only_text = True
            for key_node, value_node in node.value:
                if type(key_node) is not scalar_node or key_node.value == "<<":
                    raise _Unusual("key")
                if key_node.tag == _STR:
                    key = key_node.value
                else:
                    key, only_text = scalar(key_node), False
                if type(value_node) is not scalar_node:
                    mapping[key] = collection(value_node)
                elif value_node.tag == _STR:
                    mapping[key] = value_node.value
                else:
                    mapping[key] = scalar(value_node)
            if (len(mapping) != len(node.value) or not only_text) and len(
                    {key_node.value for key_node, _ in node.value}) != len(node.value):
                raise _Unusual("duplicate key")
            if aliases:
                built[id(node)] = mapping
            return mapping
        if kind is sequence_node and node.tag == _SEQ:
            sequence = [scalar(item) if type(item) is scalar_node else collection(item)
                        for item in node.value]
            if aliases:
                built[id(node)] = sequence
            return sequence
        raise _Unusual(node.tag)

    return scalar(root) if type(root) is scalar_node else collection(root)


def _event_data(loader: _Loader) -> Any:
    """The data of a plain YAML document without anchors, built from the parser's events
    without a node tree (a third faster, and no node per value held while building).

    The same data as :func:`_plain_data`; raises :class:`_Unusual` at anything it leaves
    to the node path — a tag other than the default ones, an anchor or alias, a repeated
    key, a key that is not a scalar, a merge key, a second document — and lets a syntax
    error or a scalar's own error propagate: the caller then parses the text again the
    node way, which handles or reports it exactly as before.
    """
    if not loader._by_text:
        raise _Unusual("path resolvers")
    get_event = loader.get_event
    constructors = {tag: loader.yaml_constructors[tag] for tag in _SCALAR_TAGS}
    resolve = loader.resolve
    tags: dict[str, str] = {}  # plain scalar text -> tag
    values: dict[tuple[str, str], Any] = {}
    scalar_event, mapping_start, mapping_end = (yaml.ScalarEvent, yaml.MappingStartEvent,
                                                yaml.MappingEndEvent)
    sequence_start, sequence_end = yaml.SequenceStartEvent, yaml.SequenceEndEvent

    def scalar(event: Any) -> Any:  # (libyaml's events carry their own marks: Any)
        if event.anchor is not None:
            raise _Unusual("anchor")
        text, tag = event.value, event.tag
        if tag is None or tag == "!":
            if not event.implicit[0]:  # quoted: a string (see _Loader.resolve)
                return text
            tag = tags.get(text)
            if tag is None:
                tag = tags[text] = resolve(_SCALAR_NODE, text, event.implicit)
        if tag == _STR:
            return text
        key = (tag, text)
        value = values.get(key, _NOT_BUILT)
        if value is _NOT_BUILT:
            construct = constructors.get(tag)
            if construct is None:
                raise _Unusual(tag)
            value = values[key] = construct(
                loader, yaml.ScalarNode(tag, text, event.start_mark, event.end_mark))
        return value

    def collection(event: Any) -> Any:
        kind = type(event)
        if kind is scalar_event:
            return scalar(event)
        if event.anchor is not None:
            raise _Unusual("anchor")
        tag = event.tag
        if kind is mapping_start and (tag is None or tag == "!" or tag == _MAP):
            mapping: dict[Any, Any] = {}
            others: set[str] | None = None  # the texts of the keys that are not strings
            while True:
                key_event = get_event()
                if type(key_event) is mapping_end:
                    return mapping
                text = key_event.value if type(key_event) is scalar_event else "<<"
                if text == "<<":
                    raise _Unusual("key")
                key = scalar(key_event)
                # a key repeated, as written (200 and "200") or once read (1 and 01)
                if key in mapping or text in mapping or (others and text in others):
                    raise _Unusual("repeated key")
                if type(key) is not str:
                    others = others or set()
                    others.add(text)
                mapping[key] = collection(get_event())
        if kind is sequence_start and (tag is None or tag == "!" or tag == _SEQ):
            sequence: list[Any] = []
            while True:
                item = get_event()
                if type(item) is sequence_end:
                    return sequence
                sequence.append(collection(item))
        raise _Unusual(kind.__name__)

    get_event()  # the stream's start
    if loader.check_event(yaml.StreamEndEvent):
        return None  # no document
    get_event()  # the document's start
    data = collection(get_event())
    get_event()  # the document's end
    if not loader.check_event(yaml.StreamEndEvent):
        raise _Unusual("a second document")
    return data


def _syntax_problem(err: yaml.YAMLError) -> Problem:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<text>"
        return Problem(where, f"not valid YAML: {err.problem or err.context or 'invalid'}")
    if isinstance(err, yaml.reader.ReaderError):
        return Problem(f"character {err.position}", f"not valid YAML: character "
                       f"{chr(err.character)!r} is not allowed in YAML text; write it as an "
                       "escape in a double-quoted string")
    return Problem("<text>", f"not valid YAML: {err}")
