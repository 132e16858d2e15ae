"""Network time: a round trip per hop between placed components, from their zones."""

from __future__ import annotations

import pytest

import designkit as dk
from designkit.model.network import Network, round_trip


def _design(api_az: object = "a", db_az: object = "a", **network: float) -> dk.Design:
    """One statement of a constant 1 ms on an idle database (8 cores, 1 request/s): the
    endpoint's time is the statement and its round trip."""
    d = dk.Design(name="net")
    d.service("api", io="async", workers=100, replicas=3, az=api_az).endpoint("GET /x") \
        .call("db", service_ms={"mean": 1.0, "scv": 0.0})
    d.database("db", cores=8, az=db_az)
    d.set_load("api GET /x", 1)
    if network:
        d.network = Network(**network)
    return d


def _mean(d: dk.Design) -> float:
    return dk.estimate(d).endpoints["api GET /x"].mean_ms


def test_a_hop_costs_a_round_trip_within_or_across_zones() -> None:
    assert _mean(_design("a", "a")) == pytest.approx(1.0 + 0.1, rel=1e-9)
    assert _mean(_design("a", "b")) == pytest.approx(1.0 + 1.0, rel=1e-9)
    # replicas over three zones, the database in one: two calls in three cross
    assert _mean(_design(["a", "b", "c"], "a")) == pytest.approx(1.0 + 0.1 + 2 / 3 * 0.9)
    # stated round trips, and a design that places nothing has none
    assert _mean(_design("a", "b", cross_zone_ms=2.5)) == pytest.approx(3.5, rel=1e-9)
    unplaced = _design(None, None)
    assert _mean(unplaced) == pytest.approx(1.0, rel=1e-9)
    assert round_trip(Network(), ("eu", ("a",)), ("us", ("a",))) == (60.0, 60.0, 1.0)


def test_a_transaction_holds_its_connection_through_begin_and_commit() -> None:
    # BEGIN, the statement's round trip, COMMIT: three round trips of 1 ms under the
    # connection (the pool's hold is 1 + 3 ms)
    d = dk.Design(name="tx")
    ep = d.service("api", io="async", workers=100, az="a").endpoint("POST /x")
    ep.transaction("db").call("db", service_ms={"mean": 1.0, "scv": 0.0})
    d.database("db", cores=8, az="b")
    d.set_load("api POST /x", 10)
    e = dk.estimate(d)
    assert e.station("db pool api").service_ms == pytest.approx(4.0, rel=1e-9)
    assert e.endpoints["api POST /x"].mean_ms == pytest.approx(4.0, rel=1e-3)


def test_calls_across_regions_and_to_other_endpoints() -> None:
    d = dk.Design(name="regions", network={"cross_region_ms": 80})
    d.service("api", io="async", region="eu").endpoint("GET /x").call("users GET /u")
    users = d.service("users", io="async", workers=100, region="us")
    users.endpoint("GET /u", cpu_ms={"mean": 2.0, "scv": 0.0})
    d.set_load("api GET /x", 1)
    assert dk.estimate(d).endpoints["api GET /x"].mean_ms == pytest.approx(82.0, rel=1e-9)


def test_the_simulation_crosses_zones_as_often() -> None:
    # cache-aside over three zones (hit 0.5), the database in one, at a real load
    d = dk.Design(name="zones")
    d.service("api", io="async", workers=100, replicas=3, az=["a", "b", "c"]) \
        .endpoint("GET /x").call("db", service_ms=1.0).cache("cache").call("db",
                                                                           service_ms=1.0)
    d.database("db", cores=4, az="a")
    d.cache("cache", az=["a", "b", "c"], hit_ratio=0.5)
    d.set_load("api GET /x", 1500)
    want = dk.estimate(d).endpoints["api GET /x"]
    got = dk.simulate(d, duration_s=60, seed=1, progress=False).endpoints["api GET /x"]
    assert got.mean_ms == pytest.approx(want.mean_ms, rel=0.03)
    assert got.p95_ms == pytest.approx(want.p95_ms, rel=0.05)


def test_the_sequence_view_shows_each_round_trip() -> None:
    from designkit.render.mermaid import sequence

    d = _design(["a", "b", "c"], "a")
    assert "call (network 0.7 ms) · 1.7 ms" in sequence(d, "api GET /x", dk.estimate(d))
    assert "network" not in sequence(_design(None, None), "api GET /x",
                                     dk.estimate(_design(None, None)))


def test_placement_and_network_round_trip_through_a_file() -> None:
    d = _design(["a", "b"], "a", cross_zone_ms=2.0)
    text = dk.dump(d)
    assert "az: [a, b]" in text and "network: {cross_zone_ms: 2" in text
    assert _mean(dk.load(text)) == pytest.approx(_mean(d), rel=1e-12)
