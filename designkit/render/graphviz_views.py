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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, assert_never

from designkit.errors import MissingDependencyError
from designkit.model.problems import format_path
from designkit.model.refs import EndpointRef
from designkit.model.steps import (
    CacheStep,
    CallStep,
    LockStep,
    LoopStep,
    ParallelStep,
    PublishStep,
    TransactionStep,
)
from designkit.render.names import dot_label, html_text, node_id
from designkit.render.view import (
    RELATIONS,
    ArchitectureView,
    Cardinality,
    DataView,
    Load,
    StepView,
    architecture_view,
    data_view,
    ratio,
    sequence_view,
)
from designkit.text import number, percent

if TYPE_CHECKING:
    import graphviz

    from designkit.assess.assessment import Assessment
    from designkit.estimate.result import Estimate
    from designkit.model.database import Table
    from designkit.model.design import Design

__all__ = ["KIND_STYLES", "architecture", "data", "saga", "sequence", "to_svg"]

FONT = "Helvetica"
"""One sans-serif face for every view (Graphviz maps it to Arial/Liberation Sans)."""
FONT_SIZE = "12"
SMALL = "11"
"""The smallest text drawn: details, edge labels, legends (never below 11 pt)."""


@dataclass(frozen=True)
class KindStyle:
    """How one kind of component is drawn: its shape, its colour, its tint, its name."""

    shape: str
    colour: str
    tint: str
    title: str


KIND_STYLES: dict[str, KindStyle] = {
    "service": KindStyle("box3d", "#1f5fa8", "#dce8f5", "service"),
    "database": KindStyle("cylinder", "#8a5a2b", "#f1e4d3", "database"),
    "cache": KindStyle("component", "#6a3d9a", "#e9e0f3", "cache"),
    "queue": KindStyle("cds", "#0e7c86", "#d5f0f2", "queue / topic"),
    "external": KindStyle("note", "#555555", "#ececec", "external API"),
    "lock": KindStyle("octagon", "#b03a7a", "#f8dcea", "lock"),
}
"""Shape, border colour, fill tint and legend name of each component kind."""

_UNKNOWN = KindStyle("box", "#333333", "#ffffff", "component")

# Utilization fills (the same thresholds as the estimate's own table).
_GREEN = "#b7e1a8"
_AMBER = "#ffd27a"
_RED = "#f28b82"
_IDLE = "#ffffff"
_ALERT = "#b00020"

# How each relation of the architecture view is drawn: (style, colour, legend text).
_RELATIONS: dict[str, tuple[str, str, str]] = {
    "call": ("solid", "#333333", "call"),
    "cache": ("solid", "#6a3d9a", "cache-aside read"),
    "transaction": ("bold", "#8a5a2b", "transaction (holds a connection)"),
    "lock": ("dotted", "#b03a7a", "lock held"),
    "publish": ("dashed", "#0e7c86", "publish"),
    "consume": ("dashed", "#0e7c86", "consume (queue handler)"),
}


# ---------------------------------------------------------------------------------------
# helpers


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError as err:  # pragma: no cover - graphviz is a dependency
        raise MissingDependencyError(
            "the graphviz package is missing: pip install graphviz") from err
    return graphviz


def _h(text: object) -> str:
    """Text for an HTML-like label; newlines become line breaks."""
    return html_text(str(text)).replace("\r\n", "\n").replace("\n", "<BR/>")


def _html(body: str) -> str:
    """An HTML-like label value (the graphviz package passes ``<…>`` through as is)."""
    return f"<{body}>"


def _quoted(text: str) -> Any:
    """A plain (quoted) label: escaped for DOT, never taken for an HTML-like label."""
    return _graphviz().nohtml(dot_label(text))


def _small(text: str, colour: str = "#333333") -> str:
    if not text:
        return ""  # Graphviz rejects an empty <FONT> element
    return f'<FONT POINT-SIZE="{SMALL}" COLOR="{colour}">{text}</FONT>'


def _new_graph(name: str, title: str, rankdir: str, subtitle: str = "") -> Any:
    """A graph with the shared fonts and a title (``subtitle`` is HTML, drawn small)."""
    graph = _graphviz().Digraph(name=node_id(name))
    rows = f'<TR><TD ALIGN="LEFT"><B>{_h(title)}</B></TD></TR>'
    if subtitle:
        rows += f'<TR><TD ALIGN="LEFT">{_small(subtitle)}</TD></TR>'
    label = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>'
    graph.attr(rankdir=rankdir, fontname=FONT, fontsize="16", labelloc="t", labeljust="l",
               label=_html(label), nodesep="0.35", ranksep="0.6",
               newrank="true", pad="0.3")
    graph.attr("node", fontname=FONT, fontsize=FONT_SIZE, margin="0.12,0.06")
    graph.attr("edge", fontname=FONT, fontsize=SMALL, color="#444444", arrowsize="0.8")
    return graph


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


def _detail(component: Any) -> str:
    kind = component.kind
    if kind == "service":
        return f"service · {component.replicas} × {component.workers} workers"
    if kind == "database":
        replicas = f" + {component.read_replicas} replicas" if component.read_replicas else ""
        return f"{component.engine} · {component.cores} cores{replicas}"
    if kind == "cache":
        servers = "server" if component.servers == 1 else "servers"
        return f"{component.engine} · {component.servers} {servers}"
    if kind == "queue":
        parts = "partition" if component.partitions == 1 else "partitions"
        return f"{component.engine} · {component.partitions} {parts}"
    if kind == "external":
        return "external API" + (f" · timeout {component.timeout_ms:g} ms"
                                 if component.timeout_ms else "")
    if kind == "lock":
        return f"lock · {component.engine}"
    return str(kind)


_FILLS = {"saturated": _RED, "warning": _AMBER, "idle": _IDLE, "ok": _GREEN}
"""The fill of each load state of :class:`~designkit.render.view.Load`."""


def architecture(design: Design, estimate: Estimate | None = None,
                 assessment: Assessment | None = None) -> graphviz.Digraph:
    """Components by kind, grouped by boundary and zone, with the calls between them.

    Args:
        design: The design.
        estimate: Colours each component by its most utilized station (green below the
            policy's ``utilization_max``, amber up to 100 %, red when saturated, white
            without traffic) and labels each edge with calls per second.
        assessment: Badges each component with its failing findings (those whose subject
            is the component or a part of it).

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
    graph = _new_graph(design.name, title, "LR")
    graph.attr(ranksep="1.1", nodesep="0.5")
    view = architecture_view(design, estimate)

    nodes: dict[str, tuple[str, dict[str, str]]] = {}
    for node in view.nodes:
        nodes[node.name] = _component_node(node.name, design.components[node.name], node.load,
                                           estimate, assessment)

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

    _architecture_legend(graph, design, view, assessment)
    return graph


def _rate_label(relation: str, rate: float) -> str:
    """An edge's label under an estimate: ``387/s`` for a call, else ``publish 200/s``."""
    return f"{number(rate)}/s" if relation == "call" else f"{relation} {number(rate)}/s"


def _component_node(name: str, component: Any, load: Load | None, estimate: Estimate | None,
                    assessment: Assessment | None) -> tuple[str, dict[str, str]]:
    style = KIND_STYLES.get(component.kind, _UNKNOWN)
    rows = [f"<B>{_h(name)}</B>", _small(_h(_detail(component)))]
    chips: list[str] = []
    fill = style.tint
    if estimate is not None:
        if load is None:
            fill = _IDLE
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


def _architecture_legend(graph: Any, design: Design, view: ArchitectureView,
                         assessment: Assessment | None) -> None:
    kinds = [k for k in KIND_STYLES if any(c.kind == k for c in design.components.values())]
    relations = view.relations
    threshold = view.utilization_max
    rows: list[str] = []
    if view.estimated:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>utilization</B> '
                    + _small("(busiest station)") + "</TD></TR>")
        for colour, text in ((_GREEN, f"below {percent(threshold)} (policy)"),
                             (_AMBER, f"{percent(threshold)} – 100%: little headroom"),
                             (_RED, "≥ 100%: SATURATED"),
                             (_IDLE, "no traffic")):
            rows.append(f'<TR><TD BGCOLOR="{colour}" BORDER="1" WIDTH="28" HEIGHT="14"></TD>'
                        f'<TD ALIGN="LEFT">{_small(_h(text), "#000000")}</TD></TR>')
    if relations:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT"><B>edges</B> '
                    + _small("(label: calls/s)" if view.estimated else "(label: relation)")
                    + "</TD></TR>")
        lines = {"solid": "────", "bold": "━━━━", "dotted": "········",
                 "dashed": "– – – –"}
        for relation in relations:
            line, colour, text = _RELATIONS[relation]
            rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{colour}">{lines[line]}</FONT>'
                        f'</TD><TD ALIGN="LEFT">{_small(_h(text), "#000000")}</TD></TR>')
    if assessment is not None:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT">'
                    + _small(f'<FONT COLOR="{_ALERT}"><B>⚑ N failing</B></FONT>: failing '
                             "findings on the component, worst severity", "#000000")
                    + "</TD></TR>")

    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label=_html("<B>Legend</B>"), style="rounded", color="#bbbbbb",
                    bgcolor="#ffffff", fontsize="13", labeljust="l", margin="10")
        with legend.subgraph() as column:
            column.attr(rank="same")
            for kind in kinds:
                look = KIND_STYLES[kind]
                fill = "#ffffff" if view.estimated else look.tint
                column.node(node_id("legend", kind), label=_quoted(look.title),
                            shape=look.shape, style="filled", fillcolor=fill,
                            color=look.colour, penwidth="2", fontsize=SMALL, height="0.35",
                            width="1.3")
        if rows:
            table = ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">'
                     + "".join(rows) + "</TABLE>")
            key = node_id("legend", "key")
            legend.node(key, label=_html(table), shape="plain")
            if kinds:
                legend.edge(node_id("legend", kinds[len(kinds) // 2]), key, style="invis")


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
# sequence


def _query_text(step: CallStep) -> str:
    q = step.query
    if q is None:
        return step.op or ""
    text = f"{q.kind.upper()} {q.table}"
    if q.where:
        text += " WHERE " + ", ".join(q.where)
    if q.order_by:
        text += " ORDER BY " + ", ".join(q.order_by)
    if q.limit:
        text += f" LIMIT {q.limit}"
    if q.batch > 1:
        text += f" (batch {q.batch})"
    return text


@dataclass
class _Sequence:
    design: Design
    ref: str
    edges: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def nid(self, path: str, role: str = "") -> str:
        return node_id(self.ref, path + role)

    def steps(self, graph: Any, steps: Sequence[StepView], path: str
              ) -> tuple[str, str] | None:
        ends: tuple[str, str] | None = None
        for i, step in enumerate(steps):
            entry, exit_ = self.step(graph, step, f"{path}[{i}]")
            if ends is None:
                ends = (entry, exit_)
            else:
                self.edges.append((ends[1], entry, {}))
                ends = (ends[0], exit_)
        return ends

    def body(self, graph: Any, steps: Sequence[StepView], path: str) -> tuple[str, str]:
        ends = self.steps(graph, steps, path)
        if ends is None:
            empty = self.nid(path, ":empty")
            graph.node(empty, label=_quoted("(no steps)"), shape="plain", fontcolor="#777777",
                       fontsize=SMALL)
            return empty, empty
        return ends

    def container(self, graph: Any, path: str, label: str, colour: str, fill: str,
                  steps: Sequence[StepView]) -> tuple[str, str]:
        with graph.subgraph(name="cluster_" + self.nid(path)) as sub:
            sub.attr(label=_html(label), style="rounded,filled", color=colour, fillcolor=fill,
                     fontsize="13", labeljust="l", margin="12")
            return self.body(sub, steps, path + ".steps")

    def step(self, graph: Any, view: StepView, path: str) -> tuple[str, str]:
        step = view.site.step
        match step:
            case CallStep():
                return self.call(graph, step, view.site.target, path)
            case PublishStep():
                nid = self.nid(path)
                rows = [f"publish → <B>{_h(step.publish)}</B>"]
                if step.outbox:
                    rows.append(_small("via the transactional outbox"))
                if step.count != 1:
                    rows.append(_small(f"× {step.count:g} messages"))
                style = KIND_STYLES["queue"]
                graph.node(nid, label=_html("<BR/>".join(rows)), shape=style.shape,
                           style="filled", fillcolor=style.tint, color=style.colour)
                return nid, nid
            case TransactionStep():
                return self.container(graph, path,
                                      f"<B>transaction</B> on {_h(step.transaction)}",
                                      "#8a5a2b", "#fcf8f3", view.body)
            case LockStep():
                return self.container(graph, path, f"<B>lock</B> {_h(step.lock)} held",
                                      "#b03a7a", "#fdf2f8", view.body)
            case LoopStep():
                return self.container(graph, path, f"<B>loop × {step.loop.count:g}</B>",
                                      "#555555", "#f5f5f5", view.body)
            case CacheStep():
                return self.cache(graph, step, view, path)
            case ParallelStep():
                return self.branches(graph, view, path)
            case _:
                assert_never(step)

    def call(self, graph: Any, step: CallStep, target: str | None, path: str
             ) -> tuple[str, str]:
        nid = self.nid(path)
        component = self.design.components.get(target) if target is not None else None
        style = KIND_STYLES.get(component.kind, _UNKNOWN) if component else _UNKNOWN
        rows = [f"<B>{_h(step.call)}</B>"]
        detail = _query_text(step)
        if detail:
            rows.append(_small(_h(detail)))
        extras = []
        if step.count != 1:
            extras.append(f"× {step.count:g}")
        if step.timeout_ms is not None:
            extras.append(f"timeout {number(step.timeout_ms)} ms")
        if step.retries is not None:
            extras.append(f"retries {step.retries.max}")
        if extras:
            rows.append(_small(_h(" · ".join(extras)), "#555555"))
        graph.node(nid, label=_html("<BR/>".join(rows)), shape=style.shape, style="filled",
                   fillcolor=style.tint, color=style.colour)
        return nid, nid

    def cache(self, graph: Any, step: CacheStep, view: StepView, path: str
              ) -> tuple[str, str]:
        check = self.nid(path, ":check")
        merge = self.nid(path, ":merge")
        style = KIND_STYLES["cache"]
        rows = [f"<B>{_h(step.cache)}</B>"]
        if step.op:
            rows.append(_small(_h(step.op)))
        rows.append(_small("hit?"))
        graph.node(check, label=_html("<BR/>".join(rows)), shape="diamond", style="filled",
                   fillcolor=style.tint, color=style.colour)
        graph.node(merge, label="", shape="point", width="0.08", color="#444444")
        hit = view.hit
        hit_text = "hit" if hit is None else f"hit {ratio(hit)}"
        miss_text = "miss" if hit is None else f"miss {ratio(1 - hit)}"
        ends = self.steps(graph, view.body, path + ".on_miss")
        green, red = "#3c763d", "#a94442"
        self.edges.append((check, merge, {"label": _quoted(hit_text), "color": green,
                                          "fontcolor": green}))
        if ends is None:
            self.edges.append((check, merge, {"label": _quoted(miss_text), "color": red,
                                              "fontcolor": red, "style": "dashed"}))
        else:
            self.edges.append((check, ends[0], {"label": _quoted(miss_text), "color": red,
                                                "fontcolor": red, "style": "dashed"}))
            self.edges.append((ends[1], merge, {"color": red, "style": "dashed",
                                                "label": _quoted("fill cache"),
                                                "fontcolor": red}))
        return check, merge

    def branches(self, graph: Any, view: StepView, path: str) -> tuple[str, str]:
        fork = self.nid(path, ":fork")
        join = self.nid(path, ":join")
        bar = {"label": "", "shape": "box", "style": "filled", "fillcolor": "#333333",
               "height": "0.06", "width": "1.6", "fixedsize": "true", "color": "#333333"}
        graph.node(fork, xlabel=_quoted(f"parallel × {len(view.lists)}"), **bar)
        graph.node(join, **bar)
        for b, branch in enumerate(view.lists):
            ends = self.steps(graph, branch, f"{path}.parallel[{b}]")
            if ends is None:
                self.edges.append((fork, join, {}))
            else:
                self.edges.append((fork, ends[0], {}))
                self.edges.append((ends[1], join, {}))
        return fork, join


def sequence(design: Design, endpoint_ref: str) -> graphviz.Digraph:
    """One endpoint's steps as a flow, top to bottom.

    Calls are drawn in their target's shape; transactions and locks are clusters around the
    steps they hold; a loop is a cluster labelled ``× N``; parallel branches run between a
    fork and a join bar; a cache-aside read branches on hit and miss, labelled with the
    ratios.

    Raises:
        KeyError: No such endpoint (the message names the nearest).

    Example:
        >>> import designkit as dk
        >>> src = sequence(dk.template("dashboard-slow"), "dashboard-api GET /v1/dashboard").source
        >>> "loop × 50" in src
        True
    """
    endpoint = design.endpoint(endpoint_ref)
    ref = EndpointRef.parse(endpoint_ref)
    key = str(ref) if ref is not None else endpoint_ref
    graph = _new_graph(key, f"{design.name} — {key}", "TB")
    graph.attr(ranksep="0.45", nodesep="0.45")
    flow = _Sequence(design, key)

    start = node_id(key, ":request")
    end = node_id(key, ":response")
    service = KIND_STYLES["service"]
    rows = [f"<B>{_h(key)}</B>"]
    if endpoint.cpu_ms.mean != 0:
        rows.append(_small(_h(f"cpu {endpoint.cpu_ms}")))
    graph.node(start, label=_html("<BR/>".join(rows)), shape="box", style="rounded,filled",
               fillcolor=service.tint, color=service.colour, penwidth="2")
    ends = flow.steps(graph, sequence_view(design, endpoint_ref), format_path(("steps",)))
    graph.node(end, label=_quoted("response"), shape="ellipse", style="filled",
               fillcolor="#eeeeee", color="#555555")
    if ends is None:
        flow.edges.append((start, end, {}))
    else:
        flow.edges.append((start, ends[0], {}))
        flow.edges.append((ends[1], end, {}))
    for tail, head, attrs in flow.edges:
        graph.edge(tail, head, **attrs)
    return graph


# ---------------------------------------------------------------------------------------
# SVG


_INSTALL = ("Graphviz's `dot` program is not installed: apt install graphviz | "
            "brew install graphviz | conda install -c conda-forge graphviz")


def to_svg(graph: graphviz.Digraph) -> str:
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
