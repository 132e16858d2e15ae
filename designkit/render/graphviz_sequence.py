"""The Graphviz sequence diagram of one endpoint: lifelines, messages in step order, frames.

What it shows is :func:`~designkit.render.view.sequence_view`'s, message for message and
number for number the Mermaid ``sequenceDiagram`` of :func:`designkit.render.mermaid.sequence`:
a lifeline per participant (the client, the endpoint's service, then each component or
service reached, in the order first reached), one arrow per message from the service in
step order, frames for loops, parallel branches, cache-aside reads (``alt``: hit, miss),
transactions and locks, and under an estimate each message's and frame's mean time.

How it is laid out: Graphviz has no sequence diagrams, and dot's ranks neither keep a
message's two ends level nor lifelines straight once frames are clusters around them. So
this view places every node itself and Graphviz only draws: the source says
``layout=neato`` (``dot`` hands such a graph to neato) and pins each node (``pos="x,y!"``,
in points). Lifelines are dashed edges from each header down to a pinned end; a message is
an edge between two invisible points of one row, its label a plain-text node above it;
a frame is a fixed-size box under its rows, with a tab naming it. Columns are spaced for the
labels between them (text widths estimated from the characters), rows have fixed heights.

Example:
    >>> import designkit as dk
    >>> d = dk.template("dashboard-slow")
    >>> src = sequence(d, "dashboard-api GET /v1/dashboard", dk.estimate(d)).source
    >>> "layout=neato" in src, "loop 50× · " in src
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never

from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    TransactionStep,
)
from designkit.render.graphviz_style import (
    FONT,
    KIND_STYLES,
    SMALL,
    UNKNOWN_STYLE,
    detail,
    new_graph,
    small,
    text,
)
from designkit.render.names import node_id
from designkit.render.sequence_text import (
    call_label,
    is_message,
    milliseconds,
    network_note,
    publish_label,
    response_label,
    sequence_legend,
    worker_note,
)
from designkit.render.view import (
    SequenceView,
    StepView,
    fallback_label,
    list_ms,
    ratio,
    sequence_view,
)

if TYPE_CHECKING:
    import graphviz

    from designkit.estimate.result import Estimate
    from designkit.model.design import Design

__all__ = ["sequence"]

# Geometry, in points (1/72 inch); y grows downwards here and is negated when placed.
_ROW = 30.0
"""Height of a message's row: its label above, its arrow."""
_SELF = 12.0
"""Drop of a message a service sends itself (a call of its own endpoint)."""
_TAB = 26.0
"""Height of a frame's tab row."""
_SECTION = 24.0
"""Height of a section label inside a frame (``[miss 5%]``, ``[branch 2]``)."""
_FOOT = 10.0
"""Space under a frame's last row."""
_PAD = 14.0
"""A frame's margin beyond the lifelines it holds."""
_NEST = 7.0
"""Further margin of a frame per frame nested in it."""
_GAP = 28.0
"""Least space between two header boxes, and around a label between two lifelines."""
_BAR = 8.0
"""Width of the service's activation bar."""

_GREY = "#9a9a9a"
_INK = "#333333"
_ASYNC = KIND_STYLES["queue"].colour
_NOTE = "#fff8dc"
_FRAMES = {"transaction": "#8a5a2b", "lock": "#b03a7a", "loop": "#555555",
           "par": "#1f5fa8", "alt": "#6a3d9a"}
"""Border colour of each kind of frame (a tint of it fills the frame)."""


# -- text widths --------------------------------------------------------------------------

_NARROW = frozenset("ilj.,:;|!'` ")
_THIN = frozenset("frt()[]{}-/\\*\"")
_WIDE = frozenset("mwMW@%")


def _width(label: str, size: float = float(SMALL), bold: bool = False) -> float:
    """About how wide ``label`` is drawn in Helvetica at ``size`` points (a little more
    rather than less: it spaces the columns)."""
    em = 0.0
    for ch in label:
        if ch in _NARROW:
            em += 0.30
        elif ch in _THIN:
            em += 0.40
        elif ch in _WIDE:
            em += 0.88
        elif ch.isupper():
            em += 0.67
        elif ch.isdigit():
            em += 0.60
        elif ch.isascii():
            em += 0.57
        else:
            em += 0.62
    return em * size * (1.12 if bold else 1.0) * 1.04


# -- the script: what is drawn, row by row ------------------------------------------------


@dataclass
class _Message:
    target: int  # the column it goes to (the service is column 1, the client 0)
    label: str
    ms: float | None = None
    style: str = "call"  # call | async | return | request


@dataclass
class _Note:
    label: str


@dataclass
class _Frame:
    kind: str
    label: str
    ms: float | None = None
    sections: list[tuple[str, float | None, list[_Item]]] = field(default_factory=list)
    """Each section: its label (none for the first of a loop, a transaction, a lock), its
    time, its items."""

    def items(self) -> list[_Item]:
        return [item for _, _, items in self.sections for item in items]


_Item = _Message | _Note | _Frame


def _ms(ms: float | None) -> str:
    return "" if ms is None or math.isnan(ms) else f" · {milliseconds(ms)}"


def _script(design: Design, seq: SequenceView) -> list[_Item]:
    """The items of the diagram, in order: the request, its steps, the response."""
    column = {name: i + 1 for i, name in enumerate(seq.participants)}

    def steps(views: tuple[StepView, ...]) -> list[_Item]:
        out: list[_Item] = []
        for view in views:
            step, time = view.site.step, view.time
            whole = time.ms if time is not None else None
            own = time.own_ms if time is not None else None
            match step:
                case CallStep():
                    target = view.site.target or step.call
                    out.append(_Message(column[target], call_label(step) + network_note(view), own,
                                        "async" if is_message(design, step) else "call"))
                    if step.fallback is not None:
                        out.append(_Frame("alt", "alt", None, [(
                            fallback_label(view),
                            list_ms(view.body) if time is not None else None,
                            steps(view.body) or [_Note("degrade: answer without it")])]))
                case PublishStep():
                    out.append(_Message(column[step.publish],
                                        publish_label(step) + network_note(view), own,
                                        "async"))
                case TransactionStep():
                    db = column[step.transaction]
                    out.append(_Frame("transaction", f"transaction on {step.transaction}",
                                      whole, [("", None, [_Message(db, "BEGIN", own),
                                                          *steps(view.body),
                                                          _Message(db, "COMMIT")])]))
                case LockStep():
                    lock = column[step.lock]
                    out.append(_Frame("lock", f"lock {step.lock}", whole,
                                      [("", None, [_Message(lock, "acquire", own),
                                                   *steps(view.body),
                                                   _Message(lock, "release")])]))
                case LoopStep():
                    out.append(_Frame("loop", f"loop {step.loop.count:g}×", whole,
                                      [("", None, steps(view.body))]))
                case CacheStep():
                    cache = column[step.cache]
                    hit = view.hit
                    out.append(_Message(cache, (step.op or "GET") + network_note(view), own))
                    miss_ms = list_ms(view.body) if time is not None else None
                    out.append(_Frame("alt", "alt", None, [
                        ("hit" if hit is None else f"hit ({ratio(hit)})", None,
                         [_Note(f"served from {step.cache}")]),
                        ("miss" if hit is None else f"miss ({ratio(1 - hit)})", miss_ms,
                         [*steps(view.body), _Message(cache, "SET (fill)")])]))
                case ParallelStep():
                    out.append(_Frame("par", "par", None, [
                        (f"branch {b + 1}", list_ms(branch) if time is not None else None,
                         steps(branch)) for b, branch in enumerate(view.lists)]))
                case _:
                    assert_never(step)
        return out

    items: list[_Item] = [_Message(1, seq.ref.key, style="request")]
    if seq.times is not None:
        items.append(_Note(worker_note(seq.times)))
    items += steps(seq.steps)
    items.append(_Message(0, response_label(seq), style="return"))
    return items


# -- placing ------------------------------------------------------------------------------


def _depth(items: list[_Item]) -> int:
    """How many frames deep ``items`` go."""
    return max((1 + _depth(i.items()) for i in items if isinstance(i, _Frame)), default=0)


def _reach(items: list[_Item]) -> int:
    """The rightmost column the messages of ``items`` reach (1: the service's)."""
    out = 1
    for item in items:
        if isinstance(item, _Message):
            out = max(out, item.target)
        elif isinstance(item, _Frame):
            out = max(out, _reach(item.items()))
    return out


def _message_width(message: _Message) -> float:
    """About how wide a message's label is drawn (its time in bold)."""
    return _width(message.label) + _width(_ms(message.ms), bold=True)


def _messages(items: list[_Item]) -> list[_Message]:
    out: list[_Message] = []
    for item in items:
        if isinstance(item, _Message):
            out.append(item)
        elif isinstance(item, _Frame):
            out += _messages(item.items())
    return out


def _header(name: str, design: Design, client: bool) -> tuple[str, dict[str, str], float]:
    """A lifeline's head: its label, its attributes and about its half width."""
    if client:
        return ("<B>client</B>", {"shape": "box", "style": "rounded,filled",
                                  "fillcolor": "#eeeeee", "color": "#555555"},
                _width("client", 12, True) / 2 + 14)
    component = design.components.get(name)
    style = KIND_STYLES.get(component.kind, UNKNOWN_STYLE) if component else UNKNOWN_STYLE
    lines = [f"<B>{text(name)}</B>"]
    words = detail(component) if component is not None else "unknown component"
    lines.append(small(text(words)))
    half = max(_width(name, 12, True), _width(words)) / 2 + 16
    return ("<BR/>".join(lines), {"shape": style.shape, "style": "filled",
                                  "fillcolor": style.tint, "color": style.colour,
                                  "penwidth": "1.5"}, half)


class _Drawing:
    """The nodes and edges of the diagram, placed."""

    def __init__(self, key: str, columns: list[float]) -> None:
        self.key = key
        self.x = columns
        self.frames: list[tuple[str, dict[str, str]]] = []
        self.nodes: list[tuple[str, dict[str, str]]] = []
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.count = 0

    def nid(self, role: str) -> str:
        self.count += 1
        return node_id(self.key, f"{self.count}:{role}")

    @staticmethod
    def pos(x: float, y: float) -> str:
        return f"{x:.1f},{-y:.1f}!"

    def point(self, x: float, y: float) -> str:
        nid = self.nid("point")
        self.nodes.append((nid, {"pos": self.pos(x, y), "shape": "point", "width": "0.01",
                                 "height": "0.01", "fixedsize": "true", "style": "invis",
                                 "label": ""}))
        return nid

    def label(self, x: float, y: float, body: str, **attrs: str) -> None:
        self.nodes.append((self.nid("label"), {"pos": self.pos(x, y), "shape": "plain",
                                               "label": f"<{body}>", **attrs}))

    def arrow(self, x1: float, x2: float, y: float, attrs: dict[str, str]) -> None:
        self.edges.append((self.point(x1, y), self.point(x2, y), attrs))

    def box(self, left: float, top: float, right: float, bottom: float,
            attrs: dict[str, str]) -> None:
        """A fixed-size box: a frame or the activation bar, drawn before (under) every
        other node."""
        width, height = right - left, bottom - top
        node = (self.nid("box"), {"pos": self.pos(left + width / 2, top + height / 2),
                                  "shape": "box", "fixedsize": "true", "label": "",
                                  "width": f"{width / 72:.3f}",
                                  "height": f"{height / 72:.3f}", **attrs})
        self.frames.append(node)


def _columns(design: Design, seq: SequenceView, items: list[_Item]
             ) -> tuple[list[float], list[tuple[str, dict[str, str], float]]]:
    """The x of every lifeline (the client's, the service's, then the participants') and
    their heads: each far enough from the one before for both heads, and from the
    service's for the labels of the messages sent to it."""
    heads = [_header("client", design, client=True)]
    heads += [_header(name, design, client=False) for name in seq.participants]
    depth = _depth(items)
    need: dict[int, float] = {}
    for message in _messages(items):
        need[message.target] = max(need.get(message.target, 0.0),
                                   _message_width(message) + 2 * _GAP)
    x = [heads[0][2]]
    # the client's gap holds the request and response labels and the frames' margins
    x.append(x[0] + max(heads[0][2] + heads[1][2] + _GAP, need.get(0, 0.0), need.get(1, 0.0),
                        _PAD + depth * _NEST + _GAP + 60))
    for i in range(2, len(heads)):
        x.append(max(x[i - 1] + heads[i - 1][2] + heads[i][2] + _GAP,
                     x[1] + need.get(i, 0.0)))
    return x, heads


def _layout(drawing: _Drawing, items: list[_Item], y: float) -> float:
    """Place ``items`` from ``y`` down; the y under them."""
    x = drawing.x
    start = x[1] + _BAR / 2
    for item in items:
        if isinstance(item, _Message):
            body = text(item.label) + (f"<B>{text(_ms(item.ms))}</B>" if _ms(item.ms) else "")
            colour = _ASYNC if item.style == "async" else _INK
            y += _ROW
            if item.style == "request":
                drawing.label((x[0] + x[1]) / 2, y - 9, body)
                drawing.arrow(x[0], x[1] - _BAR / 2, y, {"color": _INK})
            elif item.style == "return":
                drawing.label((x[0] + x[1]) / 2, y - 9, body)
                drawing.arrow(x[1] - _BAR / 2, x[0], y, {"color": _INK, "style": "dashed",
                                                         "arrowhead": "vee"})
            elif item.target == 1:  # the service calls one of its own endpoints
                out = start + 26
                a, b = drawing.point(start, y - _SELF / 2), drawing.point(out, y - _SELF / 2)
                c, d = drawing.point(out, y + _SELF / 2), drawing.point(start, y + _SELF / 2)
                plain = {"color": colour, "arrowhead": "none"}
                drawing.edges += [(a, b, plain), (b, c, plain), (c, d, {"color": colour})]
                width = _message_width(item)
                drawing.label(out + 6 + width / 2, y, body, fontcolor=colour)
                y += _SELF / 2
            else:
                drawing.label((start + x[item.target]) / 2, y - 9, body,
                              fontcolor=colour)
                attrs = {"color": colour}
                if item.style == "async":
                    attrs["arrowhead"] = "vee"
                drawing.arrow(start, x[item.target], y, attrs)
        elif isinstance(item, _Note):
            y += _ROW - 4
            width = _width(item.label)
            drawing.label(start + 10 + width / 2, y - 6, small(text(item.label), "#000000"),
                          style="filled", fillcolor=_NOTE, color="#c9b458", shape="box",
                          margin="0.06,0.03", height="0.2")
        else:
            y = _frame(drawing, item, y)
    return y


def _frame(drawing: _Drawing, frame: _Frame, y: float) -> float:
    """Place a frame and what it holds from ``y`` down; the y under it."""
    x = drawing.x
    colour = _FRAMES[frame.kind]
    inner = _depth(frame.items())
    left = x[1] - _PAD - inner * _NEST
    top = y + 8
    tab = frame.label + _ms(frame.ms)
    right = max(x[_reach(frame.items())] + _PAD + inner * _NEST,
                x[1] + _width(tab, bold=True) + 2 * _GAP,
                *(x[1] + _width(f"[{label}]{_ms(ms)}") + 2 * _GAP
                  for label, ms, _ in frame.sections))
    y = top + _TAB
    separators: list[float] = []
    section_labels: list[tuple[float, str]] = []
    for i, (label, ms, items) in enumerate(frame.sections):
        if i > 0:
            separators.append(y + 4)
        if label:
            y += _SECTION if i > 0 else _SECTION - 10
            section_labels.append((y - 8, f"[{label}]{_ms(ms)}"))
        y = _layout(drawing, items, y)
        if not items:
            y += 8
    bottom = y + _FOOT
    drawing.box(left, top, right, bottom, {"style": "rounded,filled", "color": colour,
                                           "fillcolor": colour + "14", "penwidth": "1.2"})
    # the tab and the section labels start right of the activation bar (never under it)
    inset = x[1] + _BAR / 2 + 6
    width = _width(tab, bold=True)
    drawing.label(inset + width / 2, top + 11,
                  f'<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="1"><TR><TD>'
                  f'<FONT POINT-SIZE="{SMALL}" COLOR="{colour}"><B>{text(tab)}</B></FONT>'
                  "</TD></TR></TABLE>")
    for at in separators:
        drawing.arrow(left, right, at, {"style": "dashed", "color": colour,
                                        "arrowhead": "none", "penwidth": "0.8"})
    for at, label in section_labels:
        drawing.label(inset + _width(label) / 2, at, small(text(label), colour))
    return bottom


def sequence(design: Design, endpoint_ref: str, estimate: Estimate | None = None
             ) -> graphviz.Digraph:
    """One endpoint's sequence diagram: lifelines, messages in step order, frames.

    Lifelines run down from a head per participant — the client, the endpoint's service,
    then each component or service its steps reach, in the order first reached — and the
    service's activation bar spans the request. Each step is an arrow from the service:
    a call (solid, filled head; labelled with its op, its query or the endpoint called,
    ``×n`` when repeated), a publish (solid, open head), the response a dashed arrow back.
    Loops, parallel branches (``par``), cache-aside reads (``alt``: ``[hit 95%]``, served
    from the cache, then ``[miss 5%]``: the miss branch and the fill), transactions
    (``BEGIN`` … ``COMMIT``) and locks (``acquire`` … ``release``) are frames around their
    steps.

    With an ``estimate`` each message, frame and section ends with its mean time, the note
    under the request gives the worker wait and the cpu, the response the endpoint's mean,
    and the legend under the title says what the numbers are
    (:func:`~designkit.render.view.sequence_view`): the numbers of
    :func:`designkit.render.mermaid.sequence`.

    Args:
        design: The design.
        endpoint_ref: The endpoint, ``"svc METHOD /path"``.
        estimate: Times the steps (waits and endpoint means); it may be a larger design's.

    Returns:
        The DOT graph (``layout=neato``, every node pinned: see the module's notes).

    Raises:
        KeyError: No such endpoint (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> src = sequence(dk.template("dashboard-slow"), "dashboard-api GET /v1/dashboard").source
        >>> "loop 50×" in src
        True
    """
    seq = sequence_view(design, endpoint_ref, estimate)  # a KeyError naming the nearest
    key = str(seq.ref)
    items = _script(design, seq)
    x, heads = _columns(design, seq, items)
    legend = [*sequence_legend(seq),
              "solid arrow: call · open head: publish (async) · dashed: response"]
    graph = new_graph(key, f"{design.name} — {key}", "TB",
                      below='<TR><TD ALIGN="LEFT" BALIGN="LEFT">'
                      + small("<BR/>".join(text(line) for line in legend)) + "</TD></TR>")
    graph.attr(layout="neato", inputscale="72", splines="line", outputorder="edgesfirst",
               overlap="true", pad="0.3")
    graph.attr("node", fontname=FONT)
    drawing = _Drawing(key, x)
    first = 30.0  # under the heads
    bottom = _layout(drawing, items, first)
    # the service's activation bar: from the request to the response
    drawing.box(x[1] - _BAR / 2, first + _ROW, x[1] + _BAR / 2, bottom,
                {"style": "filled", "fillcolor": KIND_STYLES["service"].tint,
                 "color": KIND_STYLES["service"].colour, "penwidth": "1"})
    end = bottom + 24
    heads_at: list[str] = []
    for i, (label, attrs, _) in enumerate(heads):
        head = node_id(key, f"head {i}")
        heads_at.append(head)
        graph.node(head, label=f"<{label}>", pos=drawing.pos(x[i], 0), **attrs)
    for nid, attrs in drawing.frames:
        graph.node(nid, **attrs)
    for i, head in enumerate(heads_at):
        foot = drawing.point(x[i], end)
        graph.edge(head, foot, style="dashed", color=_GREY, arrowhead="none")
    for nid, attrs in drawing.nodes:
        graph.node(nid, **attrs)
    for tail, head, attrs in drawing.edges:
        graph.edge(tail, head, **attrs)
    return graph
