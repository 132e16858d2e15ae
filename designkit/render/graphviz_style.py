"""What every Graphviz view shares: fonts, the look of each component kind, and the small
helpers that build escaped labels and a titled graph.

Example:
    >>> KIND_STYLES["database"].shape, small("x")
    ('cylinder', '<FONT POINT-SIZE="11" COLOR="#333333">x</FONT>')
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from designkit.errors import MissingDependencyError
from designkit.render.names import dot_label, html_text, node_id

__all__ = ["FONT", "FONT_SIZE", "KIND_STYLES", "SMALL", "UNKNOWN_STYLE", "KindStyle",
           "detail", "graphviz_package", "html", "new_graph", "quoted", "small", "text"]

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

UNKNOWN_STYLE = KindStyle("box", "#333333", "#ffffff", "component")
"""The look of a name that is no component (a broken reference)."""


def graphviz_package() -> Any:
    """The ``graphviz`` package, imported when first drawn (``import designkit`` stays
    light); a missing package says how to get it."""
    try:
        import graphviz
    except ImportError as err:  # pragma: no cover - graphviz is a dependency
        raise MissingDependencyError(
            "the graphviz package is missing: pip install graphviz") from err
    return graphviz


@functools.cache
def _digraph() -> Any:
    """The graphviz package's ``Digraph`` quoting each name and value once per text: a
    200-component architecture quotes some 7,000 attribute values, most of them the same
    few colours, fonts and styles (the DOT text is the package's own, character for
    character)."""
    from graphviz import _tools, quoting

    quote = functools.lru_cache(maxsize=16384, typed=True)(quoting.quote)

    def quote_edge(identifier: str) -> str:
        node, _, rest = identifier.partition(":")
        parts = [quote(node)]
        if rest:
            port, _, compass = rest.partition(":")
            parts.append(quote(port))
            if compass:
                parts.append(compass)
        return ":".join(parts)

    def a_list(label: str | None = None, kwargs: Any = None, attributes: Any = None) -> str:
        result = [f"label={quote(label)}"] if label is not None else []
        for given in (kwargs, attributes):
            if given:
                items = _tools.mapping_items(given) if hasattr(given, "items") else given
                result += [f"{quote(k)}={quote(v)}" for k, v in items if v is not None]
        return " ".join(result)

    def attr_list(label: str | None = None, kwargs: Any = None,
                  attributes: Any = None) -> str:
        content = a_list(label, kwargs, attributes)
        return f" [{content}]" if content else ""

    class Digraph(graphviz_package().Digraph):  # type: ignore[misc]
        _quote = staticmethod(quote)
        _quote_edge = staticmethod(quote_edge)
        _a_list = staticmethod(a_list)
        _attr_list = staticmethod(attr_list)

    return Digraph


def text(value: object) -> str:
    """Text for an HTML-like label; newlines become line breaks.

    Example:
        >>> text('a<b\\nc')
        'a&lt;b<BR/>c'
    """
    return html_text(str(value)).replace("\r\n", "\n").replace("\n", "<BR/>")


def html(body: str) -> str:
    """An HTML-like label value (the graphviz package passes ``<…>`` through as is)."""
    return f"<{body}>"


def quoted(value: str) -> Any:
    """A plain (quoted) label: escaped for DOT, never taken for an HTML-like label."""
    return graphviz_package().nohtml(dot_label(value))


def small(body: str, colour: str = "#333333") -> str:
    """HTML drawn in the small size (nothing for no text: Graphviz rejects an empty
    ``<FONT>``)."""
    if not body:
        return ""
    return f'<FONT POINT-SIZE="{SMALL}" COLOR="{colour}">{body}</FONT>'


def new_graph(name: str, title: str, rankdir: str, subtitle: str = "", below: str = ""
              ) -> Any:
    """A graph with the shared fonts and a title: ``subtitle`` is HTML drawn small under
    it, ``below`` further HTML table rows (``<TR>…</TR>``: a legend)."""
    graph = _digraph()(name=node_id(name))
    rows = f'<TR><TD ALIGN="LEFT"><B>{text(title)}</B></TD></TR>'
    if subtitle:
        rows += f'<TR><TD ALIGN="LEFT">{small(subtitle)}</TD></TR>'
    rows += below
    label = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>'
    graph.attr(rankdir=rankdir, fontname=FONT, fontsize="16", labelloc="t", labeljust="l",
               label=html(label), nodesep="0.35", ranksep="0.6",
               newrank="true", pad="0.3")
    graph.attr("node", fontname=FONT, fontsize=FONT_SIZE, margin="0.12,0.06")
    graph.attr("edge", fontname=FONT, fontsize=SMALL, color="#444444", arrowsize="0.8")
    return graph


def detail(component: Any) -> str:
    """A component in a few words under its name: ``service · 8 × 40 workers``,
    ``postgres · 64 cores + 2 replicas``, ``redis · 1 server``…"""
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
