"""Mermaid text of every view, for every template: parsed back with small regexes and
compared with the model; hostile names escaped; output deterministic.

When Node.js and the npm packages ``mermaid`` and ``jsdom`` are at hand, every diagram is
also parsed by Mermaid itself (``mermaid.parse``, no browser needed): point
``DESIGNKIT_MERMAID_MODULES`` at a ``node_modules`` folder holding both (for example after
``npm install --prefix .cache/mermaid mermaid jsdom``), or keep one at the repository root.
Otherwise that test skips and says why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import designkit as dk
from designkit.estimate.result import (
    Capacities,
    Capacity,
    ComponentEstimate,
    EndpointEstimate,
    Estimate,
)
from designkit.flow.build import walk_steps
from designkit.model.database import Database
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
from designkit.render import mermaid
from designkit.render.names import node_id
from designkit.render.sequence_text import milliseconds

TEMPLATES = sorted(dk.templates())
ENDPOINTS = [(name, str(ref)) for name in TEMPLATES for ref, _ in dk.template(name).endpoints()]
SAGAS = [(name, saga) for name in TEMPLATES for saga in dk.template(name).sagas]

ID = r"[A-Za-z][A-Za-z0-9_]*"
QUOTED = r'"[^"\n]*"'

# -- small parsers -------------------------------------------------------------------------

_SHAPES = {
    "service": ('["', '"]'),
    "database": ('[("', '")]'),
    "cache": ('{{"', '"}}'),
    "queue": ('>"', '"]'),
    "external": ('[/"', '"/]'),
    "lock": ('{"', '"}'),
}
_NODE = re.compile(rf'^\s*({ID})(\[\("|\{{\{{"|\[/"|\(\["|\["|>"|\{{")([^"\n]*)("\)\]|"\}}\}}|"/\]|"\]\)|"\]|"\}})$')
_SUBGRAPH = re.compile(rf'^\s*subgraph ({ID})\[({QUOTED})\]$')
_EDGE = re.compile(rf'^\s*({ID}) (-->|-\.->)(?:\|({QUOTED})\|)? ({ID})$')
_CLASS = re.compile(rf"^\s*class ({ID}(?:,{ID})*) ({ID})$")
_CLASSDEF = re.compile(rf"^\s*classDef ({ID}) [a-z-]+:[^\s]+(?: [^\s]+)?$")


@dataclass
class Flowchart:
    nodes: dict[str, tuple[str, str]]  # id → (opening bracket, label)
    subgraphs: dict[str, str]
    edges: list[tuple[str, str, str | None, str]]  # (a, arrow, label, b)
    classes: dict[str, set[str]]


@dataclass
class ER:
    entities: dict[str, str]
    attributes: dict[str, list[tuple[str, str, set[str], str | None]]]
    relations: list[tuple[str, str, str]]
    ends: list[str]  # each relation's crow's-foot marks, ``}o--||``


@dataclass
class Sequence:
    participants: dict[str, str]
    messages: list[tuple[str, str, str, str]]  # (a, arrow, b, label)
    blocks: list[tuple[str, str]]  # (keyword, label)


def parse_flowchart(text: str) -> Flowchart:
    """Nodes (id → (opening, label)), subgraphs, edges (a, arrow, label, b), classes; every
    line must be one of these or ``end``."""
    lines = text.split("\n")
    assert lines[0] == "flowchart LR"
    nodes: dict[str, tuple[str, str]] = {}
    subgraphs: dict[str, str] = {}
    edges: list[tuple[str, str, str | None, str]] = []
    classes: dict[str, set[str]] = {}
    depth = 0
    for line in lines[1:]:
        if m := _NODE.match(line):
            assert m.group(1) not in nodes, f"node declared twice: {line}"
            nodes[m.group(1)] = (m.group(2), m.group(3))
        elif m := _SUBGRAPH.match(line):
            subgraphs[m.group(1)] = m.group(2)
            depth += 1
        elif line.strip() == "end":
            depth -= 1
            assert depth >= 0, "end without subgraph"
        elif m := _EDGE.match(line):
            label = m.group(3)[1:-1] if m.group(3) else None
            edges.append((m.group(1), m.group(2), label, m.group(4)))
        elif m := _CLASS.match(line):
            classes.setdefault(m.group(2), set()).update(m.group(1).split(","))
        elif _CLASSDEF.match(line):
            pass
        else:
            raise AssertionError(f"unparsed flowchart line: {line!r}")
    assert depth == 0, "unbalanced subgraph/end"
    return Flowchart(nodes, subgraphs, edges, classes)


_ENTITY = re.compile(rf'^\s*({ID})\[({QUOTED})\]( \{{)?$')
_ATTRIBUTE = re.compile(r'^\s*([A-Za-z][A-Za-z0-9_\-\[\]()]*) ([A-Za-z][A-Za-z0-9_\-\[\]()]*)'
                        r'((?: (?:PK|FK|UK),?)*)(?: ("[^"\n]*"))?$')
_RELATION = re.compile(rf'^\s*({ID}) ((?:\}}o|\|o)--(?:\|\||o\|)) ({ID}) : ({QUOTED})$')


def parse_er(text: str) -> ER:
    lines = text.split("\n")
    assert lines[0] == "erDiagram"
    entities: dict[str, str] = {}
    attributes: dict[str, list[tuple[str, str, set[str], str | None]]] = {}
    relations: list[tuple[str, str, str]] = []
    ends: list[str] = []
    block: str | None = None
    for line in lines[1:]:
        if block is not None:
            if line.strip() == "}":
                block = None
                continue
            m = _ATTRIBUTE.match(line)
            assert m, f"unparsed attribute: {line!r}"
            assert m.group(2).lower() not in {"pk", "fk", "uk"}
            keys = {k.strip(", ") for k in m.group(3).split() if k.strip(", ")}
            attributes[block].append((m.group(1), m.group(2), keys, m.group(4)))
        elif m := _ENTITY.match(line):
            entities[m.group(1)] = m.group(2)[1:-1]
            attributes[m.group(1)] = []
            if m.group(3):
                block = m.group(1)
        elif m := _RELATION.match(line):
            relations.append((m.group(1), m.group(3), m.group(4)[1:-1]))
            ends.append(m.group(2))
        else:
            raise AssertionError(f"unparsed erDiagram line: {line!r}")
    assert block is None, "unclosed entity block"
    return ER(entities, attributes, relations, ends)


_PARTICIPANT = re.compile(rf"^\s*(participant|actor) ({ID}) as (.+)$")
_MESSAGE = re.compile(rf"^\s*({ID})(->>|-->>|-\))({ID}): (.+)$")
_OPENER = re.compile(r"^\s*(loop|alt|par|critical|rect|opt)(?: (.*))?$")
_MIDDLE = re.compile(r"^\s*(else|and|option)(?: (.*))?$")
_NOTE = re.compile(rf"^\s*Note (?:right of|left of|over) {ID}(?:,{ID})?: (.+)$")
_SEQ_TEXT = re.compile(r"(?:[^#;\n]|#\w+;)*")  # ';' ends a statement, '#' opens a comment


def parse_sequence(text: str) -> Sequence:
    lines = text.split("\n")
    assert lines[0] == "sequenceDiagram"
    participants: dict[str, str] = {}
    messages: list[tuple[str, str, str, str]] = []
    blocks: list[tuple[str, str]] = []
    stack: list[str] = []
    for line in lines[1:]:
        if m := _PARTICIPANT.match(line):
            assert m.group(2) not in participants
            participants[m.group(2)] = m.group(3)
            assert _SEQ_TEXT.fullmatch(m.group(3)), line
        elif m := _MESSAGE.match(line):
            messages.append((m.group(1), m.group(2), m.group(3), m.group(4)))
            assert _SEQ_TEXT.fullmatch(m.group(4)), line
        elif m := _OPENER.match(line):
            stack.append(m.group(1))
            blocks.append((m.group(1), m.group(2) or ""))
            assert _SEQ_TEXT.fullmatch(m.group(2) or ""), line
        elif m := _MIDDLE.match(line):
            assert stack and {"else": "alt", "and": "par", "option": "critical"}[
                m.group(1)] == stack[-1], f"{m.group(1)} outside its block"
            blocks.append((m.group(1), m.group(2) or ""))
        elif line.strip() == "end":
            assert stack, "end without a block"
            stack.pop()
        elif m := _NOTE.match(line):
            assert _SEQ_TEXT.fullmatch(m.group(1)), line
        else:
            raise AssertionError(f"unparsed sequence line: {line!r}")
    assert not stack, f"unclosed blocks: {stack}"
    for a, _, b, _ in messages:
        assert a in participants and b in participants, "message to an undeclared participant"
    return Sequence(participants, messages, blocks)


def unescape(label: str) -> str:
    """A label as Mermaid shows it (entity codes decoded, ``<br/>`` as a newline)."""
    named = {"quot": '"', "lt": "<", "gt": ">", "amp": "&"}

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        return chr(int(code)) if code.isdigit() else named[code]

    return re.sub(r"#(\w+);", one, label.replace("<br/>", "\n"))


# -- architecture --------------------------------------------------------------------------


def graph_edges(design: dk.Design) -> set[tuple[str, str, str]]:
    return {(u, v, e["relation"]) for u, v, e in design.graph().edges(data=True)}


@pytest.mark.parametrize("name", TEMPLATES)
def test_architecture_every_component_is_a_node_and_every_relation_an_edge(name: str) -> None:
    design = dk.template(name)
    text = mermaid.architecture(design)
    assert text.startswith("flowchart LR\n")
    parsed = parse_flowchart(text)
    nodes = parsed.nodes
    assert set(nodes) == {node_id(n) for n in design.components}
    for component_name, component in design.components.items():
        opening, label = nodes[node_id(component_name)]
        assert opening == _SHAPES[component.kind][0], component.kind
        assert unescape(label).split("\n")[0] == component_name
    expected = graph_edges(design)
    edges = parsed.edges
    assert len(edges) == len(expected), "one edge per (caller, target, relation)"
    assert {(a, label, b) for a, _, label, b in edges} == {
        (node_id(u), rel, node_id(v)) for u, v, rel in expected}
    for a, arrow, relation, _ in edges:
        assert (arrow == "-.->") == (relation in {"publish", "consume"}), (a, relation)
    classes = parsed.classes
    for kind in dk.model.KINDS:
        members = {node_id(n) for n, c in design.components.items() if c.kind == kind}
        assert classes.get(kind, set()) == members
    # zones and boundaries become subgraphs
    subgraphs = parsed.subgraphs
    groups = {c.zone for c in design.components.values()} | {
        c.boundary for c in design.components.values()}
    assert len(subgraphs) >= len(groups - {None})


@pytest.mark.parametrize("name", TEMPLATES)
def test_architecture_with_an_estimate_shows_rates_and_utilization(name: str) -> None:
    design = dk.template(name)
    estimate = dk.estimate(design)
    text = mermaid.architecture(design, estimate)
    parsed = parse_flowchart(text)
    edges = parsed.edges
    rates = mermaid.edge_rates(design, estimate)
    for _, _, label, _ in edges:
        assert label is not None
        assert re.fullmatch(r"[\d,.]+ (calls|tx|locks|reads|msg)/s", label), label
    # the rate on each edge is the attribution's
    by_id = {(node_id(u), node_id(v), rel): r for (u, v, rel), r in rates.items()}
    units = {"call": "calls/s", "transaction": "tx/s", "lock": "locks/s", "cache": "reads/s",
             "publish": "msg/s", "consume": "msg/s"}
    for u, v, rel in graph_edges(design):
        rate = by_id.get((node_id(u), node_id(v), rel), 0.0)
        label = next(lb for a, _, lb, b in edges if (a, b) == (node_id(u), node_id(v))
                     and lb is not None and lb.endswith(units[rel]))
        shown = float(label.split()[0].replace(",", ""))
        assert shown == pytest.approx(rate, rel=0.01, abs=0.01), (u, v, rel)
    classes = parsed.classes
    limit = design.policy.utilization_max
    for component_name, c in estimate.components.items():
        state = ("saturated" if c.saturated or c.utilization >= 1 else
                 "warning" if c.utilization >= limit else
                 "idle" if c.arrival_rps == 0 and c.utilization == 0 else "ok")
        assert node_id(component_name) in classes[state], (component_name, state)
        others = {"ok", "warning", "saturated", "idle"} - {state}
        assert all(node_id(component_name) not in classes.get(o, set()) for o in others)


def test_idle_components_get_the_no_traffic_class() -> None:
    """An idle component is drawn "no traffic" in its own class, as Graphviz fills it
    white; the class and its legend entry appear only when a component is idle."""
    design = dk.template("flash-sale")  # sku-lock: only the unused locked endpoint takes it
    parsed = parse_flowchart(mermaid.architecture(design, dk.estimate(design)))
    lock = node_id("sku-lock")
    assert unescape(parsed.nodes[lock][1]).split("\n")[-1] == "no traffic"
    assert parsed.classes["idle"] == {lock, node_id("legend", "idle")}
    assert lock not in parsed.classes["ok"]
    assert unescape(parsed.nodes[node_id("legend", "idle")][1]) == "no traffic"
    busy = dk.template("dashboard-slow")  # every component loaded: no idle class
    text = mermaid.architecture(busy, dk.estimate(busy))
    assert "idle" not in text and "no traffic" not in text


def test_external_without_a_concurrency_limit_shows_calls_and_latency() -> None:
    d = dk.Design(name="ext")
    d.external("open", latency_ms={"p50": 120, "p95": 400})
    d.service("api", workers=32).endpoint("POST /pay").call("open")
    d.set_load("api POST /pay", 40)
    parsed = parse_flowchart(mermaid.architecture(d, dk.estimate(d)))
    label = unescape(parsed.nodes[node_id("open")][1]).split("\n")
    assert label == ["open", "external API", "40 calls/s · latency p50 120 ms / p95 400 ms"]
    for state in ("ok", "warning", "saturated", "idle"):  # no utilization, no colour of it
        assert node_id("open") not in parsed.classes.get(state, set())
    assert node_id("open") in parsed.classes["external"]


@pytest.mark.parametrize(("name", "ref"), ENDPOINTS)
def test_timed_sequence_says_what_its_numbers_are(name: str, ref: str) -> None:
    design = dk.template(name)
    estimate = dk.estimate(design)
    text = mermaid.sequence(design, ref, estimate)
    parsed = parse_sequence(text)
    lines = text.split("\n")
    assert lines[len(parsed.participants) + 1].strip().startswith("Note over client_")
    assert "times: mean of one run of each step, estimated at 1× workload" in text
    assert "Note right of" in lines[len(parsed.participants) + 3]  # worker wait · cpu
    assert "worker wait " in lines[len(parsed.participants) + 3]
    key = str(EndpointRef.parse(ref))
    last = unescape(parsed.messages[-1][3])
    if key in estimate.endpoints:
        assert last == f"response · mean {milliseconds(estimate.endpoints[key].mean_ms)}"
    else:
        assert last == "response (no traffic in the estimate)"
    # every message the service sends for a step carries its time, but the closing ones
    for *_, label in parsed.messages[1:-1]:
        shown = unescape(label)
        assert (" ms" in shown) != (shown in {"COMMIT", "release", "SET (fill)"}), shown
    # without an estimate nothing changes but the numbers
    plain = mermaid.sequence(design, ref)
    assert " ms" not in plain and "Note over" not in plain


def test_edge_rates_follow_counts_loops_and_cache_misses() -> None:
    design = dk.template("dashboard-slow")
    estimate = dk.estimate(design)
    rates = mermaid.edge_rates(design, estimate)
    # the N+1 loop: every query of both endpoints, the loop's 50 included, reaches app-db
    calls = rates[("dashboard-api", "app-db", "call")]
    assert calls == pytest.approx(estimate.components["app-db"].arrival_rps, rel=1e-6)

    fixed = dk.template("dashboard-fixed")
    est = dk.estimate(fixed)
    r = mermaid.edge_rates(fixed, est)
    assert r[("dashboard-api", "dashboard-cache", "cache")] == pytest.approx(
        est.components["dashboard-cache"].arrival_rps)
    assert r[("dashboard-api", "app-db", "call")] == pytest.approx(
        est.components["app-db"].arrival_rps)


def test_edge_rates_on_a_small_design() -> None:
    d = dk.Design(name="x")
    _ = d.cache("c", hit_ratio=0.9)
    _ = d.queue("q", handler="worker POST /jobs")
    _ = d.database("db").table("t").column("id", "uuid", primary_key=True)
    ep = d.service("api").endpoint("GET /a")
    ep.loop(3).call("db", service_ms=1, count=2)
    ep.cache("c").call("db", service_ms=1)
    ep.publish("q", count=2)
    d.service("worker").endpoint("POST /jobs").call("db", service_ms=1)
    d.set_load("api GET /a", 100)
    rates = mermaid.edge_rates(d, dk.estimate(d))
    assert rates[("api", "db", "call")] == pytest.approx(100 * 3 * 2 + 100 * 0.1)
    assert rates[("api", "c", "cache")] == pytest.approx(110)  # reads, and fills on misses
    assert rates[("api", "q", "publish")] == pytest.approx(200)
    assert rates[("q", "worker", "consume")] == pytest.approx(200)
    assert rates[("worker", "db", "call")] == pytest.approx(200)


def test_saturated_and_warning_nodes_are_marked() -> None:
    design = dk.template("flash-sale")
    estimate = dk.estimate(design, workload={"checkout-api POST /v1/orders-locked": 10_000})
    text = mermaid.architecture(design, estimate)
    classes = parse_flowchart(text).classes
    assert node_id("sku-lock") in classes["saturated"]
    assert "SATURATED" in text
    slow = dk.template("dashboard-slow")
    classes = parse_flowchart(mermaid.architecture(slow, dk.estimate(slow))).classes
    assert node_id("app-db") in classes["warning"]  # 86 % ≥ the policy's 70 %
    # a legend explains the colours
    assert "utilization" in text and "saturated" in text


# -- data ----------------------------------------------------------------------------------


def foreign_keys(design: dk.Design) -> list[tuple[str, str, str]]:
    out = []
    for db_name, db in design.components.items():
        if not isinstance(db, Database):
            continue
        for table_name, table in db.tables.items():
            for column_name, column in table.columns.items():
                if column.references:
                    parts = column.references.split(".")
                    target = (db_name, *parts[:1]) if len(parts) == 2 else tuple(parts[:2])
                    out.append((node_id(db_name, table_name), node_id(*target), column_name))
    return out


@pytest.mark.parametrize("name", TEMPLATES)
def test_data_every_table_is_an_entity_and_every_fk_a_relationship(name: str) -> None:
    design = dk.template(name)
    text = mermaid.data(design)
    assert text.startswith("erDiagram")
    parsed = parse_er(text)
    entities, attributes = parsed.entities, parsed.attributes
    tables = {(db_name, t): table for db_name, db in design.components.items()
              if isinstance(db, Database) for t, table in db.tables.items()}
    assert set(entities) == {node_id(db, t) for db, t in tables}
    several = len({db for db, _ in tables}) > 1
    for (db_name, table_name), table in tables.items():
        entity = node_id(db_name, table_name)
        assert unescape(entities[entity]) == (f"{db_name}.{table_name}" if several
                                              else table_name)
        attrs = attributes[entity]
        assert [a[1] for a in attrs] == list(table.columns)
        for (_, _, keys, _), column in zip(attrs, table.columns.values(), strict=True):
            assert ("PK" in keys) == column.primary_key
            assert ("FK" in keys) == (column.references is not None)
    assert sorted(parsed.relations) == sorted(foreign_keys(design))


def test_data_shows_indexes_and_odd_types() -> None:
    d = dk.Design(name="x")
    t = d.database("db").table("t")
    t.column("id", "uuid", primary_key=True).column("amount", "numeric(10,2)")
    t.column("pk", "double precision", unique=True).column("user id", "uuid")
    t.index("amount", "pk", unique=True)
    parsed = parse_er(mermaid.data(d))
    attributes = parsed.attributes
    attrs = {a[1]: a for a in attributes[node_id("db", "t")]}
    assert set(attrs) == {"id", "amount", "pk_", "user_id"}
    assert attrs["pk_"][0] == "double_precision" and attrs["pk_"][2] == {"UK"}
    assert "type double precision" in unescape(attrs["pk_"][3] or "")
    assert "unique index (amount, pk)" in unescape(attrs["amount"][3] or "")
    assert "column user id" in unescape(attrs["user_id"][3] or "")


# -- saga ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "saga_name"), SAGAS)
def test_saga_every_step_and_compensation_appears(name: str, saga_name: str) -> None:
    design = dk.template(name)
    saga = design.sagas[saga_name]
    text = mermaid.saga(design, saga_name)
    assert text.startswith("flowchart LR\n")
    parsed = parse_flowchart(text)
    nodes, edges, classes = parsed.nodes, parsed.edges, parsed.classes
    step_ids = [node_id(saga_name, "step", s.name) for s in saga.steps]
    for step, sid in zip(saga.steps, step_ids, strict=True):
        assert sid in nodes
        assert step.action in unescape(nodes[sid][1])
        if step.compensation:
            uid = node_id(saga_name, "undo", step.name)
            assert step.compensation in unescape(nodes[uid][1])
            assert (sid, "-.->", "undo", uid) in edges
    solid = [(a, b) for a, arrow, _, b in edges if arrow == "-->"]
    assert [b for _, b in solid][:-1] == step_ids  # in order, then "done"
    undo = [node_id(saga_name, "undo", s.name) for s in saga.steps if s.compensation]
    chain = [(a, b) for a, arrow, label, b in edges if arrow == "-.->" and label is None]
    assert chain == list(zip(undo[1:], undo[:-1], strict=True))  # reverse order
    pivots = [sid for s, sid in zip(saga.steps, step_ids, strict=True) if s.pivot]
    assert classes.get("pivot", set()) == set(pivots)
    for sid in pivots:
        assert nodes[sid][0] == '{{"' and "pivot" in nodes[sid][1]


def test_saga_unknown_name() -> None:
    with pytest.raises(KeyError, match="place-order"):
        mermaid.saga(dk.template("payments-saga"), "place-ordr")


# -- sequence ------------------------------------------------------------------------------

_SYNTHETIC = {"BEGIN", "COMMIT", "acquire", "release", "SET (fill)"}


@pytest.mark.parametrize(("name", "ref"), ENDPOINTS)
def test_sequence_every_call_appears(name: str, ref: str) -> None:
    design = dk.template(name)
    endpoint = design.endpoint(ref)
    parsed_ref = EndpointRef.parse(ref)
    assert parsed_ref is not None
    text = mermaid.sequence(design, ref)
    assert text.startswith("sequenceDiagram\n")
    parsed = parse_sequence(text)
    participants, messages, blocks = (parsed.participants, parsed.messages,
                                      parsed.blocks)
    service = node_id(parsed_ref.service)
    assert service in participants
    steps = [s for _, s in walk_steps(endpoint.steps, ())]
    expected: list[tuple[str, str]] = []
    for step in steps:
        if isinstance(step, CallStep):
            callee = EndpointRef.parse(step.call)
            target = callee.service if callee else step.call
            kind = getattr(design.components.get(target), "kind", None)
            arrow = "-)" if callee is None and kind == "queue" else "->>"
            expected.append((arrow, node_id(target)))
            assert unescape(participants[node_id(target)]) == target
            label = next(m[3] for m in messages if m[2] == node_id(target))
            assert label
        elif isinstance(step, PublishStep):
            expected.append(("-)", node_id(step.publish)))
        elif isinstance(step, CacheStep):
            expected.append(("->>", node_id(step.cache)))
    actual = [(arrow, b) for a, arrow, b, label in messages
              if a == service and arrow != "-->>" and unescape(label) not in _SYNTHETIC]
    assert actual == expected
    kinds = Counter(kind for kind, _ in blocks)
    assert kinds["loop"] == sum(isinstance(s, LoopStep) for s in steps)
    assert kinds["alt"] == kinds["else"] == sum(isinstance(s, CacheStep) for s in steps)
    assert kinds["critical"] == sum(isinstance(s, TransactionStep | LockStep) for s in steps)
    pars = [s for s in steps if isinstance(s, ParallelStep)]
    assert kinds["par"] == len(pars)
    assert kinds["and"] == sum(len(p.parallel) - 1 for p in pars)
    for kind, label in blocks:
        if kind == "alt":
            assert re.fullmatch(r"hit \([\d.]+%\)", label), label
        if kind == "loop":
            assert re.fullmatch(r"[\d.]+×", label), label
    # the client asks, the service answers
    client = next(p for p, label in participants.items() if label == "client")
    assert messages[0][:3] == (client, "->>", service)
    assert unescape(messages[0][3]) == parsed_ref.key
    assert messages[-1][:3] == (service, "-->>", client)


def test_sequence_of_every_construct() -> None:
    d = dk.Design(name="x")
    _ = d.cache("c", hit_ratio=0.9)
    _ = d.queue("q")
    _ = d.lock("l")
    _ = d.database("db").table("t").column("id", "uuid", primary_key=True)
    _ = d.service("other").endpoint("GET /o")
    ep = d.service("api").endpoint("POST /a")
    par = ep.parallel(3)
    par.branch(0).call("other GET /o")
    par.branch(1).call("c", op="GET k")
    ep.loop(2.5).call("db", query={"table": "t", "where": ["id"], "batch": 10})
    ep.cache("c", hit_ratio=0.75).call("db", service_ms=1)
    ep.lock("l").transaction("db").call("db", query={"table": "t", "kind": "insert"},
                                        count=2)
    ep.publish("q", outbox=True)
    text = mermaid.sequence(d, "api post /a")
    parsed = parse_sequence(text)
    blocks = parsed.blocks
    assert [k for k, _ in blocks] == ["par", "and", "and", "loop", "alt", "else", "critical",
                                      "critical"]
    assert ("alt", "hit (75%)") in blocks and ("else", "miss (25%)") in blocks
    assert ("loop", "2.5×") in blocks
    assert "SELECT t WHERE id IN (10 keys)" in text
    assert "INSERT t ×2" in text
    assert "-)" + node_id("q") + ": publish via outbox" in text
    assert "->>" + node_id("other") + ": GET /o" in text
    # empty parallel branch still parses; the participants come in the order first reached
    participants = parsed.participants
    assert [unescape(v) for v in participants.values()] == [
        "client", "api", "other", "c", "db", "l", "q"]


def test_sequence_unknown_endpoint() -> None:
    with pytest.raises(KeyError):
        mermaid.sequence(dk.template("flash-sale"), "checkout-api GET /nope")


# -- hostile names -------------------------------------------------------------------------

HOSTILE = 'x"y <b>&amp; #1; 50%% a;b `c` \\d direction LR {e} [f] (g) |h|\nnext'


def hostile_design() -> dk.Design:
    """Names with quotes, markup, entities, comment markers, brackets and newlines
    (invalid as component names, but a renderer must not break on them), and names that
    start like Mermaid keywords."""
    d = dk.Design(name=HOSTILE)
    svc = d.service("end", boundary=HOSTILE, zone=HOSTILE)
    _ = d.database(HOSTILE, boundary=HOSTILE, zone="style")
    _ = d.database("one", zone=HOSTILE)
    _ = d.cache("style", boundary="end")
    _ = d.queue("class")
    _ = d.external("default")
    _ = d.lock("graph")
    t = d.components[HOSTILE]
    assert isinstance(t, Database)
    t.table(HOSTILE).column("pk", HOSTILE, primary_key=True).column(
        "fk", "uuid", references="one.to.id").column(HOSTILE, "text")
    t.table(HOSTILE).index(HOSTILE, unique=True)
    one = d.components["one"]
    assert isinstance(one, Database)
    one.table("to").column("id", "uuid", primary_key=True).column(
        "back", "uuid", references=f"{HOSTILE}.{HOSTILE}.pk")
    ep = svc.endpoint("POST /x")
    ep.call(HOSTILE, op=HOSTILE, service_ms=1)
    ep.cache("style", op=HOSTILE).call("one", service_ms=1)
    ep.lock("graph").transaction(HOSTILE).call(HOSTILE, service_ms=1)
    ep.loop(2).call("default", op="%%;#")
    ep.publish("class")
    par = ep.parallel(2)
    par.branch(0).call("default")
    par.branch(1).call("end POST /x")
    d.saga(HOSTILE).step(HOSTILE, "end POST /x", compensation="end POST /x").step(
        "end", "end POST /x", pivot=True).step("style", "end POST /x")
    return d


def hostile_estimate(design: dk.Design) -> Estimate:
    """A hand-made estimate (a hostile design does not validate, so cannot be estimated)."""
    utilization = {"end": 0.1, HOSTILE: 0.8, "one": float("inf"), "style": 0.5, "class": 0.0,
                   "default": 0.3, "graph": 1.0}
    components = {name: ComponentEstimate(kind=c.kind, arrival_rps=10.0,
                                          utilization=utilization[name],
                                          saturated=utilization[name] >= 1, stations={})
                  for name, c in design.components.items()}
    return Estimate(design=design.name, scale=1.0, days=0.0, scenario="hostile",
                    endpoints={"end POST /x": EndpointEstimate(5, 1, 1, 1, 1, False)},
                    components=components,
                    capacity=Capacities(Capacity(None, None, 1.0)))


def hostile_views() -> dict[str, str]:
    d = hostile_design()
    return {
        "architecture": mermaid.architecture(d),
        "architecture-estimate": mermaid.architecture(d, hostile_estimate(d)),
        "data": mermaid.data(d),
        "saga": mermaid.saga(d, HOSTILE),
        "sequence": mermaid.sequence(d, "end POST /x"),
    }


def assert_sequence_labels_escaped(text: str) -> None:
    """Sequence labels are unquoted, after ``as``, ``:`` or a block keyword: they hold no
    raw markup, ``;`` (a statement end) or ``#`` (a comment) — entity codes only."""
    for line in text.split("\n")[1:]:
        m = re.match(rf"^\s*(?:(?:participant|actor) {ID} as |[^:]*: |\w+ ?)(.*)$", line)
        assert m, line
        label = m.group(1)
        assert _SEQ_TEXT.fullmatch(label), line
        assert "<" not in label.replace("<br/>", "") and ">" not in label.replace("<br/>", "")
        assert "&" not in label and "`" not in label and "%%" not in label, label


def assert_labels_escaped(text: str) -> None:
    """Every quoted label closes on its line, holds no raw markup, and outside the quotes
    only ids, arrows and brackets remain, balanced."""
    if text.startswith("sequenceDiagram"):
        assert_sequence_labels_escaped(text)
        return
    pairs = {"[": "]", "(": ")", "{": "}"}
    for line in text.split("\n"):
        assert line.count('"') % 2 == 0, f"unbalanced quotes: {line!r}"
        for label in re.findall(r'"([^"]*)"', line):
            assert "<" not in label.replace("<br/>", ""), label
            assert ">" not in label.replace("<br/>", ""), label
            assert "&" not in label and "`" not in label and "%%" not in label, label
            assert "direction " not in label, label
        outside = re.sub(r'"[^"]*"', "", line)
        if outside.strip() == "}" or outside.endswith(" {"):  # an ER entity's block
            outside = outside.rstrip("{} ")
        outside = re.sub(r"-\.->|-->>|->>|-->|-\)|(?:\}o|\|o)--(?:\|\||o\|)|\|\|", " ", outside)
        stack: list[str] = []
        for ch in outside:
            if ch in pairs:
                stack.append(pairs[ch])
            elif ch in pairs.values() or ch == ">":
                if ch == ">" and not stack:  # the queue shape opens with '>'
                    stack.append("]")
                    continue
                assert stack and stack.pop() == ch, f"unbalanced brackets: {line!r}"
        assert not stack, f"unbalanced brackets: {line!r}"


def test_hostile_names_are_escaped() -> None:
    views = hostile_views()
    for view, text in views.items():
        assert "\r" not in text
        if view.startswith("architecture") or view == "saga":
            labels = [unescape(label) for _, label in parse_flowchart(text).nodes.values()]
            assert any(HOSTILE in label for label in labels)
        elif view == "data":
            er = parse_er(text)
            assert f"{HOSTILE}.{HOSTILE}" in {unescape(e) for e in er.entities.values()}
            assert len(er.relations) == 2
        else:
            participants = parse_sequence(text).participants
            assert HOSTILE in {unescape(p) for p in participants.values()}
        assert_labels_escaped(text)
    # every id is a plain identifier, never the raw name
    for text in views.values():
        for token in re.findall(r"^\s*([^\s\[\](){}>\"|:=-]+)", text, re.M):
            assert re.fullmatch(ID, token), token


def test_hostile_architecture_structure() -> None:
    d = hostile_design()
    parsed = parse_flowchart(mermaid.architecture(d, hostile_estimate(d)))
    nodes, classes = parsed.nodes, parsed.classes
    assert {node_id(n) for n in d.components} <= set(nodes)
    assert node_id("one") in classes["saturated"]  # inf utilization
    assert node_id("graph") in classes["saturated"]  # exactly 100 %
    assert node_id(HOSTILE) in classes["warning"]


# -- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_deterministic(name: str) -> None:
    def views(design: dk.Design) -> list[str]:
        out = [mermaid.architecture(design), mermaid.data(design),
               mermaid.architecture(design, dk.estimate(design))]
        out += [mermaid.saga(design, s) for s in design.sagas]
        out += [mermaid.sequence(design, str(r)) for r, _ in design.endpoints()]
        return out

    first = views(dk.template(name))
    again = views(dk.load(dk.template_path(name)))
    assert first == again
    assert all("0x" not in text for text in first)
    assert hostile_views() == hostile_views()


# -- Mermaid's own parser (optional) -------------------------------------------------------

_PARSE_JS = r"""
const { createRequire } = require('module');
const { pathToFileURL } = require('url');
const fs = require('fs');
const req = createRequire(process.argv[2] + '/');
(async () => {
  const { JSDOM } = req('jsdom');
  const dom = new JSDOM('<!DOCTYPE html><body></body>');
  globalThis.window = dom.window;
  globalThis.document = dom.window.document;
  globalThis.DOMParser = dom.window.DOMParser;
  globalThis.Element = dom.window.Element;
  const mermaid = (await import(pathToFileURL(req.resolve('mermaid')).href)).default;
  mermaid.initialize({ startOnLoad: false });
  const texts = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const out = {};
  for (const [key, text] of Object.entries(texts)) {
    try { const r = await mermaid.parse(text); out[key] = 'ok ' + r.diagramType; }
    catch (e) { out[key] = 'error ' + String((e && e.message) || e); }
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(2); });
"""


def _mermaid_modules() -> Path | None:
    candidates = [os.environ.get("DESIGNKIT_MERMAID_MODULES", ""),
                  str(Path(__file__).parents[2] / "node_modules"),
                  str(Path(__file__).parents[2] / ".cache" / "mermaid" / "node_modules")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "mermaid").is_dir() and \
                (Path(candidate) / "jsdom").is_dir():
            return Path(candidate)
    return None


def test_mermaid_parses_every_diagram(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: Mermaid's own parser cannot run")
    modules = _mermaid_modules()
    if modules is None:
        pytest.skip("npm packages mermaid and jsdom not found: set DESIGNKIT_MERMAID_MODULES "
                    "to a node_modules holding both (npm install mermaid jsdom)")
    texts: dict[str, str] = {}
    for name in TEMPLATES:
        design = dk.template(name)
        texts[f"{name} architecture"] = mermaid.architecture(design)
        texts[f"{name} architecture+estimate"] = mermaid.architecture(
            design, dk.estimate(design))
        texts[f"{name} data"] = mermaid.data(design)
        for saga in design.sagas:
            texts[f"{name} saga {saga}"] = mermaid.saga(design, saga)
        for ref, _ in design.endpoints():
            texts[f"{name} sequence {ref}"] = mermaid.sequence(design, str(ref))
    for view, text in hostile_views().items():
        texts[f"hostile {view}"] = text
    source = tmp_path / "texts.json"
    source.write_text(json.dumps(texts), encoding="utf-8")
    script = tmp_path / "parse.cjs"
    script.write_text(_PARSE_JS, encoding="utf-8")
    done = subprocess.run([node, str(script), str(modules), str(source)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    expected_type = {"architecture": "flowchart", "data": "er", "saga": "flowchart",
                     "sequence": "sequence"}
    failures = {k: v for k, v in results.items() if not v.startswith("ok ")}
    assert not failures, json.dumps(failures, indent=1)
    for key, result in results.items():
        view = re.sub(r"\W.*", "", key.split()[1])
        assert result.split()[1].startswith(expected_type[view]), (key, result)
