"""The diagrams' view model: edge rates, consume edges, foreign-key cardinalities and
sequence nesting, each decided once — and Graphviz and Mermaid drawing the same numbers."""

from __future__ import annotations

import dataclasses
import re

import pytest

import designkit as dk
from designkit.model.steps import CacheStep, CallStep, LoopStep, ParallelStep
from designkit.render import graphviz_views as gv
from designkit.render import mermaid
from designkit.render.names import node_id
from designkit.render.sequence_text import milliseconds, response_label
from designkit.render.view import (
    RELATIONS,
    architecture_view,
    data_view,
    sequence_view,
)
from designkit.text import number
from tests.render.test_graphviz_views import layout
from tests.render.test_mermaid import parse_er, parse_flowchart

TEMPLATES = sorted(dk.templates())


def shop(direct_to_handler: float = 0.0) -> dk.Design:
    """A loop, a cache miss with a transaction in it, a call to a queue, a publish, the
    queue's handler, a unique and a nullable foreign key."""
    d = dk.Design(name="shop")
    api = d.service("api").endpoint("POST /orders")
    api.loop(3).call("db", service_ms=1, count=2)
    api.cache("c").transaction("db").call("db", service_ms=1, count=2)
    api.call("jobs")
    api.publish("jobs", count=2)
    d.service("worker").endpoint("POST /jobs").call("db", service_ms=1)
    d.cache("c", hit_ratio=0.9)
    d.queue("jobs", handler="worker POST /jobs")
    db = d.database("db")
    db.table("users").column("id", "uuid", primary_key=True)
    db.table("profiles").column("user_id", "uuid", references="users.id", unique=True,
                                nullable=False)
    db.table("orders").column("user_id", "uuid", references="users.id")  # nullable
    d.set_load("api POST /orders", 100)
    if direct_to_handler:
        d.set_load("worker POST /jobs", direct_to_handler)
    return d


# -- architecture --------------------------------------------------------------------------


def test_edge_rates_of_a_small_design() -> None:
    d = shop()
    view = architecture_view(d, dk.estimate(d))
    miss = 1 - 0.9
    assert view.estimated
    assert [e.key for e in view.edges] == [
        ("api", "db", "call"), ("api", "db", "transaction"), ("api", "c", "cache"),
        ("api", "jobs", "publish"), ("worker", "db", "call"), ("jobs", "worker", "consume")]
    expected = {
        ("api", "db", "call"): 100 * 3 * 2 + 100 * miss * 2,  # the loop, then the miss
        ("api", "db", "transaction"): 100 * miss,  # once per execution, not × count
        ("api", "c", "cache"): 100.0 * (1 + miss),  # every read, and a fill per miss
        ("api", "jobs", "publish"): 100 * 1 + 100 * 2,  # the call to the queue publishes
        ("worker", "db", "call"): 300.0,
        ("jobs", "worker", "consume"): 300.0,
    }
    assert view.rates == pytest.approx(expected, rel=1e-12)
    assert view.rate("api", "db", "call") == pytest.approx(620.0, rel=1e-12)
    assert view.rate("api", "nowhere", "call") == 0.0
    assert view.relations == ("call", "cache", "transaction", "publish", "consume")
    assert mermaid.edge_rates(d, dk.estimate(d)) == view.rates


def test_consume_carries_the_handlers_rate_else_the_messages_published() -> None:
    d = shop(direct_to_handler=50)
    estimate = dk.estimate(d)
    view = architecture_view(d, estimate)
    # the handler's estimated rate: 300 messages + 50 requests sent to it directly
    assert view.rate("jobs", "worker", "consume") == pytest.approx(350.0)
    assert view.rate("api", "jobs", "publish") == pytest.approx(300.0)
    # an estimate without the handler (a part of a larger design): the messages published
    partial = dataclasses.replace(estimate, endpoints={
        k: v for k, v in estimate.endpoints.items() if k != "worker POST /jobs"})
    assert architecture_view(d, partial).rate("jobs", "worker", "consume") == \
        pytest.approx(300.0)


def test_without_an_estimate_the_edges_are_the_same_with_no_rates() -> None:
    d = shop()
    estimated = architecture_view(d, dk.estimate(d))
    plain = architecture_view(d)
    assert not plain.estimated
    assert [e.key for e in plain.edges] == [e.key for e in estimated.edges]
    assert all(e.rate == 0.0 for e in plain.edges)
    assert all(n.load is None for n in plain.nodes)
    assert plain.utilization_max == d.policy.utilization_max


def test_the_edges_are_the_design_graphs_but_a_call_to_a_queue_is_a_publish() -> None:
    for name in TEMPLATES:
        d = dk.template(name)
        graph = [(str(u), str(v), str(a["relation"])) for u, v, a in d.graph().edges(data=True)]
        assert [e.key for e in architecture_view(d).edges] == list(dict.fromkeys(graph)), name
    d = shop()
    relations = {(u, v): a["relation"] for u, v, a in d.graph().edges(data=True)}
    assert relations[("api", "jobs")] in {"call", "publish"}  # the graph has both steps
    assert ("api", "jobs", "call") not in architecture_view(d).rates


def states(design: dk.Design) -> dict[str, str]:
    view = architecture_view(design, dk.estimate(design))
    return {n.name: n.load.state for n in view.nodes if n.load is not None}


def test_node_states() -> None:
    d = dk.template("flash-sale")
    assert states(d)["sku-lock"] == "idle"  # the lock-free path is the one loaded
    assert states(d)["stock-cache"] == "ok"
    d.workload["checkout-api POST /v1/orders-locked"] = d.workload.pop(
        "checkout-api POST /v1/orders")
    assert states(d)["sku-lock"] == "saturated"
    assert states(dk.template("dashboard-slow"))["app-db"] == "warning"  # 86 % ≥ 70 %


# -- Graphviz and Mermaid draw the view's numbers -------------------------------------------

_UNIT = {"calls": "call", "reads": "cache", "tx": "transaction", "locks": "lock"}


def graphviz_rates(design: dk.Design, estimate: dk.Estimate) -> dict[tuple[str, str, str], str]:
    """(tail id, head id, relation) → the number drawn, read from dot's layout."""
    out = {}
    for tail, head, label, _ in layout(gv.architecture(design, estimate)).edges:
        if tail.startswith("legend_"):
            continue
        m = re.fullmatch(r"(?:([a-z]+) )?([\d,.]+|∞)/s", label)
        assert m, label
        out[(tail, head, m.group(1) or "call")] = m.group(2)
    return out


def mermaid_rates(design: dk.Design, estimate: dk.Estimate) -> dict[tuple[str, str, str], str]:
    """(tail id, head id, relation) → the number written, read from the flowchart."""
    queues = {node_id(n) for n, c in design.components.items() if c.kind == "queue"}
    out = {}
    for tail, _, label, head in parse_flowchart(mermaid.architecture(design, estimate)).edges:
        assert label is not None
        m = re.fullmatch(r"([\d,.]+|∞) (calls|reads|tx|locks|msg)/s", label)
        assert m, label
        unit = m.group(2)
        relation = _UNIT.get(unit) or ("consume" if tail in queues else "publish")
        out[(tail, head, relation)] = m.group(1)
    return out


@pytest.mark.parametrize("name", [*TEMPLATES, "shop"])
def test_graphviz_and_mermaid_show_the_same_rate_for_each_edge(name: str) -> None:
    d = shop(direct_to_handler=50) if name == "shop" else dk.template(name)
    estimate = dk.estimate(d)
    view = architecture_view(d, estimate)
    expected = {(node_id(e.caller), node_id(e.target), e.relation): number(e.rate)
                for e in view.edges}
    assert graphviz_rates(d, estimate) == expected
    assert mermaid_rates(d, estimate) == expected


def test_every_relation_has_a_look_in_both_formats() -> None:
    assert tuple(gv._RELATIONS) == RELATIONS  # the Graphviz legend lists them in this order
    assert set(mermaid._UNITS) == set(RELATIONS)


def test_the_small_design_as_drawn() -> None:
    d = shop()
    drawn = mermaid_rates(d, dk.estimate(d))
    api, db, jobs = node_id("api"), node_id("db"), node_id("jobs")
    assert drawn[(api, db, "call")] == "620"
    assert drawn[(api, db, "transaction")] == "10"
    assert drawn[(api, jobs, "publish")] == "300"
    assert drawn[(jobs, node_id("worker"), "consume")] == "300"
    assert (api, jobs, "call") not in drawn
    assert set(RELATIONS) >= {relation for _, _, relation in drawn}


# -- data ----------------------------------------------------------------------------------


def test_foreign_key_cardinalities_are_decided_once() -> None:
    d = shop()
    d.components["db"].table("notes").column("order_id", "uuid", references="gone.id")
    view = data_view(d)
    ends = {(r.key.table, r.key.column): (r.referencing, r.referenced)
            for r in view.relationships}
    assert ends == {("profiles", "user_id"): ("zero-or-one", "exactly-one"),
                    ("orders", "user_id"): ("zero-or-many", "zero-or-one")}
    assert view.drawn("db", "profiles", "user_id")
    assert not view.drawn("db", "notes", "order_id")  # its table does not exist
    assert view.databases == ("db",)
    assert [t.name for t in view.tables] == ["users", "profiles", "orders", "notes"]


def test_graphviz_and_mermaid_draw_the_same_ends() -> None:
    d = shop()
    d.components["db"].table("notes").column("order_id", "uuid", references="gone.id")
    graphviz = {(t.split(":")[0], h.split(":")[0]): (a["arrowtail"], a["arrowhead"])
                for t, h, _, a in layout(gv.data(d)).edges}
    users = node_id("db", "users")
    assert graphviz == {(node_id("db", "profiles"), users): ("teeodot", "teetee"),
                        (node_id("db", "orders"), users): ("crowodot", "teeodot")}
    er = parse_er(mermaid.data(d))
    assert dict(zip([(a, b) for a, b, _ in er.relations], er.ends, strict=True)) == {
        (node_id("db", "profiles"), users): "|o--||",
        (node_id("db", "orders"), users): "}o--o|"}
    # a key to a missing table is listed on its column, not drawn
    assert "FK → gone.id" in gv.data(d).source


# -- sequence ------------------------------------------------------------------------------


def test_sequence_view_nests_the_sites_as_the_file_does() -> None:
    d = dk.Design(name="x")
    ep = d.service("api").endpoint("GET /a")
    ep.loop(2).call("db", service_ms=1)
    p = ep.parallel(2)
    p.branch(1).call("db", service_ms=1)
    ep.cache("c", hit_ratio=0.25)
    ep.cache("gone")
    d.database("db")
    d.cache("c")
    seq = sequence_view(d, "api get /a")
    top = seq.steps
    assert seq.participants == ("api", "db", "c", "gone")  # in the order first reached
    assert not seq.estimated and all(s.time is None for s in top)
    assert [type(s.site.step).__name__ for s in top] == [
        "LoopStep", "ParallelStep", "CacheStep", "CacheStep"]
    loop, par, cache, unknown = top
    assert isinstance(loop.site.step, LoopStep)
    assert [type(s.site.step) for s in loop.body] == [CallStep]
    assert isinstance(par.site.step, ParallelStep)
    assert [len(branch) for branch in par.lists] == [0, 1]  # the empty branch is kept
    assert isinstance(cache.site.step, CacheStep)
    assert (cache.hit, cache.body) == (0.25, ())
    assert unknown.hit is None  # no such cache: the ratio is not known
    text = mermaid.sequence(d, "api GET /a")
    assert "alt hit (25%)" in text and "else miss (75%)" in text
    assert "    alt hit\n" in text and "    else miss\n" in text
    source = gv.sequence(d, "api GET /a").source
    assert "[hit (25%)]" in source and "[miss (75%)]" in source
    assert "[hit]" in source and "[miss]" in source
    with pytest.raises(KeyError, match="GET /a"):
        sequence_view(d, "api GET /b")


@pytest.mark.parametrize("name", TEMPLATES)
def test_step_times_add_up_to_the_endpoints_mean(name: str) -> None:
    """Without parallel steps, lag + worker wait + cpu + the top-level steps' times is the
    estimate's mean of the endpoint: the diagrams' numbers are its terms."""
    d = dk.template(name)
    est = dk.estimate(d)
    for ref, _ in d.endpoints():
        seq = sequence_view(d, str(ref), est)
        assert seq.times is not None and seq.scale == 1.0
        assert all(s.time is not None for s in seq.steps)
        total = seq.times.lag_ms + seq.times.worker_wait_ms + seq.times.cpu_ms + sum(
            s.time.ms for s in seq.steps if s.time is not None)
        if str(ref) in est.endpoints:
            assert total == pytest.approx(est.endpoints[str(ref)].mean_ms, rel=1e-6), ref
        else:  # no traffic: no mean to show
            assert response_label(seq) == "response (no traffic in the estimate)"


def test_step_times_of_each_kind() -> None:
    d = dk.Design(name="kinds")
    d.database("db", cores=2)
    d.cache("c", hit_ratio=0.75, service_ms=0.5)
    d.lock("l", acquire_ms=0.25)
    d.external("pay", latency_ms=40, concurrency=8)
    ep = d.service("api", workers=32).endpoint("GET /a")
    ep.loop(4).call("db", service_ms=1)
    ep.cache("c").call("db", service_ms=3)
    ep.lock("l").call("pay")
    ep.call("other GET /b", count=2)
    d.service("other", workers=32).endpoint("GET /b", cpu_ms=5)
    d.set_load("api GET /a", 100)
    est = dk.estimate(d)
    loop, cache, lock, call = sequence_view(d, "api GET /a", est).steps
    pool, cpu = est.station("db pool api"), est.station("db cpu")
    assert loop.body[0].time is not None and loop.time is not None
    query = pool.wait_ms + cpu.wait_ms + 1.0  # outside a transaction: a connection first
    assert loop.body[0].time.ms == pytest.approx(query)
    assert loop.time.ms == pytest.approx(4 * query)
    read = est.station("c servers").wait_ms + 0.5
    miss = pool.wait_ms + cpu.wait_ms + 3.0
    assert cache.time is not None and cache.time.own_ms == pytest.approx(read)
    assert cache.time.ms == pytest.approx(read + 0.25 * (miss + read))  # a miss fills it
    acquire = est.station("l lock").wait_ms + 0.25
    assert lock.time is not None and lock.time.own_ms == pytest.approx(acquire)
    slot = est.station("pay concurrency").wait_ms
    assert lock.body[0].time is not None
    assert lock.body[0].time.ms == pytest.approx(40 + slot)  # no retries: one attempt
    assert lock.time.ms == pytest.approx(acquire + 40 + slot)
    assert call.time is not None
    assert call.time.ms == pytest.approx(2 * est.endpoints["other GET /b"].mean_ms)
    assert milliseconds(call.time.ms) == f"{number(call.time.ms)} ms"
