"""``query_plans``: every database query of a design, handlers included, planned now and
after the days, read through the flow (the one walker)."""

from __future__ import annotations

import pytest

import designkit as dk


def design() -> dk.Design:
    d = dk.Design(name="p")
    db = d.database("db")
    t = db.table("orders", rows=1_000_000, growth_per_day=10_000)
    t.column("id", "uuid", primary_key=True).column("user_id", "uuid")
    api = d.service("api")
    ep = api.endpoint("GET /orders/{id}")
    ep.loop(3).call("db", query={"table": "orders", "where": ["id"]})
    ep.call("db", query={"table": "orders", "where": ["user_id"]}, service_ms=2.0)
    d.queue("events")
    d.service("worker").endpoint("POST /events").call(
        "db", query={"table": "orders", "kind": "insert"})
    d.set_load("api GET /orders/{id}", 10)
    return d


def test_every_query_of_every_endpoint_now_and_then() -> None:
    plans = dk.query_plans(design(), days=100)
    assert [(p.endpoint, p.place) for p in plans.plans] == [
        ("api GET /orders/{id}", "steps[0].loop.steps[0]"),
        ("api GET /orders/{id}", "steps[1]"),
        ("worker POST /events", "steps[0]")]
    loop, stated, insert = plans.plans
    assert (loop.now.path, loop.now.ms, loop.stated_ms) == ("btree (id)", 0.5, None)
    # a scan of 1 M rows now, 2 M after 100 days; the step's own time is what is used
    assert (stated.now.ms, stated.then.ms, stated.stated_ms) == (50.0, 100.0, 2.0)
    assert "(stated service_ms 2 ms is used)" in plans.rows()[1][-1]
    assert insert.now.access == "insert" and insert.kind == "insert"
    assert plans.to_dict()["plans"][1]["then"]["rows_read"] == pytest.approx(2_000_000)


def test_a_design_without_queries() -> None:
    plans = dk.query_plans(dk.Design(name="empty"))
    assert plans.plans == () and str(plans).startswith("no query")
    assert "<table>" in dk.query_plans(design())._repr_html_()
