"""Graphviz views of a design: architecture, data model, saga and one endpoint's sequence.

Every function is pure: it turns the model (and optionally an estimate or an assessment)
into a :class:`graphviz.Digraph` — DOT source, nothing laid out, no file written.
:func:`to_svg` runs ``dot`` once to draw one.

Node ids come from :func:`~designkit.render.names.node_id` (stable, derived from names) and
every label is escaped: names go into HTML-like labels through
:func:`~designkit.render.names.html_text`, and into quoted labels through
:func:`~designkit.render.names.dot_label`, so quotes, ``<``, ``&`` and newlines in names
are drawn as written.

Example:
    >>> import designkit as dk
    >>> from designkit.render.graphviz_views import architecture
    >>> g = architecture(dk.template("flash-sale"))
    >>> "cylinder" in g.source and "rankdir=LR" in g.source
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from designkit.errors import MissingDependencyError
from designkit.model.problems import format_path
from designkit.render.graphviz_sequence import sequence
from designkit.render.graphviz_style import FONT, KIND_STYLES, SMALL
from designkit.render.graphviz_style import UNKNOWN_STYLE as _UNKNOWN
from designkit.render.graphviz_style import detail as _detail
from designkit.render.graphviz_style import graphviz_package as _graphviz
from designkit.render.graphviz_style import html as _html
from designkit.render.graphviz_style import new_graph as _new_graph
from designkit.render.graphviz_style import quoted as _quoted
from designkit.render.graphviz_style import small as _small
from designkit.render.graphviz_style import text as _h
from designkit.render.names import node_id
from designkit.render.view import (
    RELATIONS,
    ArchitectureView,
    Cardinality,
    DataView,
    Load,
    architecture_view,
    data_view,
)
from designkit.text import number, percent

if TYPE_CHECKING:
    import graphviz

    from designkit.assess.assessment import Assessment
    from designkit.estimate.result import Estimate
    from designkit.flow.nodes import Flow
    from designkit.model.database import Table
    from designkit.model.design import Design

__all__ = ["KIND_STYLES", "architecture", "data", "dot", "saga", "sequence", "to_svg"]

# Utilization fills (the same thresholds as the estimate's own table).
_GREEN = "#b7e1a8"
_AMBER = "#ffd27a"
_RED = "#f28b82"
_IDLE = "#ffffff"
_ALERT = "#b00020"

# How each relation of the architecture view is drawn: (style, colour, legend text).
_RELATIONS: dict[str, tuple[str, str, str]] = {
    "call": ("solid", "#333333", "call"),
    "cache": ("solid", "#6a3d9a", "cache read"),
    "transaction": ("bold", "#8a5a2b", "transaction"),
    "lock": ("dotted", "#b03a7a", "lock held"),
    "publish": ("dashed", "#0e7c86", "publish"),
    "consume": ("dashed", "#0e7c86", "consume"),
}


# ---------------------------------------------------------------------------------------
# helpers


def _nearest_error(what: str, name: str, known: Iterable[str]) -> KeyError:
    from designkit.model.problems import nearest

    hint = nearest(name, known)
    return KeyError(f"no {what} {name!r}"
                    + (f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""))


# ---------------------------------------------------------------------------------------
# architecture


def _failing(assessment: Assessment | None, name: str) -> list[Any]:
    if assessment is None:
        return []
    prefix = format_path(("components", name))
    return [f for f in assessment.failed()
            if f.subject == prefix or f.subject.startswith((prefix + ".", prefix + "["))]


_FILLS = {"saturated": _RED, "warning": _AMBER, "idle": _IDLE, "ok": _GREEN}
"""The fill of each load state of :class:`~designkit.render.view.Load`."""


def architecture(design: Design, estimate: Estimate | None = None,
                 assessment: Assessment | None = None, flow: Flow | None = None
                 ) -> graphviz.Digraph:
    """Components by kind, grouped by boundary and zone, with the calls between them.

    Args:
        design: The design.
        estimate: Colours each component by its most utilized station (green below the
            policy's ``utilization_max``, amber up to 100 %, red when saturated, white
            without traffic) and labels each edge with calls per second.
        assessment: Badges each component with its failing findings (those whose subject
            is the component or a part of it).
        flow: The design's flow, when the caller has it (else built here).

    Returns:
        The DOT graph (left to right), with a legend.

    Example:
        >>> import designkit as dk
        >>> d = dk.template("dashboard-slow")
        >>> src = architecture(d, dk.estimate(d)).source
        >>> "util <B>86%</B>" in src and "387/s" in src
        True
    """
    title = f"{design.name} — architecture"
    if estimate is not None:
        title += f" at {estimate.scale:g}× workload"
    view = architecture_view(design, estimate, flow)
    graph = _new_graph(design.name, title, "LR",
                       below=_architecture_legend(design, view, assessment))
    graph.attr(ranksep="1.1", nodesep="0.5")

    nodes: dict[str, tuple[str, dict[str, str]]] = {}
    for node in view.nodes:
        nodes[node.name] = _component_node(node.name, design.components[node.name], node.load,
                                           estimate, assessment, node.keeps)

    _clustered(graph, design, nodes)

    for edge in sorted(view.edges, key=lambda e: (e.caller, e.target,
                                                  RELATIONS.index(e.relation))):
        style, colour, _ = _RELATIONS[edge.relation]
        attrs = {"style": style, "color": colour, "fontcolor": colour}
        if view.estimated:
            attrs["label"] = _quoted(_rate_label(edge.relation, edge.rate))
            if edge.rate <= 0:
                attrs.update(color="#aaaaaa", fontcolor="#888888")
        else:
            attrs["label"] = _quoted(edge.relation)
        graph.edge(nodes[edge.caller][0], nodes[edge.target][0], **attrs)
    return graph


def _rate_label(relation: str, rate: float) -> str:
    """An edge's label under an estimate: ``387/s`` for a call, else ``publish 200/s``."""
    return f"{number(rate)}/s" if relation == "call" else f"{relation} {number(rate)}/s"


def _component_node(name: str, component: Any, load: Load | None, estimate: Estimate | None,
                    assessment: Assessment | None, keeps: tuple[str, ...] = ()
                    ) -> tuple[str, dict[str, str]]:
    style = KIND_STYLES.get(component.kind, _UNKNOWN)
    rows = [f"<B>{_h(name)}</B>", _small(_h(_detail(component)))]
    if keeps:
        rows.append(_small(f"<I>authority: {_h(', '.join(keeps))}</I>", "#000000"))
    chips: list[str] = []
    fill = style.tint
    if estimate is not None:
        if load is None:
            fill = _IDLE
        elif load.state == "unbounded":  # no station: calls and latency, no utilization
            latency = getattr(component, "latency_ms", None)
            rows.append(_small(f"<B>{_h(number(load.arrival_rps))}/s</B>"
                               + (f" · latency {_h(latency)}" if latency is not None else ""),
                               "#000000"))
        else:
            fill = _FILLS[load.state]
            if load.arrival_rps > 0 or load.utilization > 0:
                rows.append(_small(f"util <B>{_h(percent(load.utilization))}</B> · "
                                   f"{_h(number(load.arrival_rps))}/s", "#000000"))
            else:
                rows.append(_small("no traffic", "#555555"))
            if estimate.bottleneck == name and math.isfinite(estimate.max_scale):
                rows.append(_small(f"<I>bottleneck: saturates at "
                                   f"{estimate.max_scale:.3g}× load</I>", "#000000"))
            back = estimate.background
            if back is not None and back.component == name and math.isfinite(back.max_scale):
                rows.append(_small(f"<I>background bottleneck: lags from "
                                   f"{back.max_scale:.3g}× load</I>", "#000000"))
            if load.saturated:
                chips.append(f'<TD BGCOLOR="{_ALERT}" CELLPADDING="3"><FONT COLOR="white">'
                             "<B>SATURATED</B></FONT></TD>")
    failing = _failing(assessment, name)
    if failing:
        worst = failing[0].severity.value
        badge = f"⚑ {len(failing)} failing · {worst}"
        chips.append(f'<TD BGCOLOR="white" BORDER="1" COLOR="{_ALERT}">'
                     f'<FONT COLOR="{_ALERT}" POINT-SIZE="{SMALL}"><B>{_h(badge)}</B></FONT>'
                     "</TD>")
    lines = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    lines += "".join(f'<TR><TD CELLPADDING="2">'
                     '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
                     f"<TR>{chip}</TR></TABLE></TD></TR>" for chip in chips)
    body = ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + lines + "</TABLE>")
    attrs = {"label": _html(body), "shape": style.shape, "style": "filled",
             "fillcolor": fill, "color": style.colour, "penwidth": "2"}
    if style.shape == "octagon":
        attrs["margin"] = "0"  # an octagon grows fast around a tall label
    if estimate is not None and load is not None and load.saturated:
        attrs["penwidth"] = "3"
        attrs["color"] = _ALERT
    return node_id(name), attrs


def _clustered(graph: Any, design: Design, nodes: dict[str, tuple[str, dict[str, str]]]
               ) -> None:
    """Place nodes in clusters: one per boundary (zones inside it when they differ), one
    per zone for components with a zone but no boundary, the rest at the top level."""
    groups: dict[str | None, dict[str | None, list[str]]] = {}
    for name, component in design.components.items():
        boundary = getattr(component, "boundary", None)
        zone = getattr(component, "zone", None)
        groups.setdefault(boundary, {}).setdefault(zone, []).append(name)

    def put(sub: Any, names: list[str]) -> None:
        for n in names:
            sub.node(nodes[n][0], **nodes[n][1])

    def cluster(parent: Any, key: tuple[str, ...], label: str, members: Any,
                dashed: bool = False) -> None:
        with parent.subgraph(name="cluster_" + node_id(*key)) as sub:
            sub.attr(label=_html(label), style="rounded,dashed" if dashed else "rounded",
                     color="#999999", bgcolor="#fafafa" if not dashed else "#ffffff",
                     fontsize="13", fontname=FONT, labeljust="l", margin="14")
            members(sub)

    for boundary, zones in groups.items():
        if boundary is None:
            continue
        if len(zones) == 1:
            zone, names = next(iter(zones.items()))
            label = f"<B>{_h(boundary)}</B>" + (_small(f" · zone {_h(zone)}") if zone else "")
            cluster(graph, ("boundary", boundary), label,
                    lambda sub, names=names: put(sub, names))
            continue

        def inside(sub: Any, boundary: str = boundary,
                   zones: dict[str | None, list[str]] = zones) -> None:
            for zone, names in zones.items():
                if zone is None:
                    put(sub, names)
                else:
                    cluster(sub, ("zone", boundary, zone), _small(f"zone {_h(zone)}"),
                            lambda z, names=names: put(z, names), dashed=True)

        cluster(graph, ("boundary", boundary), f"<B>{_h(boundary)}</B>", inside)

    for zone, names in groups.get(None, {}).items():
        if zone is None:
            put(graph, names)
        else:
            cluster(graph, ("zone", zone), _small(f"zone {_h(zone)}"),
                    lambda sub, names=names: put(sub, names), dashed=True)


def _architecture_legend(design: Design, view: ArchitectureView,
                         assessment: Assessment | None) -> str:
    """The legend, as rows under the title: one framed box of at most two lines of small
    text — the kinds drawn and the edges' styles; the fills (with an estimate) and the
    badge (with an assessment). It takes no place in the layout."""
    def mark(colour: str, words: str, glyph: str = "■") -> str:
        return f'<FONT COLOR="{colour}">{glyph}</FONT> {_h(words)}'

    kinds = [k for k in KIND_STYLES if any(c.kind == k for c in design.components.values())]
    first = [mark(KIND_STYLES[k].colour, KIND_STYLES[k].title) for k in kinds]
    if view.relations:
        first.append("│ <B>edges</B>" + (" (label: calls/s)" if view.estimated else ""))
    lines = {"solid": "───", "bold": "━━━", "dotted": "·····", "dashed": "– – –"}
    for relation in view.relations:
        line, colour, words = _RELATIONS[relation]
        first.append(mark(colour, words, lines[line]))
    second: list[str] = []
    if view.estimated:
        threshold = view.utilization_max
        second.append("<B>fill</B> (busiest station)")
        second += [mark(_GREEN, f"below {percent(threshold)}"),
                   mark(_AMBER, f"{percent(threshold)}–100%"), mark(_RED, "saturated"),
                   mark("#999999", "no traffic", "□")]
        if any(node.load is not None and node.load.state == "unbounded" for node in view.nodes):
            second.append(mark(KIND_STYLES["external"].tint, "no concurrency limit (no "
                               "utilization): calls/s · latency", "■"))
    if assessment is not None:
        second.append(("│ " if second else "")
                      + f'<FONT COLOR="{_ALERT}"><B>⚑ N failing</B></FONT>: failing findings, '
                      "worst severity")
    rows = "".join(f'<TR><TD ALIGN="LEFT">{_small("  ".join(line), "#000000")}</TD></TR>'
                   for line in (first, second) if line)
    if not rows:
        return ""
    return ('<TR><TD ALIGN="LEFT"><TABLE BORDER="1" COLOR="#bbbbbb" CELLBORDER="0" '
            f'CELLSPACING="0" CELLPADDING="2" STYLE="rounded">{rows}</TABLE></TD></TR>')


# ---------------------------------------------------------------------------------------
# data


_CROWS_FOOT: dict[Cardinality, str] = {
    "exactly-one": "teetee", "zero-or-one": "teeodot", "zero-or-many": "crowodot"}
"""The arrow drawn at a relationship's end for each cardinality."""


def data(design: Design) -> graphviz.Digraph:
    """The data model as an ER diagram: tables with columns, keys and indexes, by database.

    Each table lists its columns (name, type, markers: ``PK`` primary key, ``FK`` foreign
    key, ``UQ`` unique, ``IX`` leads an index), its size, its partitioning and its indexes.
    Foreign keys are edges from the referencing column to the referenced one, drawn in
    crow's-foot notation with the ends of :func:`~designkit.render.view.data_view`: zero
    or many on the referencing side (zero or one for a ``unique`` column), one on the
    referenced side (zero or one for a nullable column).

    Example:
        >>> import designkit as dk
        >>> src = data(dk.template("dashboard-slow")).source
        >>> "arrowtail=crowodot" in src and "payments_provider_ref" in src
        True
    """
    graph = _new_graph(design.name, f"{design.name} — data model", "LR", subtitle=(
        "PK primary key · FK foreign key · UQ unique · IX leads an index · "
        "<I>italic</I>: sensitive · ─|| one · ─○&lt; zero or many"))
    graph.attr(ranksep="1.0", nodesep="0.4")
    graph.attr("node", shape="plain")
    view = data_view(design)
    tables = {(t.database, t.name): t.table for t in view.tables}
    edges: list[tuple[str, str, dict[str, str]]] = []
    for relationship in view.relationships:
        key = relationship.key
        ref_table = tables[(key.to_database, key.to_table)]
        head = node_id(key.to_database, key.to_table)
        if key.to_column in ref_table.columns:
            head += f":c{list(ref_table.columns).index(key.to_column)}:w"
        tail = (node_id(key.database, key.table)
                + f":m{list(tables[(key.database, key.table)].columns).index(key.column)}:e")
        edges.append((tail, head, {"dir": "both",
                                   "arrowhead": _CROWS_FOOT[relationship.referenced],
                                   "arrowtail": _CROWS_FOOT[relationship.referencing],
                                   "color": "#555555", "arrowsize": "1.0"}))

    if not tables:
        graph.node(node_id("no tables"), label=_quoted("no tables declared"),
                   shape="note", fontcolor="#555555")
    for db_name, db in design.of_kind("database").items():
        own = [(t, table) for (d, t), table in tables.items() if d == db_name]
        if not own:
            continue
        style = KIND_STYLES["database"]
        with graph.subgraph(name="cluster_" + node_id("database", db_name)) as sub:
            sub.attr(label=_html(f"<B>{_h(db_name)}</B>"
                                 + _small(f" · {_h(getattr(db, 'engine', ''))}")),
                     style="rounded", color=style.colour, bgcolor="#fcf8f3", fontsize="13",
                     labeljust="l", margin="14")
            for table_name, table in own:
                sub.node(node_id(db_name, table_name),
                         label=_html(_table_label(db_name, table_name, table, view)))
    for tail, head, attrs in edges:
        graph.edge(tail, head, **attrs)
    return graph


def _table_label(db_name: str, name: str, table: Table, view: DataView) -> str:
    colour = KIND_STYLES["database"].colour
    size = []
    if table.rows is not None:
        size.append(f"{number(table.rows)} rows")
    if table.growth_per_day:
        size.append(f"+{number(table.growth_per_day)}/day")
    head = f"<B>{_h(name)}</B>"
    if size:
        head += "<BR/>" + _small(_h(" · ".join(size)))
    rows = [f'<TR><TD COLSPAN="3" BGCOLOR="#f1e4d3">{head}</TD></TR>']
    leading = {index.columns[0] for index in table.indexes}
    for i, (column_name, column) in enumerate(table.columns.items()):
        marks = []
        if column.primary_key:
            marks.append("PK")
        if column.references is not None:
            marks.append("FK" if view.drawn(db_name, name, column_name)
                         else f"FK → {column.references}")
        if column.unique:
            marks.append("UQ")
        if column_name in leading:
            marks.append("IX")
        text = _h(column_name)
        if column.primary_key:
            text = f"<B>{text}</B>"
        if column.sensitive:
            text = f"<I>{text}</I>"
        rows.append(f'<TR><TD ALIGN="LEFT" PORT="c{i}">{text}</TD>'
                    f'<TD ALIGN="LEFT">{_small(_h(column.type), "#555555")}</TD>'
                    f'<TD ALIGN="LEFT" PORT="m{i}">{_small(_h(" ".join(marks)), colour)}'
                    "</TD></TR>")
    notes = []
    for index in table.indexes:
        words = [index.name or "index", "(" + ", ".join(index.columns) + ")"]
        if index.unique:
            words.append("unique")
        if index.kind != "btree":
            words.append(index.kind)
        notes.append("IX " + " ".join(words))
    if table.partitioning is not None:
        p = table.partitioning
        notes.append(f"partitioned by {p.kind} ({', '.join(p.key)})"
                     + (f" × {p.shards} shards" if p.shards else ""))
    if not table.columns:
        rows.append(f'<TR><TD COLSPAN="3">{_small("no columns declared", "#777777")}</TD></TR>')
    if notes:
        rows.append('<TR><TD COLSPAN="3" ALIGN="LEFT" BALIGN="LEFT" BGCOLOR="#f7f7f7">'
                    + _small("<BR/>".join(_h(n) for n in notes), "#333333") + "</TD></TR>")
    return ('<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="4" '
            f'COLOR="{colour}" BGCOLOR="white">' + "".join(rows) + "</TABLE>")


# ---------------------------------------------------------------------------------------
# saga


def saga(design: Design, name: str) -> graphviz.Digraph:
    """A saga: its steps in order, each step's compensation, and the pivot.

    Solid arrows run the steps forward. A step that fails (up to the pivot) starts the
    compensations (dashed, red) of the steps completed before it, in reverse order, back to
    "rolled back". Steps after the pivot are retried until they succeed.

    Raises:
        KeyError: No saga ``name`` (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> src = saga(dk.template("payments-saga"), "place-order").source
        >>> "PIVOT" in src and "undo" in src
        True
    """
    if name not in design.sagas:
        raise _nearest_error("saga", name, design.sagas)
    the_saga = design.sagas[name]
    graph = _new_graph(design.name, f"{design.name} — saga {name} ({the_saga.coordination})",
                       "LR", subtitle=_h(the_saga.description or ""))
    graph.attr(ranksep="0.7", nodesep="0.6")
    graph.attr("node", shape="box", style="rounded,filled", penwidth="1.5")

    start = node_id("saga", name, "start")
    done = node_id("saga", name, "completed")
    rolled_back = node_id("saga", name, "rolled back")
    pivot = next((i for i, s in enumerate(the_saga.steps) if s.pivot), None)
    can_fail = len(the_saga.steps) if pivot is None else pivot + 1

    with graph.subgraph() as first:
        first.attr(rank="same")
        first.node(start, label=_quoted("start"), shape="ellipse", style="filled",
                   fillcolor="#eeeeee", color="#555555")
        if the_saga.steps:
            first.node(rolled_back, label=_quoted("rolled back"), shape="ellipse",
                       style="filled,dashed", fillcolor="#fdecea", color=_ALERT)

    previous = start
    last_compensation = rolled_back
    for i, step in enumerate(the_saga.steps):
        action = node_id("saga", name, step.name, "action")
        rows = [f"<B>{i + 1}. {_h(step.name)}</B>", _small(_h(step.action))]
        attrs = {"fillcolor": "#dce8f5", "color": "#1f5fa8"}
        if step.pivot:
            rows.append(f"<B>PIVOT</B> {_small('point of no return', '#000000')}")
            attrs = {"fillcolor": "#ffe08a", "color": "#a06800", "penwidth": "3"}
        elif pivot is not None and i > pivot:
            rows.append(_small("<I>retried until it succeeds</I>", "#000000"))
            attrs = {"fillcolor": "#dff0d8", "color": "#3c763d"}
        with graph.subgraph() as column:
            column.attr(rank="same")
            column.node(action, label=_html("<BR/>".join(rows)), **attrs)
            compensation = None
            if step.compensation:
                compensation = node_id("saga", name, step.name, "compensation")
                column.node(compensation,
                            label=_html(f"<B>undo {_h(step.name)}</B><BR/>"
                                        + _small(_h(step.compensation))),
                            fillcolor="#fdecea", color=_ALERT, style="rounded,filled,dashed")
        graph.edge(previous, action, penwidth="1.5")
        if i < can_fail:
            # a failure here undoes the steps completed before it (drawn against the
            # rank order, so the edge is declared backwards and drawn reversed)
            graph.edge(last_compensation, action, dir="back", style="dashed", color=_ALERT,
                       fontcolor=_ALERT, label=_quoted("fails"), constraint="false")
        else:
            graph.edge(action, action, label=_quoted("retry"), color="#3c763d",
                       fontcolor="#3c763d", style="dashed")
        if compensation is not None:
            graph.edge(last_compensation, compensation, dir="back", style="dashed",
                       color=_ALERT, fontcolor=_ALERT)
            last_compensation = compensation
        previous = action
    graph.node(done, label=_quoted("completed"), shape="ellipse", style="filled",
               fillcolor="#dff0d8", color="#3c763d")
    graph.edge(previous, done, penwidth="1.5")
    return graph


# ---------------------------------------------------------------------------------------
# SVG


_INSTALL = ("Graphviz's `dot` program is not installed: apt install graphviz | "
            "brew install graphviz | conda install -c conda-forge graphviz")


def dot(source: str) -> graphviz.Source:
    """DOT text as a graph :func:`to_svg` draws.

    Example:
        >>> "<svg" in to_svg(dot("digraph { a -> b }"))
        True
    """
    return _graphviz().Source(source)


def to_svg(graph: graphviz.Digraph | graphviz.Source) -> str:
    """Draw ``graph`` with ``dot`` (run once) as a self-contained SVG document.

    The DOCTYPE (a link to the W3C DTD) is dropped; the views set no URLs or images, so the
    SVG links to nothing.

    Raises:
        MissingDependencyError: ``dot`` is not installed (the message says how to get it).

    Example:
        >>> import designkit as dk
        >>> to_svg(data(dk.template("flash-sale"))).lstrip().startswith("<?xml")
        True
    """
    gv = _graphviz()
    try:
        raw: bytes = graph.pipe(format="svg")
    except gv.ExecutableNotFound as err:
        raise MissingDependencyError(_INSTALL) from err
    text = raw.decode("utf-8")
    start = text.find("<!DOCTYPE")
    if start >= 0:
        stop = text.find(">", start)
        text = text[:start] + text[stop + 1:].lstrip("\n")
    return text
