"""The rules read the design's flow from the context: its steps are the flow's sites, the
flow is the one the estimator compiles (one build per review), and a flow compiled from
another design object is never read in place of the design's own."""

from __future__ import annotations

import datetime as dt

import designkit as dk
from designkit.assess.context import Context
from designkit.assess.rules import database

TODAY = dt.date(2026, 1, 1)


def shop(name: str) -> dk.Design:
    """A small design no other test compiles (its content is its own)."""
    d = dk.Design(name=name)
    d.database("db").table("orders", rows=1_000).column("id", "uuid", primary_key=True)
    d.external("psp", latency_ms=40, timeout_ms=200)
    ep = d.service("api").endpoint("POST /orders", timeout_ms=1_000)
    ep.call("psp").transaction("db").call("db", query={"table": "orders", "kind": "insert"})
    d.workload = {"api POST /orders": 10}
    return d


def test_the_steps_are_the_flow_sites_and_the_flow_is_the_estimators() -> None:
    design = shop("context-flow")
    ctx = Context(design, design.policy)
    assert ctx.steps is ctx.flow.sites
    assert [s.subject for s in ctx.steps] == [
        'components.api.endpoints."POST /orders".steps[0]',
        'components.api.endpoints."POST /orders".steps[1]',
        'components.api.endpoints."POST /orders".steps[1].steps[0]']
    assert ctx.flow is ctx._program.flow  # built once, for the estimate and the rules


def test_a_flow_compiled_from_another_design_object_is_not_read() -> None:
    first = shop("context-other-object")
    dk.estimate(first)  # compiled from ``first``, kept by its content
    first.components["api"].endpoints["POST /orders"].timeout_ms = 1.0  # type: ignore[union-attr]
    second = shop("context-other-object")  # the content compiled, another object
    ctx = Context(second, second.policy)
    assert ctx._program.flow.sites[0].endpoint is not ctx.endpoint_map[ctx.steps[0].ref], (
        "the estimator no longer keeps programs by content: this test checks nothing")
    assert all(site.endpoint is ctx.endpoint_map[site.ref] for site in ctx.steps)
    psp = dk.assess(second, today=TODAY).rule("DK-RES-004")[0]  # the call of psp
    assert psp.status is dk.Status.PASS and psp.message.endswith("the endpoint's own 1,000 ms")


def test_a_foreign_key_naming_its_own_database_is_this_schemas() -> None:
    found = {}
    for target in ("products.id", "db.products.id"):
        d = dk.Design(name="fk")
        db = d.database("db")
        db.table("products").column("id", "uuid", primary_key=True).column("name", "text")
        db.table("items").column("id", "uuid", primary_key=True) \
            .column("product_id", "uuid", references=target).column("product_name", "text")
        [finding] = [f for f in dk.assess(d, rules=[database.third_normal_form]).findings
                     if f.subject == "components.db.tables.items"]
        found[target] = (finding.status, finding.message)
    assert found["products.id"] == found["db.products.id"]
    assert found["products.id"][0] is dk.Status.FAIL
