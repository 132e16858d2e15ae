"""A drawn diagram with new numbers and colours, without laying it out again.

Graphviz's layout of a 200-component architecture takes about 0.3 s — most of what a
what-if slider costs. A slider move changes the numbers on the diagram (utilizations,
rates, replicas) and the fills, not its structure: when the new DOT text differs from the
one drawn only in numbers and ``#rrggbb`` colours, each node's, edge's and cluster's SVG
group gets the new ones in place (:func:`relabelled`).

A row of text that changed is written again as one ``<text>`` of ``<tspan>`` pieces, so
that a longer number pushes what follows it rather than running into it; a node's rows stay
centred on the node. It declines (``None``: lay the graph out again) whenever reusing the
layout could draw something wrong: a line of DOT that differs in more than numbers and
colours (a new node, a row added to a label — the bottleneck's note —, an edge greyed out by
a different style); a node's row that would no longer fit inside it; a drawing that does
not show the numbers its DOT says; two alike edges between the same nodes; one colour of a
group that must become two. Coordinates are never touched: only text between tags and
``fill``/``stroke`` colours. :func:`roomy` gives a layout room for numbers to grow.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections import defaultdict
from collections.abc import Callable

__all__ = ["relabelled", "roomy"]

_NUMBER = re.compile(r"(?:&lt;|(?<![\w#]))\d+(?:[.,]\d+)*")
"""A number that is not part of a name (``svc-0``'s ``0`` is one; the ``401`` of the id
``api_e401`` is not), with the ``<`` of ``<1%`` when it has one."""
_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
_QUOTED = re.compile(r'label="((?:[^"\\]|\\.)*)"')
_LABEL = re.compile(r'label=(?:"((?:[^"\\]|\\.)*)"|<)')
_BETWEEN_TAGS = re.compile(r">([^<>]*)<")
_BRACKET = re.compile(r"[<>]")
_NODE = re.compile(r"\s*(\w+) \[")
_EDGE = re.compile(r"\s*(\w+) -> (\w+)")
_SUBGRAPH = re.compile(r"\s*subgraph (\w+) \{")
_DEFAULTS = re.compile(r"\s*(?:node|edge|graph) \[")
_GROUP = re.compile(r'<g id="(?:node|edge|clust)\d+" class="(node|edge|cluster)">\s*'
                    r"<title>(.*?)</title>.*?</g>", re.DOTALL)
_COLOUR = re.compile(r'((?:fill|stroke)=")(#[0-9a-fA-F]{6})(")')

Key = tuple[str, ...]


def relabelled(drawn_source: str, drawn_svg: str, source: str) -> str | None:
    r"""``drawn_svg`` (Graphviz's drawing of ``drawn_source``) with the numbers and colours
    of ``source``; ``None`` when they differ in more, or when the layout cannot hold them.

    Example:
        >>> old = 'digraph {\n\ta [label="util 18%" fillcolor="#b7e1a8"]\n}'
        >>> new = 'digraph {\n\ta [label="util 75%" fillcolor="#ffd27a"]\n}'
        >>> svg = ('<g id="node1" class="node">\n<title>a</title>\n'
        ...        '<polygon fill="#b7e1a8" points="0,0 100,0 100,-40 0,-40"/>\n'
        ...        '<text text-anchor="start" x="10" y="-15" font-size="11.00">util 18%</text>'
        ...        '\n</g>')
        >>> found = relabelled(old, svg, new)
        >>> print(found[found.index("<polygon"):found.index("</g>")].replace("><", ">\n<"))
        <polygon fill="#ffd27a" points="0,0 100,0 100,-40 0,-40"/>
        <text text-anchor="middle" x="50" data-width="80.00" y="-15">
        <tspan font-size="11.00">util 75%</tspan>
        </text>
        <BLANKLINE>
        >>> relabelled(old, svg, new.replace("75%", "100,000%")) is None  # past its margin
        True
    """
    if "<a " in drawn_svg:  # links nest groups: not a drawing designkit makes
        return None
    changes = _changes(drawn_source, source)
    if changes is None:
        return None
    if not changes:
        return drawn_svg
    parts: list[str] = []
    done: set[Key] = set()
    at = 0
    for match in _GROUP.finditer(drawn_svg):
        kind, title = match.group(1), html.unescape(match.group(2))
        key: Key = ((kind, *title.split("->", 1), _label(match.group(0))) if kind == "edge"
                    else (kind, title))
        parts.append(drawn_svg[at:match.start()])
        if key in changes:
            changed = _applied(match.group(0), changes[key], kind)
            if changed is None:
                return None
            parts.append(changed)
            done.add(key)
        else:
            parts.append(match.group(0))
        at = match.end()
    parts.append(drawn_svg[at:])
    if ("graph",) in changes:  # the graph's own label: outside every group
        outside = "\0".join(parts[0::2])
        changed = _applied(outside, changes[("graph",)], "graph")
        if changed is None or changed.count("\0") != outside.count("\0"):
            return None
        parts[0::2] = changed.split("\0")
        done.add(("graph",))
    return "".join(parts) if done == set(changes) else None


class _Change:
    """What one drawn group (a node, an edge, a cluster, the graph) shows before and after:
    its numbers in the order drawn, and its colours."""

    def __init__(self) -> None:
        self.numbers: list[str] = []
        self.written: list[str] = []
        self.colours: dict[str, str] = {}
        self.changed = False


def _changes(old: str, new: str) -> dict[Key, _Change] | None:
    """Per drawn group whose numbers or colours changed, the change; ``None`` when the two
    sources differ in more than those, or when one colour of a group must become two."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if len(old_lines) != len(new_lines):
        return None
    out: dict[Key, _Change] = {}
    cluster: str | None = None
    edges: set[Key] = set()
    alike: set[Key] = set()  # two edges of one key: which is which is unknown
    for was, now in zip(old_lines, new_lines, strict=True):
        key = _owner(was, cluster)
        if key[0] == "edge":
            (alike if key in edges else edges).add(key)
        if was == now and key[0] in ("node", "edge"):  # one line each: unchanged
            continue
        before, after = _marked(was), _marked(now)
        if before[0] != after[0]:
            return None
        if key[0] == "subgraph":
            cluster = key[1]
            continue
        if key[0] == "end":
            cluster = None
            continue
        if key[0] == "defaults":
            if was != now:
                return None
            continue
        change = out.setdefault(key, _Change())
        change.changed = change.changed or was != now
        change.numbers += before[2]
        change.written += after[2]
        for colour, written in zip(before[1], after[1], strict=True):
            if change.colours.setdefault(colour, written) != written:
                return None
    if alike & out.keys():
        return None
    return {key: change for key, change in out.items() if change.changed}


@functools.lru_cache(maxsize=8192)  # a slider's next move reads this move's lines again
def _marked(line: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A DOT line with its colours and its shown numbers taken out; those colours and
    numbers, each in order."""
    colours: list[str] = []
    numbers: list[str] = []

    def colour(match: re.Match[str]) -> str:
        colours.append(match.group(0))
        return "\0"

    def number(match: re.Match[str]) -> str:
        numbers.append(match.group(0))
        return "\0"

    shape = _in_words(_HEX.sub(colour, line), lambda text: _NUMBER.sub(number, text))
    return shape.replace(ROOM, ""), tuple(colours), tuple(numbers)


def _in_words(line: str, change: Callable[[str], str]) -> str:
    """``line`` with ``change`` applied to what it shows as text: a quoted label, or an
    HTML-like label's text between its tags (its other numbers — ``BORDER="1"``,
    ``penwidth=2`` — are the layout's: left as they are)."""
    out, at = [], 0
    for found in _LABEL.finditer(line):
        if found.start() < at:
            continue
        out.append(line[at:found.start()])
        if found.group(1) is not None:  # label="..."
            out.append(f'label="{change(found.group(1))}"')
            at = found.end()
            continue
        depth, end = 1, len(line)  # label=<...>: to its matching ">"
        for bracket in _BRACKET.finditer(line, found.end()):
            depth += 1 if bracket.group(0) == "<" else -1
            if not depth:
                end = bracket.end()
                break
        html_label = line[found.end():end]
        out.append("label=<" + _BETWEEN_TAGS.sub(
            lambda m: ">" + change(m.group(1)) + "<", html_label))
        at = end
    out.append(line[at:])
    return "".join(out)


def _owner(line: str, cluster: str | None) -> Key:
    """The drawn group a DOT line belongs to: an edge by its two ends and its label (edges
    between the same two nodes are told apart by what they show)."""
    if (found := _SUBGRAPH.match(line)) is not None:
        return ("subgraph", found.group(1))
    if line.strip() == "}":
        return ("end",)
    if _DEFAULTS.match(line):
        return ("defaults",)
    if (found := _EDGE.match(line)) is not None:
        label = _QUOTED.search(line)
        return ("edge", found.group(1), found.group(2),
                html.unescape(label.group(1)) if label is not None else "")
    if (found := _NODE.match(line)) is not None:
        return ("node", found.group(1))
    return ("cluster", cluster) if cluster is not None else ("graph",)


def _label(group: str) -> str:
    """The text an edge's group shows (its label)."""
    return html.unescape("".join(text.group(2) for text in _TEXT_ELEMENT.finditer(group)))


def _applied(segment: str, change: _Change, kind: str) -> str | None:
    """``segment`` with its colours and its texts' numbers replaced; ``None`` when its
    numbers are not the ones its DOT line shows, or a row of a node's label would no longer
    fit in the node.

    A row whose text changed is written again as one ``<text>`` of ``<tspan>`` pieces (the
    browser places them one after the other, so a longer number cannot run into the next
    piece): centred on the node for a node's row (which must still fit inside it, with
    :data:`INSIDE` to spare; its width is kept in ``data-width``), from the row's first
    piece otherwise (a cluster's or the graph's label is left-aligned)."""
    colours = change.colours
    segment = _COLOUR.sub(lambda m: m.group(1) + colours.get(m.group(2), m.group(2))
                          + m.group(3), segment)
    texts = list(_TEXT_ELEMENT.finditer(segment))
    pieces = {text.start(): _pieces(text) for text in texts}
    drawn = [token for text in texts for _, content in pieces[text.start()]
             for token in _NUMBER.findall(content)]
    if drawn != change.numbers:
        return None
    written = iter(change.written)  # in the order drawn
    news = {text.start(): [_NUMBER.sub(lambda _: next(written), content).replace(ROOM, "")
                           for _, content in pieces[text.start()]] for text in texts}
    rows: dict[str, list[re.Match[str]]] = defaultdict(list)
    for text in texts:
        rows[_attribute(text.group(1), "y")].append(text)
    box = _extent(segment) if kind == "node" else None
    rewritten: dict[int, str] = {}  # where a text starts → what replaces it
    for y, row in rows.items():
        before = [piece for text in row for piece in pieces[text.start()]]
        after = [new for text in row for new in news[text.start()]]
        if after == [content for _, content in before]:
            continue
        first = row[0].group(1)
        if kind == "edge" and len(before) == 1:  # an edge's label is centred already
            rewritten[row[0].start()] = f"<text {first}>{after[0]}</text>"
            continue
        place = f'text-anchor="start" x="{_attribute(first, "x")}"'
        if kind == "node":
            width = _drawn_width(first, box) + sum(
                _width(new, attributes) - _width(old, attributes)
                for (attributes, old), new in zip(before, after, strict=True))
            if box is None or width > box[1] - box[0] - INSIDE:
                return None
            place = (f'text-anchor="middle" x="{(box[0] + box[1]) / 2.0:g}" '
                     f'data-width="{width:.2f}"')
        spans = "".join(f"<tspan{_style(attributes)}>{new}</tspan>"
                        for (attributes, _), new in zip(before, after, strict=True))
        rewritten[row[0].start()] = f'<text {place} y="{y}">{spans}</text>'
        rewritten.update((text.start(), "") for text in row[1:])
    out, at = [], 0
    for text in texts:
        if text.start() in rewritten:
            out += [segment[at:text.start()], rewritten[text.start()]]
            at = text.end()
    out.append(segment[at:])
    return "".join(out)


INSIDE = 8.0
"""Points of a node's width its label's rows must leave free (a box3d's depth, 4 pt, and
as much again between text and outline)."""


def _pieces(text: re.Match[str]) -> list[tuple[str, str]]:
    """A ``<text>``'s pieces, each its attributes and its content: itself (as Graphviz
    draws), or its ``<tspan>`` pieces (a row written again here)."""
    inner = text.group(2)
    if "<tspan" not in inner:
        return [(text.group(1), inner)]
    return [(span.group(1), span.group(2)) for span in _SPAN.finditer(inner)]


def _drawn_width(first: str, box: tuple[float, float] | None) -> float:
    """A row's width as drawn: kept in ``data-width`` when written here; else twice the
    distance from its first piece to the node's middle (Graphviz centres each row)."""
    kept = _attribute(first, "data-width", "")
    if kept:
        return float(kept)
    if box is None:
        return math.inf
    return box[1] - box[0] - 2.0 * (float(_attribute(first, "x")) - box[0])


_TEXT_ELEMENT = re.compile(r"<text ([^>]*)>((?:[^<]+|<tspan[^>]*>[^<]*</tspan>)*)</text>")
_SPAN = re.compile(r"<tspan([^>]*)>([^<]*)</tspan>")
_ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')
_SHAPE = re.compile(r"<(polygon|path|ellipse)\b([^>]*)>")
_COORDINATE = re.compile(r"(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


def _attribute(attributes: str, name: str, default: str = "0") -> str:
    found: dict[str, str] = dict(_ATTRIBUTE.findall(attributes))
    return found.get(name, default)


def _style(attributes: str) -> str:
    """A piece's own attributes less its place (the row places it), each after a space."""
    return "".join(f' {k}="{v}"' for k, v in _ATTRIBUTE.findall(attributes)
                   if k not in ("x", "y", "text-anchor", "data-width"))


def _extent(segment: str) -> tuple[float, float] | None:
    """The left and right of a node's shape (its first polygon, path or ellipse), whose
    middle its label's rows are centred on; ``None`` when it has none."""
    found = _SHAPE.search(segment)
    if found is None:
        return None
    kind, attributes = found.groups()
    if kind == "ellipse":
        centre, radius = (float(_attribute(attributes, name)) for name in ("cx", "rx"))
        return centre - radius, centre + radius
    xs = [float(x) for x, _ in _COORDINATE.findall(
        _attribute(attributes, "points" if kind == "polygon" else "d", ""))]
    return (min(xs), max(xs)) if xs else None


_EMS = {".": 0.278, ",": 0.278, "<": 0.584}
"""Helvetica's widths (in ems) of what a number holds other than digits (0.556 em)."""


def _width(text: str, attributes: str) -> float:
    """How wide the numbers of ``text`` and the room left after them are drawn, in points
    (the rest of a row is the same before and after)."""
    size = float(_attribute(attributes, "font-size") or 14.0)
    return size * (sum(_EMS.get(c, 0.556) for token in _NUMBER.findall(text)
                       for c in html.unescape(token)) + 0.556 * text.count(ROOM))


ROOM = "\u2007"
"""A figure space (as wide as a digit): :func:`roomy` leaves two after each number."""


def roomy(source: str) -> str:
    """DOT text with room for longer numbers: two figure spaces after each number shown.
    Laid out by Graphviz and filled by :func:`relabelled` with the numbers themselves,
    each row of a node's label can later take numbers two digits longer without a new
    layout.

    Example:
        >>> roomy('a [label="util 18% · 387/s" penwidth=2]')
        'a [label="util 18\u2007\u2007% · 387\u2007\u2007/s" penwidth=2]'
    """
    return "\n".join(_in_words(line, lambda text: _NUMBER.sub(
        lambda m: m.group(0) + ROOM * 2, text)) for line in source.split("\n"))
