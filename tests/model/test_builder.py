"""The Python builder API builds the same objects as a design file, idempotently."""

from __future__ import annotations

import pytest

import designkit as dk

FILE = """\
designkit: 1
name: shop
components:
  api:
    kind: service
    replicas: 6
    workers: 32
    endpoints:
      POST /orders:
        cpu_ms: 2
        idempotency_key: true
        steps:
        - {call: stock-cache, op: DECR stock, service_ms: 0.1}
        - transaction: orders-db
          steps:
          - call: orders-db
            query: {table: orders, kind: insert}
        - publish: order-events
  stock-cache: {kind: cache, hit_ratio: 0.95}
  order-events: {kind: queue, partitions: 12}
  orders-db:
    kind: database
    cores: 8
    tables:
      orders:
        rows: 5000000
        columns:
          id: {type: uuid, primary_key: true}
          user_id: {type: uuid}
        indexes:
        - columns: [user_id]
workload:
  api POST /orders: 10000
"""


def build(design: dk.Design) -> dk.Design:
    """One notebook cell's worth of builder calls."""
    api = design.service("api", replicas=6, workers=32)
    order = api.endpoint("POST /orders", cpu_ms=2, idempotency_key=True)
    order.call("stock-cache", op="DECR stock", service_ms=0.1)
    order.transaction("orders-db").call("orders-db", query={"table": "orders", "kind": "insert"})
    order.publish("order-events")
    design.cache("stock-cache", hit_ratio=0.95)
    design.queue("order-events", partitions=12)
    db = design.database("orders-db", cores=8)
    db.table("orders", rows=5_000_000).column("id", "uuid", primary_key=True).column(
        "user_id", "uuid").index("user_id")
    design.set_load("api POST /orders", 10_000)
    return design


def test_builder_equals_file() -> None:
    assert build(dk.Design(name="shop")).validate() == dk.load(FILE)


def test_rerunning_the_cell_duplicates_nothing() -> None:
    once = build(dk.Design(name="shop"))
    twice = build(build(dk.Design(name="shop")))
    assert twice == once
    assert len(twice.endpoint("api POST /orders").steps) == 3
    assert len(twice["orders-db"].tables["orders"].indexes) == 1  # type: ignore[union-attr]


def test_updating_a_component_keeps_its_parts_and_identity() -> None:
    design = build(dk.Design(name="shop"))
    api = design.components["api"]
    again = design.service("api", replicas=10)
    assert again is api
    assert (again.replicas, again.workers, list(again.endpoints)) == (10, 32, ["POST /orders"])


def test_two_designs_share_nothing() -> None:
    first, second = dk.Design(name="a"), dk.Design(name="b")
    first.service("api").endpoint("GET /x").call("db", service_ms=1)
    assert second.components == {} and second.workload == {}
    assert dk.Design(name="c").policy == dk.Policy()


def test_builder_checks_fields_at_once() -> None:
    with pytest.raises(dk.DesignError) as info:
        dk.Design(name="x").service("api", replicas=0)
    assert [str(p) for p in info.value.problems] == ["components.api.replicas: must be ≥ 1, got 0"]


def test_builder_validate_lists_reference_problems() -> None:
    design = dk.Design(name="x")
    design.service("api").endpoint("GET /x").call("nowhere")
    with pytest.raises(dk.DesignError) as info:
        design.validate()
    assert str(info.value) == (
        "design 'x': 1 problem\n"
        '  components.api.endpoints."GET /x".steps[0].call: unknown component \'nowhere\'')


def test_every_step_kind_from_the_builder() -> None:
    design = dk.Design(name="steps")
    ep = design.service("api").endpoint("get /report")
    ep.loop(50).call("db", query={"table": "items", "where": ["id"]})
    ep.cache("c").call("db", service_ms=3)
    par = ep.parallel(2)
    par.branch(0).call("ext")
    par.branch(1).publish("q")
    ep.lock("l").call("db", service_ms=1)
    design.database("db").table("items", rows=10).column("id", "uuid")
    design.cache("c")
    design.queue("q")
    design.lock("l")
    design.external("ext", latency_ms={"p50": 120, "p95": 400}, circuit_breaker=True)
    assert [dk.step_kind(s) for s in design.endpoint("api GET /report").steps] == [
        "loop", "cache", "parallel", "lock"]
    assert dk.load(dk.dump(design.validate())) == design


def test_graph_has_components_and_call_edges() -> None:
    design = dk.load(FILE)
    graph = design.graph()
    assert dict(graph.nodes(data="kind")) == {
        "api": "service", "stock-cache": "cache", "order-events": "queue",
        "orders-db": "database"}
    assert sorted((u, v, d["relation"], d["path"]) for u, v, d in graph.edges(data=True)) == [
        ("api", "order-events", "publish", 'components.api.endpoints."POST /orders".steps[2]'),
        ("api", "orders-db", "call",
         'components.api.endpoints."POST /orders".steps[1].steps[0]'),
        ("api", "orders-db", "transaction", 'components.api.endpoints."POST /orders".steps[1]'),
        ("api", "stock-cache", "call", 'components.api.endpoints."POST /orders".steps[0]'),
    ]


def test_lookups_suggest_names() -> None:
    design = dk.load(FILE)
    with pytest.raises(KeyError, match="did you mean 'orders-db'"):
        design["orders-bd"]
    with pytest.raises(KeyError, match="did you mean 'api POST /orders'"):
        design.endpoint("api POST /order")


def test_rates_with_overrides_read_keys_as_the_workload_does() -> None:
    """``Design.rates(overrides)``: the given rates in place of the workload's, keys read as
    the workload's are, a schedule still adding its runs; every value a float."""
    d = dk.Design(name="x")
    d.service("api").endpoint("GET /a")
    d.service("api").endpoint("GET /b")
    d.set_load("api GET /a", 20)
    d.schedule = {"api GET /b": {"every_s": 0.5}}  # type: ignore[dict-item]
    assert d.rates() == {"api GET /a": 20.0, "api GET /b": 2.0}
    moved = d.rates({"api get  /b": 5, "api GET /a": 7})
    assert moved == {"api GET /a": 7.0, "api GET /b": 7.0}
    assert all(type(v) is float for v in moved.values())
    assert list(moved) == ["api GET /a", "api GET /b"]
    assert d.rates() == {"api GET /a": 20.0, "api GET /b": 2.0}  # (the design unchanged)

