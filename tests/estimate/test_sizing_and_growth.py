"""Sizing to targets, and growth of tables and queries."""

from __future__ import annotations

import pytest

import designkit as dk
from tests.estimate.test_estimate import single_station


def test_size_meets_the_utilization_target_with_the_fewest_servers() -> None:
    # 90/s × 100 ms = 9 busy workers; at most 70 % busy: per replica of w workers,
    # 4.5 / w ≤ 0.7 → w ≥ 7 with two replicas (one replica would need 13 > 10 workers).
    sizing = dk.size(single_station(10, 100.0, 90.0, replicas=20), utilization_max=0.7)
    assert sizing.changes == {"components.api.replicas": (20, 2),
                              "components.api.workers": (10, 7)}
    assert sizing.estimate.station("api workers").utilization == pytest.approx(4.5 / 7)
    assert sizing.design.components["api"].replicas == 2  # type: ignore[union-attr]


def test_size_never_modifies_the_design() -> None:
    design = single_station(10, 100.0, 90.0, replicas=20)
    before = dk.dump(design)
    dk.size(design)
    assert dk.dump(design) == before


def test_size_to_a_p95_target() -> None:
    design = single_station(10, 100.0, 90.0, replicas=1)
    loose = dk.size(design, p95_ms=1000, utilization_max=0.95)
    tight = dk.size(design, p95_ms=320, utilization_max=0.95)   # 300 ms with no queue
    assert tight.estimate.endpoints["api GET /x"].p95_ms <= 320
    servers = [s.estimate.station("api workers").servers for s in (loose, tight)]
    assert servers[0] <= servers[1]


def test_size_pool_to_the_connections_needed() -> None:
    design = dk.Design(name="pool")
    design.database("db", cores=32, pool_size=100, max_connections=500)
    design.external("provider", latency_ms=100.0)
    design.service("api", replicas=2, io="async", workers=1000).endpoint(
        "POST /pay").transaction("db").call("db", service_ms=1.0).call("provider")
    design.set_load("api POST /pay", 100)      # 10.1 connections busy in all
    sizing = dk.size(design, utilization_max=0.7)
    pool = sizing.estimate.station("db pool api")
    assert pool.utilization <= 0.7
    assert sizing.changes["components.db.pool_size"][1] == 8   # 2 × 8 = 16 ≥ 10.1 / 0.7


def test_unreachable_p95_names_the_endpoint() -> None:
    design = single_station(10, 100.0, 9.0)
    with pytest.raises(dk.SizingError, match=r"api GET /x \(p95 \d+ ms\)"):
        dk.size(design, p95_ms=50)


def test_growth_of_tables_and_queries() -> None:
    g = dk.growth(dk.template("dashboard-slow"), days=365)
    payments = next(t for t in g.tables if t.table == "payments")
    assert (payments.rows_now, payments.rows_then) == (2_280_000, 2_280_000 + 8_000 * 365)
    scans = [q for q in g.queries if q.now.access == "scan"]
    assert scans and all(q.then.ms > q.now.ms for q in scans)
    seeks = [q for q in g.queries if q.now.access == "seek"]
    assert seeks and all(q.then.ms == q.now.ms for q in seeks)
    assert "queries that get slower" in str(g)


# -- sizing to each endpoint's own SLO ------------------------------------------------------


def _two_services(a_slo: dict[str, float] | None) -> dk.Design:
    d = dk.Design(name="slo")
    d.service("a", replicas=10, workers=16).endpoint("GET /x", cpu_ms=10.0, slo=a_slo)
    d.service("b", replicas=10, workers=16).endpoint("GET /x", cpu_ms=10.0)
    d.set_load("a GET /x", 100)
    d.set_load("b GET /x", 100)
    return d


def test_each_endpoint_is_sized_to_its_own_slo() -> None:
    sized = dk.size(_two_services({"p95_ms": 40.0}), p95_ms=500.0)
    assert {k: str(t) for k, t in sized.targets.items()} == {
        "a GET /x": "p95 ≤ 40 ms", "b GET /x": "p95 ≤ 500 ms"}
    a, b = (sized.estimate.endpoints[f"{s} GET /x"] for s in "ab")
    assert a.p95_ms <= 40.0 and b.p95_ms <= 500.0
    capacity = {s: sized.design.components[s].replicas * sized.design.components[s].workers
                for s in "ab"}
    assert capacity["a"] > capacity["b"]  # the tight SLO needs more servers
    # 30 ms is exponential 10 ms's own p95 (10 ln 20): no sizing reaches below it
    with pytest.raises(dk.SizingError, match=r"p95 ≤ 25 ms cannot be reached .*a GET /x"):
        dk.size(_two_services({"p95_ms": 25.0}), p95_ms=500.0)


def test_the_policy_slo_gives_p99_targets() -> None:
    d = _two_services(None)
    d.policy.slo = dk.Slo(p95_ms=80.0, p99_ms=60.0)
    sized = dk.size(d)
    assert str(sized.targets["b GET /x"]) == "p95 ≤ 80 ms and p99 ≤ 60 ms"
    assert all(e.p99_ms <= 60.0 for e in sized.estimate.endpoints.values())


def test_a_queue_handler_is_judged_by_its_consumers_not_its_latency() -> None:
    d = dk.Design(name="jobs")
    d.queue("jobs", engine="rabbitmq", consumers=64, handler="worker POST /jobs")
    d.service("worker", replicas=4, workers=32).endpoint("POST /jobs", cpu_ms=300.0)
    d.service("api", replicas=4, workers=32).endpoint("POST /reports", cpu_ms=5.0) \
        .publish("jobs")
    d.set_load("api POST /reports", 50)
    sized = dk.size(d, p95_ms=50.0)  # the 300 ms job has no latency target
    assert list(sized.targets) == ["api POST /reports"]
    assert sized.estimate.endpoints["api POST /reports"].p95_ms <= 50.0
    consumers = sized.estimate.station("jobs consumers")  # not sized, under the limit
    assert consumers.servers == 64 and consumers.utilization <= 0.7
    assert sized.limits == []
    d.queue("jobs", consumers=16)  # 15 jobs of 300 ms in flight on 16: 94 %
    assert dk.size(d, p95_ms=50.0).limits[0].startswith("jobs consumers at 9")


def test_sizing_can_keep_its_targets_with_a_replica_lost() -> None:
    d = dk.Design(name="zone")
    d.service("api", replicas=12, workers=8).endpoint("GET /x", cpu_ms=10.0)
    d.set_load("api GET /x", 3000)
    plain = dk.size(d)
    safe = dk.size(d, lose_replicas=1)
    assert safe.lose_replicas == 1 and "1 replica of every service lost" in str(safe)
    api = safe.design.components["api"]
    assert api.replicas > plain.design.components["api"].replicas
    lost = dk.estimate(safe.design, scenario=dk.Scenario(lost_replicas={"api": 1}))
    assert lost.station("api workers").utilization <= 0.7
    with pytest.raises(dk.ArgumentError, match="lose_replicas must be a whole number ≥ 0"):
        dk.size(d, lose_replicas=-1)


def test_sizing_estimates_with_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to ``max_steps`` estimates, each with reference cycles: inside a run that paused
    the collector (the command line), each runs with it on, so the earlier ones are freed."""
    import gc
    import importlib

    from designkit.gcpause import gc_paused

    sizing = importlib.import_module("designkit.estimate.sizing")
    seen: list[bool] = []
    real = sizing.estimate_with
    monkeypatch.setattr(sizing, "estimate_with",
                        lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k))
    d = dk.Design(name="x")
    d.service("api", replicas=20, workers=10).endpoint("GET /x", cpu_ms=100)
    d.set_load("api GET /x", 90)
    with gc_paused():
        dk.size(d, utilization_max=0.7)
        assert not gc.isenabled()
    assert len(seen) > 3 and all(seen)
