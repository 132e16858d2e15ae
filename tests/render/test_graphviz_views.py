"""Graphviz views: structure (parsed from dot's JSON layout, never raw strings), colours,
badges, escaping of hostile names, determinism and self-contained SVG."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest

import designkit as dk
from designkit.render.graphviz_views import (
    architecture,
    data,
    saga,
    sequence,
    to_svg,
)
from designkit.render.names import node_id

TEMPLATES = dk.templates()
HOSTILE = 'a"b<c>&d'
RED = "#f28b82"
AMBER = "#ffd27a"
GREEN = "#b7e1a8"


# -- parsing dot's layout ---------------------------------------------------------------


@dataclass
class Layout:
    """What dot drew: nodes (name → attributes and visible texts), edges, clusters."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    clusters: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    title: str = ""

    def text(self, node: str) -> str:
        return " ".join(self.texts[node])

    def edge_set(self, *, skip_legend: bool = True) -> set[tuple[str, str]]:
        return {(t, h) for t, h, _, _ in self.edges
                if not (skip_legend and t.startswith("legend_"))}


def _texts(obj: dict[str, Any], key: str = "_ldraw_") -> list[str]:
    """The texts drawn, pieces in other fonts on one line (``util <B>40%</B>``) rejoined."""
    out: list[tuple[float, float, str]] = []  # (y, right end, text)
    for op in obj.get(key, []):
        if op.get("op") != "T":
            continue
        x, y = op["pt"]
        left = {"l": x, "c": x - op["width"] / 2, "r": x - op["width"]}[op["align"]]
        if out and abs(out[-1][0] - y) < 0.5 and abs(out[-1][1] - left) < 1.0:
            out[-1] = (y, left + op["width"], out[-1][2] + op["text"])
        else:
            out.append((y, left + op["width"], op["text"]))
    return [text for _, _, text in out]


def layout(graph: Any) -> Layout:
    raw = json.loads(graph.pipe(format="json").decode("utf-8"))
    objects = raw.get("objects", [])
    out = Layout(title=" ".join(_texts(raw)))
    names = {i: o["name"] for i, o in enumerate(objects)}
    for obj in objects:
        if "nodes" in obj or "subgraphs" in obj:  # a subgraph
            if obj["name"].startswith("cluster"):
                members = {names[i] for i in obj.get("nodes", [])}
                out.clusters[obj["name"]] = (" ".join(_texts(obj)), members)
        else:
            out.nodes[obj["name"]] = obj
            out.texts[obj["name"]] = _texts(obj)
    for edge in raw.get("edges", []):
        label = " ".join(_texts(edge)) + " ".join(_texts(edge, "_tldraw_"))
        out.edges.append((names[edge["tail"]], names[edge["head"]], label, edge))
    return out


@cache
def design(name: str) -> dk.Design:
    return dk.template(name)


def svg_ok(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # parses as XML
    assert "<!DOCTYPE" not in svg
    for element in root.iter():
        for attr in element.attrib:
            assert not attr.endswith("href"), (attr, element.attrib[attr])
    assert "file:" not in svg
    return root


def svg_text(svg: str) -> str:
    return " ".join("".join(e.itertext()) for e in ET.fromstring(svg).iter()
                    if e.tag.endswith("text"))


# -- architecture -----------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_architecture_nodes_and_edges_match_the_model(name: str) -> None:
    d = design(name)
    drawn = layout(architecture(d))
    for component, c in d.components.items():
        nid = node_id(component)
        assert nid in drawn.nodes
        assert component in drawn.texts[nid]
        assert drawn.nodes[nid]["shape"] == {
            "service": "box3d", "database": "cylinder", "cache": "component", "queue": "cds",
            "external": "note", "lock": "octagon"}[c.kind]
    expected = {(node_id(u), node_id(v), e["relation"]) for u, v, e in d.graph().edges(data=True)}
    got = {(t, h, label) for t, h, label, _ in drawn.edges if not t.startswith("legend_")}
    assert got == expected  # one edge per (caller, target, relation), labelled by relation
    # the legend is under the title and names every kind drawn; it is no part of the layout
    assert not any(n.startswith("legend") for n in drawn.nodes)
    assert not any("legend" in c for c in drawn.clusters)
    for kind in {c.kind for c in d.components.values()}:
        title = {"queue": "queue / topic", "external": "external API"}.get(kind, kind)
        assert f"■ {title}" in drawn.title
    svg_ok(to_svg(architecture(d)))


@pytest.mark.parametrize("name", TEMPLATES)
def test_architecture_groups_by_boundary(name: str) -> None:
    d = design(name)
    drawn = layout(architecture(d))
    for component, c in d.components.items():
        boundary = getattr(c, "boundary", None)
        zone = getattr(c, "zone", None)
        key = ("boundary", boundary) if boundary else ("zone", zone) if zone else None
        if key is None:
            continue
        label, members = drawn.clusters["cluster_" + node_id(*key)]
        assert node_id(component) in members
        assert str(boundary or zone) in label


def test_flash_sale_estimate_labels_rates_and_colours() -> None:
    d = design("flash-sale")
    est = dk.estimate(d)
    drawn = layout(architecture(d, est))
    by_pair = {(t, h, label) for t, h, label, _ in drawn.edges}
    checkout, db = node_id("checkout-api"), node_id("orders-db")
    # 3 inserts per order (its request key, the order, its line) + 0.1 % cache misses
    # reading products: 30,010 calls/s
    assert (checkout, db, "30,010/s") in by_pair
    assert (checkout, db, "transaction 10,000/s") in by_pair
    assert (node_id("order-events"), node_id("order-projector"), "consume 10,000/s") in by_pair
    assert (checkout, node_id("sku-lock"), "lock 0/s") in by_pair
    assert "util 40% · 20,000/s" in drawn.text(node_id("stock-cache"))
    assert drawn.nodes[node_id("stock-cache")]["fillcolor"] == GREEN
    assert drawn.nodes[node_id("sku-lock")]["fillcolor"] == "#ffffff"
    assert "no traffic" in drawn.text(node_id("sku-lock"))
    assert "SATURATED" not in " ".join(" ".join(t) for t in drawn.texts.values() if t
                                       and not t[0].startswith("utilization"))


def test_edge_rates_add_up_to_station_arrivals() -> None:
    d = design("dashboard-slow")
    drawn = layout(architecture(d, dk.estimate(d)))
    labels = {label for t, h, label, _ in drawn.edges
              if (t, h) == (node_id("dashboard-api"), node_id("app-db"))}
    # 7.2 views/s × (1 + 1 + 50 + 1) queries + 5 lists/s = 386.6 queries/s
    assert labels == {"387/s"}
    assert drawn.nodes[node_id("app-db")]["fillcolor"] == AMBER  # 86 % > policy's 70 %
    assert "util 86%" in drawn.text(node_id("app-db"))


def test_saturated_design_gets_a_red_node_marked_saturated() -> None:
    d = dk.template("flash-sale")
    d.workload["checkout-api POST /v1/orders-locked"] = d.workload.pop(
        "checkout-api POST /v1/orders")
    est = dk.estimate(d)
    assert est.components["sku-lock"].saturated
    drawn = layout(architecture(d, est))
    lock = node_id("sku-lock")
    assert drawn.nodes[lock]["fillcolor"] == RED
    assert "SATURATED" in drawn.texts[lock]
    assert "bottleneck" in drawn.text(lock)
    assert "■ saturated" in drawn.title  # the legend explains the red fill
    svg = to_svg(architecture(d, est))
    svg_ok(svg)
    assert "SATURATED" in svg_text(svg)


@pytest.mark.parametrize("name", TEMPLATES)
def test_assessment_badges_count_failing_findings(name: str) -> None:
    d = design(name)
    assessment = dk.assess(d)
    drawn = layout(architecture(d, assessment=assessment))
    for component in d.components:
        failing = [f for f in assessment.failed()
                   if f.subject == f"components.{component}"
                   or f.subject.startswith(f"components.{component}.")]
        text = drawn.text(node_id(component))
        if failing:
            assert f"{len(failing)} failing" in text
        else:
            assert "failing" not in text


def test_flash_sale_lock_badge() -> None:
    d = design("flash-sale")
    drawn = layout(architecture(d, dk.estimate(d), dk.assess(d)))
    assert "⚑ 1 failing · high" in drawn.texts[node_id("sku-lock")]


@pytest.mark.parametrize("name", TEMPLATES)
def test_legend_is_two_short_lines_under_the_title(name: str) -> None:
    """The legend (kinds and edges; fills and the badge) sits under the title: it takes
    no rank of the layout, and title and legend together are under a third of the
    picture's height, with an estimate and an assessment or without."""
    d = design(name)
    est = dk.estimate(d)
    for graph in (architecture(d), architecture(d, est, dk.assess(d, estimate=est))):
        raw = json.loads(graph.pipe(format="json").decode("utf-8"))
        _, bottom, _, top = (float(v) for v in raw["bb"].split(","))
        lines = sorted({op["pt"][1] for op in raw["_ldraw_"] if op.get("op") == "T"})
        assert len(lines) <= 3  # the title and at most two lines of legend
        assert (top - lines[0] + 8) / (top - bottom) < 1 / 3
        assert not any(o["name"].startswith(("legend", "cluster_legend"))
                       for o in raw["objects"])


def test_external_without_a_concurrency_limit_has_no_utilization() -> None:
    """An external API without ``concurrency`` has no station: it shows its calls/s and
    its latency, in its kind's tint, never "util 0%" (one with a limit keeps its util)."""
    d = dk.Design(name="ext")
    d.external("open", latency_ms={"p50": 120, "p95": 400})
    d.external("bounded", latency_ms=50, concurrency=10)
    d.service("api", workers=32).endpoint("POST /pay").call("open").call("bounded")
    d.set_load("api POST /pay", 40)
    est = dk.estimate(d)
    assert est.components["open"].stations == {} and est.components["open"].arrival_rps == 40
    drawn = layout(architecture(d, est))
    text = drawn.text(node_id("open"))
    assert "40/s · latency p50 120 ms / p95 400 ms" in text
    assert "util" not in text and "no traffic" not in text
    assert drawn.nodes[node_id("open")]["fillcolor"] == "#ececec"  # the kind's tint
    assert "no concurrency limit (no utilization)" in drawn.title
    assert "util 20% · 40/s" in drawn.text(node_id("bounded"))  # 40/s × 50 ms over 10
    assert drawn.nodes[node_id("bounded")]["fillcolor"] == GREEN
    svg_ok(to_svg(architecture(d, est)))


# -- data -------------------------------------------------------------------------------


def _foreign_keys(d: dk.Design) -> set[tuple[str, str]]:
    out = set()
    for db_name, db in d.of_kind("database").items():
        for table_name, table in db.tables.items():  # type: ignore[union-attr]
            for column in table.columns.values():
                if column.references:
                    target = column.references.split(".")[0]
                    if target in db.tables:  # type: ignore[union-attr]
                        out.add((node_id(db_name, table_name), node_id(db_name, target)))
    return out


@pytest.mark.parametrize("name", TEMPLATES)
def test_data_tables_columns_and_foreign_keys(name: str) -> None:
    d = design(name)
    drawn = layout(data(d))
    for db_name, db in d.of_kind("database").items():
        tables = db.tables  # type: ignore[union-attr]
        if not tables:
            continue
        label, members = drawn.clusters["cluster_" + node_id("database", db_name)]
        assert db_name in label
        for table_name, table in tables.items():
            nid = node_id(db_name, table_name)
            assert nid in members
            texts = drawn.texts[nid]
            assert table_name in texts
            for column_name, column in table.columns.items():
                assert column_name in texts and column.type in texts
            for index in table.indexes:
                assert any(", ".join(index.columns) in t for t in texts)
            pk = [c for c, col in table.columns.items() if col.primary_key]
            if pk:
                assert any("PK" in t.split() for t in texts)
    assert drawn.edge_set() == _foreign_keys(d)
    for _, _, _, edge in drawn.edges:
        assert edge["arrowtail"] in {"crowodot", "teeodot"}
        assert edge["arrowhead"] in {"teetee", "teeodot"}
    svg_ok(to_svg(data(d)))


def test_dashboard_data_shows_the_missing_index() -> None:
    drawn = layout(data(design("dashboard-slow")))
    texts = drawn.texts[node_id("app-db", "payments")]
    # order_id is a foreign key that no index leads with: "FK", not "FK IX"
    i = texts.index("order_id")
    assert texts[i + 1: i + 3] == ["uuid", "FK"]
    assert "FK IX" in drawn.texts[node_id("app-db", "orders")]


# -- saga -------------------------------------------------------------------------------


def test_saga_steps_compensations_and_pivot() -> None:
    d = design("payments-saga")
    drawn = layout(saga(d, "place-order"))
    steps = d.sagas["place-order"].steps
    actions = [node_id("saga", "place-order", s.name, "action") for s in steps]
    chain = [node_id("saga", "place-order", "start"), *actions,
             node_id("saga", "place-order", "completed")]
    forward = {(t, h) for t, h, _, e in drawn.edges if e.get("dir") != "back" and t != h}
    assert forward == set(itertools.pairwise(chain))
    for step, nid in zip(steps, actions, strict=True):
        assert step.name in drawn.text(nid) and step.action in drawn.texts[nid]
        assert ("PIVOT" in drawn.text(nid)) == step.pivot
    compensations = {node_id("saga", "place-order", s.name, "compensation"): s
                     for s in steps if s.compensation}
    for nid, step in compensations.items():
        assert step.compensation in drawn.texts[nid]
        assert drawn.nodes[nid]["style"].endswith("dashed")
    # compensations run in reverse: undo charge → undo reserve-stock → rolled back
    reverse = {(h, t) for t, h, label, e in drawn.edges
               if e.get("dir") == "back" and label != "fails"}
    undo_reserve, undo_charge = compensations
    assert (undo_charge, undo_reserve) in reverse
    assert (undo_reserve, node_id("saga", "place-order", "rolled back")) in reverse
    # a failed charge (the pivot) undoes the reservation; confirm is retried
    assert (actions[1], undo_reserve, "fails") in {(h, t, lb) for t, h, lb, _ in drawn.edges}
    assert (actions[2], actions[2], "retry") in {(t, h, lb) for t, h, lb, _ in drawn.edges}
    svg_ok(to_svg(saga(d, "place-order")))


def test_unknown_saga_names_the_nearest() -> None:
    with pytest.raises(KeyError, match="place-order"):
        saga(design("payments-saga"), "place-ordr")
    with pytest.raises(KeyError, match="no saga 'x'"):
        saga(design("flash-sale"), "x")


# -- escaping, determinism, SVG ---------------------------------------------------------


def hostile(components: bool = True) -> dk.Design:
    """Hostile names everywhere; ``components=False`` keeps component names valid (the
    estimate only runs on a valid design) and puts the hostile text in the rest."""
    name = HOSTILE if components else "api"
    d = dk.Design(name=HOSTILE)
    db = d.database(name + "-db" if components else "db")
    db.table("parent").column("id", "uuid", primary_key=True)
    db.table(HOSTILE).column(HOSTILE, 'text<&">', references="parent.id").index(HOSTILE)
    queue = "q\nnewline" if components else "q"
    d.queue(queue, handler=f"{name} POST /in")
    svc = d.service(name, boundary='<b>"ctx"</b>', zone="z&z")
    ep = svc.endpoint(f"GET /x/{HOSTILE}")
    ep.call(db_name(d), op='SELECT "x" < 1 & 2', service_ms=1).publish(queue)
    svc.endpoint("POST /in")
    d.set_load(f"{name} GET /x/{HOSTILE}", 10)
    d.saga(HOSTILE).step(HOSTILE, f"{name} POST /in", compensation=f"{name} POST /in",
                         pivot=True)
    return d


def db_name(d: dk.Design) -> str:
    return next(iter(d.of_kind("database")))


def _all_text(drawn: Layout) -> str:
    parts = [drawn.title, *(" ".join(t) for t in drawn.texts.values())]
    parts += [label for label, _ in drawn.clusters.values()]
    parts += [label for _, _, label, _ in drawn.edges]
    return " | ".join(parts)


@pytest.mark.parametrize("view", ["architecture", "estimated", "data", "saga", "sequence"])
def test_hostile_names_are_escaped(view: str) -> None:
    d = hostile(components=view != "estimated")
    name = HOSTILE if view != "estimated" else "api"
    graph = {
        "architecture": lambda: architecture(d),
        "estimated": lambda: architecture(d, dk.estimate(d), dk.assess(d)),
        "data": lambda: data(d),
        "saga": lambda: saga(d, HOSTILE),
        "sequence": lambda: sequence(d, f"{name} GET /x/{HOSTILE}"),
    }[view]()
    drawn = layout(graph)  # dot parses it
    text = _all_text(drawn)
    assert HOSTILE in text
    assert drawn.title.startswith(HOSTILE)  # the design's name
    svg = to_svg(graph)
    svg_ok(svg)
    assert HOSTILE in svg_text(svg)
    if view in ("architecture", "estimated"):
        assert node_id(name) in drawn.nodes
        assert '<b>"ctx"</b>' in text and "z&z" in text
    if view == "architecture":
        assert drawn.texts[node_id(HOSTILE)][0] == HOSTILE
        # a newline in a name is a line break, not a literal "\n"
        assert drawn.texts[node_id("q\nnewline")][:2] == ["q", "newline"]
    if view == "data":
        assert 'text<&">' in text
        assert drawn.edge_set() == {(node_id(HOSTILE + "-db", HOSTILE),
                                     node_id(HOSTILE + "-db", "parent"))}
    if view == "sequence":
        assert 'SELECT "x" < 1 & 2' in text


@pytest.mark.parametrize("name", TEMPLATES)
def test_same_design_same_source(name: str) -> None:
    a, b = dk.template(name), dk.template(name)
    est_a, est_b = dk.estimate(a), dk.estimate(b)
    assert architecture(a, est_a, dk.assess(a)).source == \
        architecture(b, est_b, dk.assess(b)).source
    assert data(a).source == data(b).source
    for saga_name in a.sagas:
        assert saga(a, saga_name).source == saga(b, saga_name).source
    for ref, _ in a.endpoints():
        assert sequence(a, str(ref)).source == sequence(b, str(ref)).source
    assert to_svg(data(a)) == to_svg(data(b))


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_svg_parses(name: str) -> None:
    d = design(name)
    graphs = [architecture(d, dk.estimate(d), dk.assess(d)), data(d)]
    graphs += [saga(d, s) for s in d.sagas]
    graphs += [sequence(d, str(ref)) for ref, _ in d.endpoints()]
    for graph in graphs:
        root = svg_ok(to_svg(graph))
        assert root.tag.endswith("svg")


def test_font_sizes_are_readable() -> None:
    d = design("flash-sale")
    for graph in (architecture(d, dk.estimate(d), dk.assess(d)), data(d),
                  sequence(d, "checkout-api POST /v1/orders")):
        root = ET.fromstring(to_svg(graph))
        sizes = {float(e.attrib["font-size"]) for e in root.iter()
                 if "font-size" in e.attrib}
        assert sizes and min(sizes) >= 11


def test_missing_dot_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(dk.MissingDependencyError) as err:
        to_svg(data(design("flash-sale")))
    message = str(err.value)
    assert "\n" not in message and "apt install graphviz" in message
    assert "brew install graphviz" in message and "conda install" in message


def test_graphviz_is_imported_lazily() -> None:
    code = ("import sys, designkit, designkit.render.graphviz_views; "
            "print('graphviz' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_quoting_digraph_writes_the_packages_own_text(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Diagrams are built on a ``Digraph`` that quotes each text once: the DOT must be the
    graphviz package's own, character for character (hostile names included)."""
    import graphviz

    from designkit.render import graphviz_style

    design = dk.template("flash-sale")
    hostile = dk.Design(name=HOSTILE)
    hostile.service(HOSTILE).endpoint("GET /a").call("node", service_ms=1)
    hostile.database("node")
    drawn = [architecture(d, dk.estimate(d)).source for d in (design,)]
    drawn += [architecture(hostile).source, data(design).source]
    monkeypatch.setattr(graphviz_style, "_digraph", lambda: graphviz.Digraph)
    plain = [architecture(d, dk.estimate(d)).source for d in (design,)]
    plain += [architecture(hostile).source, data(design).source]
    assert drawn == plain
