"""Views of a design (``subset``): which components each kind of view keeps, that the view
is a valid design naming nothing it left out, and the message for designs too large to
draw."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import designkit as dk
from designkit.flow.subset import DRAW_LIMIT, subset, too_large_to_draw
from designkit.model.steps import CallStep, PublishStep, TransactionStep

SHOP = """\
designkit: 1
name: shop
components:
  gateway:
    kind: service
    zone: edge
    boundary: web
    endpoints:
      GET /items/{id}:
        steps:
        - call: catalog GET /items/{id}
      POST /orders:
        steps:
        - call: orders POST /orders
  catalog:
    kind: service
    zone: private
    boundary: catalog
    endpoints:
      GET /items/{id}:
        steps:
        - cache: catalog-cache
          on_miss:
          - call: catalog-db
            query: {table: items, where: [id]}
  catalog-cache: {kind: cache, zone: private, boundary: catalog}
  catalog-db:
    kind: database
    zone: private
    boundary: catalog
    tables:
      items:
        rows: 1000
        columns:
          id: {type: uuid, primary_key: true}
  orders:
    kind: service
    zone: private
    boundary: orders
    endpoints:
      POST /orders:
        steps:
        - transaction: orders-db
          steps:
          - call: orders-db
            query: {table: orders, kind: insert}
        - call: payments
        - publish: order-events
      DELETE /orders/{id}:
        steps:
        - call: orders-db
          query: {table: orders, kind: delete, where: [id]}
      GET /orders/{id}:
        steps:
        - call: orders-db
          query: {table: orders, where: [id]}
  orders-db:
    kind: database
    zone: private
    boundary: orders
    tables:
      orders:
        rows: 1000
        columns:
          id: {type: uuid, primary_key: true}
          item_id: {type: uuid, references: catalog-db.items.id}
  payments: {kind: external, latency_ms: {p50: 100, p95: 300}, timeout_ms: 1000}
  order-events: {kind: queue, zone: private, boundary: orders, handler: mailer POST /events}
  mailer:
    kind: service
    zone: private
    boundary: notify
    endpoints:
      POST /events:
        steps:
        - call: smtp
  smtp: {kind: external, latency_ms: {p50: 50, p95: 200}, timeout_ms: 1000}
sagas:
  checkout:
    steps:
    - name: order
      action: orders POST /orders
      compensation: orders DELETE /orders/{id}
workload:
  gateway GET /items/{id}: 100
  gateway POST /orders: 10
"""


@pytest.fixture
def shop() -> dk.Design:
    return dk.load(SHOP)


def names(design: dk.Design) -> set[str]:
    return set(design.components)


def test_a_component_keeps_its_callers_callees_and_the_handlers_of_its_messages(
        shop: dk.Design) -> None:
    view = subset(shop, "orders")
    assert names(view) == {"gateway", "orders", "orders-db", "payments", "order-events",
                           "mailer"}
    # Kept parts never name a left-out one: the caller's other call and the mailer's call
    # to smtp are gone, the foreign key into catalog-db is unset.
    gateway = view.components["gateway"]
    assert isinstance(gateway, dk.Service)
    assert gateway.endpoints["GET /items/{id}"].steps == []
    assert len(gateway.endpoints["POST /orders"].steps) == 1
    mailer = view.components["mailer"]
    assert isinstance(mailer, dk.Service) and mailer.endpoints["POST /events"].steps == []
    orders_db = view.components["orders-db"]
    assert isinstance(orders_db, dk.Database)
    assert orders_db.tables["orders"].columns["item_id"].references is None
    assert list(view.sagas) == ["checkout"] and view.workload == shop.workload
    assert view.name == "shop (orders)"


def test_a_queue_keeps_its_publishers_and_its_handler(shop: dk.Design) -> None:
    view = subset(shop, "order-events")
    assert names(view) == {"order-events", "orders", "mailer"}
    orders = view.components["orders"]
    assert isinstance(orders, dk.Service)
    # The transaction on the left-out orders-db gives way to its (left-out) steps.
    steps = orders.endpoints["POST /orders"].steps
    assert [type(s) for s in steps] == [PublishStep]
    assert view.workload == {}  # the gateway was left out


def test_the_callee_of_a_database_is_nothing_and_its_callers_are_kept(
        shop: dk.Design) -> None:
    assert names(subset(shop, "catalog-db")) == {"catalog-db", "catalog"}


def test_an_endpoint_keeps_what_it_reaches_through_calls_and_handlers(
        shop: dk.Design) -> None:
    view = subset(shop, "endpoint:gateway POST /orders")
    assert names(view) == {"gateway", "orders", "orders-db", "payments", "order-events",
                           "mailer", "smtp"}
    endpoints = {str(ref) for ref, _ in view.endpoints()}
    assert endpoints == {"gateway POST /orders", "orders POST /orders",
                         "mailer POST /events"}
    assert view.workload == {"gateway POST /orders": 10.0}
    assert view.sagas == {}  # its compensation (DELETE) was left out
    orders = view.components["orders"]
    assert isinstance(orders, dk.Service)
    steps = orders.endpoints["POST /orders"].steps
    assert [type(s) for s in steps] == [TransactionStep, CallStep, PublishStep]


def test_an_endpoint_reference_is_read_as_the_workload_reads_it(shop: dk.Design) -> None:
    assert names(subset(shop, "endpoint:gateway get /items/{id}")) == {
        "gateway", "catalog", "catalog-cache", "catalog-db"}


def test_a_zone_keeps_its_members_and_what_they_call(shop: dk.Design) -> None:
    assert names(subset(shop, "zone:private")) == names(shop) - {"gateway"}
    assert names(subset(shop, "zone:edge")) == {"gateway", "catalog", "orders"}


def test_a_boundary_keeps_its_members_and_what_they_call(shop: dk.Design) -> None:
    assert names(subset(shop, "boundary:catalog")) == {"catalog", "catalog-cache",
                                                       "catalog-db"}
    assert names(subset(shop, "boundary:orders")) == {"orders", "orders-db", "order-events",
                                                      "payments", "mailer"}


def test_every_view_of_every_template_is_a_valid_design_and_the_design_is_unchanged(
        ) -> None:
    for name in ("flash-sale", "payments-saga", "payments-monolith", "dashboard-slow"):
        design = dk.template(name)
        before = dk.dump(design)
        views = [*design.components, *(f"endpoint:{ref}" for ref, _ in design.endpoints())]
        views += sorted({f"{attr}:{value}" for c in design.components.values()
                         for attr in ("zone", "boundary")
                         if (value := getattr(c, attr, None)) is not None})
        for only in views:
            view = subset(design, only)
            assert view.problems() == [], only
            assert set(view.components) <= set(design.components)
        assert dk.dump(design) == before


def test_a_view_can_be_estimated_and_drawn(shop: dk.Design) -> None:
    view = subset(shop, "endpoint:gateway POST /orders")
    assert dk.estimate(view).endpoints["gateway POST /orders"].rps == 10.0


@pytest.mark.parametrize(("only", "suggested"), [
    ("ordres", "orders"),
    ("endpoint:gateway GET /item/{id}", "gateway GET /items/{id}"),
    ("zone:privte", "private"),
    ("boundary:order", "orders"),
])
def test_an_unknown_name_is_an_error_naming_the_nearest(shop: dk.Design, only: str,
                                                        suggested: str) -> None:
    with pytest.raises(dk.DesignkitError) as caught:
        subset(shop, only)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, dk.DesignError)
    problem = caught.value.problems[0]
    assert problem.path == "only" and suggested in problem.suggestions
    assert repr(suggested) in str(caught.value)  # "did you mean …?"


def test_a_name_like_nothing_says_what_a_view_is(shop: dk.Design) -> None:
    with pytest.raises(dk.DesignError, match=r"a view is NAME, endpoint:'svc METHOD /path'"):
        subset(shop, "xyzzy")


def _generated(components: int) -> dk.Design:
    path = Path(__file__).parents[2] / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    design: dk.Design = module.generated_design(components)
    return design


def test_a_generated_design_above_the_limit_is_too_large_to_draw_with_views_to_draw(
        ) -> None:
    design = _generated(DRAW_LIMIT + 60)
    assert len(design.components) > DRAW_LIMIT
    message = too_large_to_draw(design)
    assert message is not None
    assert f"{len(design.components):,} components, more than the {DRAW_LIMIT:,}" in message
    assert "--only endpoint:'svc-" in message and " GET /work'" in message
    assert "--only zone:NAME" in message  # generated designs state no zones
    component = message.split("for example --only ", 1)[1].split(" ", 1)[0]
    assert component in design.components
    # Each suggested view is one that subset() draws.
    endpoint = message.split("endpoint:'", 1)[1].split("'", 1)[0]
    assert len(subset(design, f"endpoint:{endpoint}").components) < DRAW_LIMIT
    assert len(subset(design, component).components) < DRAW_LIMIT


def test_a_generated_design_below_the_limit_is_drawn_whole() -> None:
    design = _generated(300)
    assert too_large_to_draw(design) is None
    assert too_large_to_draw(design, limit=len(design.components)) is None


def test_the_message_names_a_zone_whose_view_fits(shop: dk.Design) -> None:
    message = too_large_to_draw(shop, limit=6)
    assert message is not None
    assert "--only zone:edge (the zone and what it calls: 3 components)" in message
