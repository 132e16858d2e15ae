"""A drawn diagram with new numbers and colours, without laying it out again.

Graphviz's layout of a 200-component architecture takes about 0.3 s — most of what a
what-if slider costs. A slider move changes the numbers on the diagram (utilizations,
rates, replicas) and the fills, not its structure: when the new DOT text differs from the
one drawn only in numbers and ``#rrggbb`` colours, each node's, edge's and cluster's SVG
group gets the new ones in place (:func:`relabelled`).

It declines (``None``: lay the graph out again) whenever reusing the layout could draw
something wrong: a line of DOT that differs in more than numbers and colours (a new node, a
row added to a label — the bottleneck's note —, an edge greyed out by a different style); a
number written longer than the one drawn (its text would run into the next); one drawn
number or colour of a node that must become two different ones; a group the SVG does not
have. Coordinates are never touched: only text between tags and ``fill``/``stroke``
colours.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

__all__ = ["relabelled"]

_NUMBER = re.compile(r"(?<![\w#])\d+(?:[.,]\d+)*")
"""A number that is not part of a name (``svc-0``'s ``0`` is one; the ``401`` of the id
``api_e401`` is not)."""
_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")
_WORDS = re.compile(r'(>)([^<>]*)(<)|(label=")((?:[^"\\]|\\.)*)(")')
"""What a DOT line shows as text: an HTML-like label's text between tags, a quoted label
(its other numbers — ``BORDER="1"``, ``penwidth=2`` — are the layout's: kept as they are)."""
_NODE = re.compile(r"\s*(\w+) \[")
_EDGE = re.compile(r"\s*(\w+) -> (\w+)")
_SUBGRAPH = re.compile(r"\s*subgraph (\w+) \{")
_DEFAULTS = re.compile(r"\s*(?:node|edge|graph) \[")
_GROUP = re.compile(r'<g id="(?:node|edge|clust)\d+" class="(node|edge|cluster)">\s*'
                    r"<title>(.*?)</title>.*?</g>", re.DOTALL)
_TEXT = re.compile(r">([^<]+)<")
_COLOUR = re.compile(r'((?:fill|stroke)=")(#[0-9a-fA-F]{6})(")')

Key = tuple[str, ...]


def relabelled(drawn_source: str, drawn_svg: str, source: str) -> str | None:
    """``drawn_svg`` (Graphviz's drawing of ``drawn_source``) with the numbers and colours
    of ``source``; ``None`` when they differ in more, or when the layout cannot hold them.

    Example:
        >>> old = 'digraph {\\n\\ta [label="util 18%" fillcolor="#b7e1a8"]\\n}'
        >>> new = 'digraph {\\n\\ta [label="util 75%" fillcolor="#ffd27a"]\\n}'
        >>> svg = ('<g id="node1" class="node">\\n<title>a</title>\\n'
        ...        '<polygon fill="#b7e1a8" points="1,2 3,4"/>\\n<text x="5">util 18%</text>\\n</g>')
        >>> print(relabelled(old, svg, new))
        <g id="node1" class="node">
        <title>a</title>
        <polygon fill="#ffd27a" points="1,2 3,4"/>
        <text x="5">util 75%</text>
        </g>
        >>> relabelled(old, svg, new.replace("75%", "100%")) is None   # longer: lay out again
        True
    """
    if "<a " in drawn_svg:  # links nest groups: not a drawing designkit makes
        return None
    changes = _changes(drawn_source, source)
    if changes is None:
        return None
    if not changes:
        return drawn_svg
    seen: dict[Key, int] = defaultdict(int)
    parts: list[str] = []
    done: set[Key] = set()
    at = 0
    for match in _GROUP.finditer(drawn_svg):
        kind, title = match.group(1), html.unescape(match.group(2))
        base: Key = ((kind, *title.split("->", 1)) if kind == "edge" else (kind, title))
        key = (*base, str(seen[base]))
        seen[base] += 1
        parts.append(drawn_svg[at:match.start()])
        if key in changes:
            changed = _applied(match.group(0), changes[key])
            if changed is None:
                return None
            parts.append(changed)
            done.add(key)
        else:
            parts.append(match.group(0))
        at = match.end()
    parts.append(drawn_svg[at:])
    if ("graph",) in changes:  # the graph's own label: outside every group
        for k in range(0, len(parts), 2):
            changed = _applied(parts[k], changes[("graph",)])
            if changed is None:
                return None
            parts[k] = changed
        done.add(("graph",))
    return "".join(parts) if done == set(changes) else None


def _changes(old: str, new: str) -> dict[Key, dict[str, str]] | None:
    """Per drawn group, each of its numbers and colours to write instead; ``None`` when the
    two sources differ in more than those, or a group's token must become two."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if len(old_lines) != len(new_lines):
        return None
    out: dict[Key, dict[str, str]] = {}
    counts: dict[Key, int] = defaultdict(int)
    cluster: str | None = None
    for was, now in zip(old_lines, new_lines, strict=True):
        (shape, before), (shape_now, after) = _marked(was), _marked(now)
        if shape != shape_now:
            return None
        key = _owner(was, cluster, counts)
        if key[0] == "subgraph":
            cluster = key[1]
            continue
        if key[0] == "end":
            cluster = None
            continue
        if was == now:
            continue
        if key[0] == "defaults":
            return None
        pairs = out.setdefault(key, {})
        for token, written in zip(before, after, strict=True):
            if pairs.setdefault(token, written) != written:
                return None
    return out


def _marked(line: str) -> tuple[str, list[str]]:
    """A DOT line with its colours and its shown numbers taken out, and those (colours
    first, then numbers, each in order)."""
    tokens: list[str] = []

    def taken(match: re.Match[str]) -> str:
        tokens.append(match.group(0))
        return "\0"

    def words(match: re.Match[str]) -> str:
        opening, text, closing = (match.group(1, 2, 3) if match.group(1) is not None
                                  else match.group(4, 5, 6))
        return opening + _NUMBER.sub(taken, text) + closing

    return _WORDS.sub(words, _HEX.sub(taken, line)), tokens


def _owner(line: str, cluster: str | None, counts: dict[Key, int]) -> Key:
    """The drawn group a DOT line belongs to (an edge's key counts the edges between the
    same two nodes, in order, as Graphviz draws them)."""
    if (found := _SUBGRAPH.match(line)) is not None:
        return ("subgraph", found.group(1))
    if line.strip() == "}":
        return ("end",)
    if _DEFAULTS.match(line):
        return ("defaults",)
    if (found := _EDGE.match(line)) is not None:
        base: Key = ("edge", found.group(1), found.group(2))
        counts[base] += 1
        return (*base, str(counts[base] - 1))
    if (found := _NODE.match(line)) is not None:
        return ("node", found.group(1), "0")
    return ("cluster", cluster, "0") if cluster is not None else ("graph",)


def _applied(segment: str, pairs: dict[str, str]) -> str | None:
    """``segment`` with its texts' numbers and its colours replaced; ``None`` when a
    number grows longer than the one drawn."""
    longer = False

    def number(match: re.Match[str]) -> str:
        nonlocal longer
        before = match.group(0)
        after = pairs.get(before, before)
        longer = longer or len(after) > len(before)
        return after

    def text(match: re.Match[str]) -> str:
        return ">" + _NUMBER.sub(number, match.group(1)) + "<"

    def colour(match: re.Match[str]) -> str:
        return match.group(1) + pairs.get(match.group(2), match.group(2)) + match.group(3)

    out = _COLOUR.sub(colour, _TEXT.sub(text, segment))
    return None if longer else out
