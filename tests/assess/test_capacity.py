"""Capacity as a rule (DK-PERF-008, DK-PERF-009) and the rules that judge time reading the
estimate's times: template variants that break one line each, and the templates as they are.
"""

from __future__ import annotations

import pytest

import designkit as dk


def _failed(design: dk.Design, rule: str) -> list[dk.Finding]:
    return [f for f in dk.assess(design).findings
            if f.rule == rule and f.status.value == "fail"]


def _of(design: dk.Design, rule: str) -> list[dk.Finding]:
    return [f for f in dk.assess(design).findings if f.rule == rule]


def _fewer_workers() -> dk.Design:
    d = dk.template("flash-sale")
    d.components["checkout-api"].replicas = 2  # type: ignore[union-attr]
    d.components["checkout-api"].workers = 14  # type: ignore[union-attr]
    return d


def test_a_saturated_design_fails_critical_once_naming_the_station() -> None:
    d = _fewer_workers()
    e = dk.estimate(d)
    assert e.max_scale == pytest.approx(0.758, abs=0.002)
    [finding] = _failed(d, "DK-PERF-008")
    assert finding.severity.value == "critical"
    assert finding.subject == "components.checkout-api"
    assert finding.message.startswith(
        f"checkout-api workers saturates at {e.max_scale:.3g}× the workload (139% busy): it "
        f"needs "
        f"{1 / e.max_scale:.3g}× its capacity; 1 endpoint(s) wait without bound "
        "(checkout-api POST /v1/orders)")
    # not again as a latency finding of the saturated endpoint
    subject = 'components.checkout-api.endpoints."POST /v1/orders"'
    assert not [f for f in _of(d, "DK-PERF-004") if f.subject == subject]
    assert not _failed(d, "DK-PERF-009")  # headroom is for designs that fit


def test_a_database_at_133_percent_fails_and_its_seeks_are_not_passed() -> None:
    d = dk.template("flash-sale")
    d.components["orders-db"].cores = 12  # type: ignore[union-attr]
    [finding] = _failed(d, "DK-PERF-008")
    assert finding.subject == "components.orders-db"
    assert "orders-db cpu saturates at 0.75× the workload (133% busy)" in finding.message
    assert not [f for f in _of(d, "DK-PERF-002") if "on orders-db." in f.message]
    assert [f for f in _of(dk.template("flash-sale"), "DK-PERF-002")
            if "on orders-db." in f.message]  # (judged when it fits)


def test_a_slow_synchronous_call_is_slow_whatever_the_endpoint_publishes() -> None:
    d = dk.template("flash-sale")
    d.external("fraud", latency_ms={"mean": 350.0, "scv": 0.0}, timeout_ms=1000,
               circuit_breaker=True)
    d.components["checkout-api"].endpoints["POST /v1/orders"].steps.insert(  # type: ignore[union-attr]
        0, dk.CallStep(call="fraud"))
    [saturated] = _failed(d, "DK-PERF-008")
    assert "checkout-api workers saturates at 0.362× the workload" in saturated.message
    # at a load it carries, DK-PERF-004 fails it: the publish is not what makes it slow
    for key in list(d.workload):
        d.workload[key] *= 0.2
    slow = [f for f in _failed(d, "DK-PERF-004")
            if f.subject == 'components.checkout-api.endpoints."POST /v1/orders"']
    assert len(slow) == 1 and "on the request's own path" in slow[0].message
    assert not _failed(d, "DK-PERF-008")


def test_headroom_fails_a_design_that_fits_without_the_policys_margin() -> None:
    [tight] = _failed(dk.template("dashboard-slow"), "DK-PERF-009")
    assert tight.severity.value == "high"
    assert tight.message == ("app-db cpu saturates at 1.16× the workload (86% busy now) < "
                             "1.43× the policy keeps (utilization ≤ 70%)")
    d = dk.template("dashboard-slow")
    d.policy.utilization_max = 0.9
    assert not _failed(d, "DK-PERF-009")


@pytest.mark.parametrize("name", dk.templates())
def test_the_templates_fit(name: str) -> None:
    assert not _failed(dk.template(name), "DK-PERF-008")
    assert next(f.status.value for f in _of(dk.template(name), "DK-PERF-008")) == "pass"


def _lookup(service_ms: float | None = None, cores: int = 4) -> dk.Design:
    """A lookup by a column without an index on a 1,000,000-row table (a scan: 50 ms), or
    with its time stated; the database at 1,200 lookups/s of 2.5 ms over ``cores``."""
    d = dk.Design(name="lookup")
    db = d.database("db", cores=cores, pool_size=50, max_connections=100)
    db.table("users", rows=1_000_000).column("id", "uuid", primary_key=True) \
        .column("email", "text")
    call = {"query": {"table": "users", "where": ["email"]}}
    if service_ms is not None:
        call["service_ms"] = service_ms  # type: ignore[assignment]
    d.service("api", io="async", workers=200).endpoint("GET /users").call("db", **call)
    d.set_load("api GET /users", 50)
    return d


def test_a_seek_is_judged_by_the_time_the_estimate_uses() -> None:
    # the stated 2 ms is what the estimate uses: judged, with no index suggested
    [stated] = _of(_lookup(service_ms=2.0), "DK-PERF-002")
    assert stated.status.value == "pass"
    assert "its stated service_ms 2 ms" in stated.message and "would cost" not in stated.message
    # the plan's scan, without a stated time: 50 ms now, fails with the index's cost
    [scan] = _of(_lookup(), "DK-PERF-002")
    assert scan.status.value == "fail" and "a seek on a B-tree over (email)" in scan.message
    # the wait for the database's cpu counts: 8 ms stated at 400/s on 4 cores
    d = _lookup(service_ms=8.0)
    d.set_load("api GET /users", 400)
    e = dk.estimate(d)
    wait = e.station("db cpu").wait_ms
    [queued] = _of(d, "DK-PERF-002")
    assert queued.status.value == "fail"
    assert queued.evidence["ms_now"] == pytest.approx(8.0 + wait)
    assert f"+ {dk.estimate(d).station('db cpu').wait_ms:.3g} ms waiting for db cpu" in \
        queued.message


def _orders() -> tuple[dk.Design, dk.Endpoint]:
    d = dk.Design(name="orders")
    db = d.database("db", cores=8, pool_size=50, max_connections=100)
    db.table("orders", rows=1_000_000).column("id", "uuid", primary_key=True) \
        .column("user_id", "uuid").index("user_id")
    ep = d.service("api", io="async", workers=100).endpoint("GET /orders", collection=True)
    d.set_load("api GET /orders", 10)
    return d, ep


def test_a_batch_update_and_a_top_n_are_not_simple_seeks_that_fail() -> None:
    d, ep = _orders()
    ep.call("db", query={"table": "orders", "kind": "update", "where": ["id"], "batch": 500})
    ep.call("db", query={"table": "orders", "where": ["user_id"], "limit": 100})
    batch, top = _of(d, "DK-PERF-002")
    # the 500-row update costs 0.5 + 499 × 0.02 + 1 + 499 × 0.05 = 36.4 ms, by design: its
    # seek (0.5 ms) is what is judged
    assert batch.status.value == "pass" and "for 500 rows (a batch): the seek 0.5 ms" in \
        batch.message and "with its rows 36.4 ms now" in batch.message
    assert top.status.value == "pass" and "(a top-N)" in top.message
    [listed] = _of(d, "DK-PERF-005")
    assert listed.status.value == "pass"
    assert "is a top-N: its queries return at most 100 rows" in listed.message


def test_an_unbounded_list_still_needs_pagination() -> None:
    d, ep = _orders()
    ep.call("db", query={"table": "orders", "where": ["user_id"]})
    [listed] = _of(d, "DK-PERF-005")
    assert listed.status.value == "fail" and "returns every item" in listed.message
