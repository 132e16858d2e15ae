"""Renderers draw any text as written: control characters made visible, ``$`` never TeX,
numbers that may be infinite spelled one way.

Names with control characters are refused by validation, but the renderers do not
validate (a notebook may draw a design it is still building) and free text (descriptions,
ops, waiver reasons) may hold anything: every output must stay well-formed. Outputs are read
back with real parsers (ElementTree for SVG and HTML, ``dot`` itself for DOT).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

import designkit as dk
from designkit.model.database import Database
from designkit.render import graphviz_views as gv
from designkit.render import mermaid, plots
from designkit.render.names import node_id
from designkit.render.report import write_report

SVG = "{http://www.w3.org/2000/svg}"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline."""

NAME = "shop\x01 \x1b[31mred"
TABLE = "orders\x02"
COLUMN = "id\x7f"
SAGA = "place\x1b]0;title\x07"
STEP = "reserve\x9b"
OP = "SELECT \x1b[2J"
DESCRIPTION = "undo it\x00 all"


def hostile() -> dk.Design:
    """A design built with clean names, then given control characters (as a notebook or a
    Python caller could): the model refuses such names at validation, renderers must not."""
    d = dk.Design(name="shop")
    ep = d.service("api").endpoint("GET /x", cpu_ms=1)
    ep.call("db", service_ms=1, op=OP)
    ep.call("api POST /undo")
    d.service("api").endpoint("POST /undo", cpu_ms=1)
    db = d.database("db", cores=2)
    assert isinstance(db, Database)
    db.table("orders").column("id", "uuid", primary_key=True)
    db.table("items").column("order_id", "uuid", references="orders.id")
    d.set_load("api GET /x", 10)
    d.saga("place", description=DESCRIPTION).step("reserve", "api GET /x",
                                                  compensation="api POST /undo")
    d.name = NAME
    orders = db.tables.pop("orders")
    orders.columns = {COLUMN: orders.columns["id"]}
    db.tables[TABLE] = orders
    saga = d.sagas.pop("place")
    saga.steps[0].name = STEP
    d.sagas[SAGA] = saga
    return d


def visible(text: str) -> str:
    """How a control character is drawn: its Python escape."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def svg_texts(svg: str) -> str:
    root = ET.fromstring(svg)  # well-formed XML
    return " | ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


# -- Graphviz ----------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["architecture", "data", "saga", "sequence"])
def test_graphviz_draws_control_characters_as_escapes(view: str) -> None:
    d = hostile()
    graph = {"architecture": lambda: gv.architecture(d),
             "data": lambda: gv.data(d),
             "saga": lambda: gv.saga(d, SAGA),
             "sequence": lambda: gv.sequence(d, "api GET /x")}[view]()
    assert not CONTROL.search(graph.source)
    text = svg_texts(gv.to_svg(graph))  # dot parses every label
    assert visible(NAME) in text
    expected = {"architecture": [], "data": [TABLE, COLUMN], "saga": [SAGA, STEP, DESCRIPTION],
                "sequence": [OP]}[view]
    for raw in expected:
        assert visible(raw) in text, raw


def test_graphviz_spells_an_unbounded_utilization() -> None:
    d = dk.template("payments-saga")
    estimate = dk.estimate(d, scale=5)
    assert estimate.components["orders-svc"].utilization == float("inf")
    source = gv.architecture(d, estimate).source
    assert "util <B>∞%</B>" in source
    text = svg_texts(gv.to_svg(gv.architecture(d, estimate)))
    assert "∞%" in text and not re.search(r"\binf\b", text)


# -- Mermaid -----------------------------------------------------------------------------


def unescape(text: str) -> str:
    named = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}
    return re.sub(r"#(\d+|[a-z]+);",
                  lambda m: named[m.group(1)] if m.group(1) in named else chr(int(m.group(1))),
                  text)


def test_mermaid_writes_control_characters_as_escapes() -> None:
    d = hostile()
    views = {"architecture": mermaid.architecture(d), "data": mermaid.data(d),
             "saga": mermaid.saga(d, SAGA), "sequence": mermaid.sequence(d, "api GET /x")}
    for text in views.values():
        assert not CONTROL.search(text)
    # an ER name ends at a backslash: the escape's backslash is an entity there
    [entity] = [line for line in views["data"].splitlines()
                if line.strip().startswith(node_id("db", TABLE))]
    assert '["' + visible(TABLE).replace("\\", "#92;") + '"]' in entity
    assert visible(COLUMN).replace("\\", "#92;") in views["data"]
    assert visible(STEP) in unescape(views["saga"])
    assert visible(OP) in unescape(views["sequence"])


# -- matplotlib --------------------------------------------------------------------------

DOLLARS = "cost $\\frac$ in $x$"
"""Two ``$`` pairs: TeX math to matplotlib, and ``\\frac`` without arguments fails to parse."""


def dollar_design() -> dk.Design:
    d = dk.Design(name=DOLLARS)
    d.service("api").endpoint("GET /p/$x$", cpu_ms=1).call("db", service_ms=1)
    db = d.database("db", cores=2)
    assert isinstance(db, Database)
    db.table("price_$usd$", rows=1000, growth_per_day=100).column("id", "uuid")
    d.set_load("api GET /p/$x$", 10)
    return d.validate()


def test_plots_draw_dollars_as_written() -> None:
    from matplotlib import cbook
    from matplotlib.text import Text

    d = dollar_design()
    estimate = dk.estimate(d)
    figures = [plots.latency_cdf(estimate), plots.utilization(estimate), plots.load_curve(d),
               plots.table_growth(d), plots.compare(estimate, estimate, ("$a$", "$b$"))]
    for fig in figures:
        ET.fromstring(plots.to_svg(fig))  # drawing it never parses TeX
        texts = [t.get_text() for t in fig.findobj(Text) if t.get_text()]
        assert not [t for t in texts if cbook.is_math_text(t)]
        assert any("$" in t for t in texts)
    title = figures[0].axes[0].get_title()
    assert title.startswith("Latency distribution — cost \\$\\frac\\$ in \\$x\\$")


def test_plots_write_control_characters_as_escapes() -> None:
    d = dk.template("dashboard-slow")
    estimate = dataclasses.replace(dk.estimate(d), design="dash\x01board")
    fig = plots.utilization(estimate)
    svg = plots.to_svg(fig)
    ET.fromstring(svg)
    assert not CONTROL.search(svg)
    assert fig.axes[0].get_title() == "Utilization — dash\\x01board"


# -- the report --------------------------------------------------------------------------


def test_report_of_free_text_with_control_characters_and_dollars(tmp_path: Path) -> None:
    d = dollar_design()
    d.description = "about \x1b[31mred\x1b[0m"
    d.saga("place", description=DESCRIPTION).step("reserve", "api GET /p/$x$")
    d.waivers.append(dk.Waiver(finding="DK-*@*", owner="ana", reason="later\x07"))
    md = write_report(d, tmp_path)
    text = md.read_text(encoding="utf-8")
    page = md.with_suffix(".html").read_text(encoding="utf-8")
    for out in (text, page, *(p.read_text(encoding="utf-8") for p in tmp_path.glob("*.svg"))):
        assert not CONTROL.search(out)
    ET.fromstring(page)
    for svg in tmp_path.glob("*.svg"):
        ET.fromstring(svg.read_text(encoding="utf-8"))
    assert "about \\\\x1b\\[31mred\\\\x1b\\[0m" in text  # visible, then Markdown-escaped
    assert "about \\x1b[31mred\\x1b[0m" in page
    assert "later\\x07" in page


def test_report_spells_unbounded_utilization_one_way(tmp_path: Path) -> None:
    d = dk.template("payments-saga")
    md = write_report(d, tmp_path, estimate=dk.estimate(d, scale=5))
    text = md.read_text(encoding="utf-8")
    text = text[:text.index("## Assessment")]  # the rules' own messages are theirs
    [row] = [line for line in text.splitlines() if line.startswith("| `orders-svc` | service")]
    assert "| ∞% |" in row and "**SATURATED**" in row
    assert "workers`: ∞% now, ∞% if every call used all" in text
    assert not re.search(r"\binf\b|inf%|∞ %", text)
