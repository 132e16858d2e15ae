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
