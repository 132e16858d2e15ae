"""Locks over many keys: each key is its own lock, the acquisitions spread evenly."""

from __future__ import annotations

import pytest

import designkit as dk


def seats(keys: int, rps: float) -> dk.Design:
    """A lock per seat around a 10 ms (exponential) call of a seat map."""
    d = dk.Design(name="seats")
    d.lock("seat", keys=keys)
    d.external("seat-map", latency_ms=10.0)
    d.service("api", io="async", workers=1000).endpoint("POST /hold").lock("seat") \
        .call("seat-map")
    d.set_load("api POST /hold", rps)
    return d


def test_each_key_is_an_mm1_of_its_share_of_the_holds() -> None:
    # 300 holds/s over 4 keys: ρ = 0.3 · 10 / 4 = 0.75 per key, W = ρ / (1 − ρ) · 10 = 30 ms
    e = dk.estimate(seats(4, 300))
    lock = e.station("seat lock")
    assert lock.servers == 4
    assert lock.utilization == pytest.approx(0.75, rel=1e-12)
    assert lock.wait_ms == pytest.approx(30.0, rel=1e-9)
    assert e.max_scale == pytest.approx(4 / 3, rel=1e-3)
    # one key: the same holds serialise (ρ 3: saturated); over 50,000 seats 3,000 holds/s
    # hardly wait (ρ 0.0006 per seat: 6 µs)
    assert dk.estimate(seats(1, 300)).endpoints["api POST /hold"].saturated
    rho = 3000 * 0.010 / 50_000
    assert dk.estimate(seats(50_000, 3000)).station("seat lock").wait_ms == pytest.approx(
        rho / (1 - rho) * 10.0, rel=1e-9)


def test_the_simulation_spreads_holds_over_the_keys() -> None:
    design = seats(4, 300)
    simulated = dk.simulate(design, duration_s=600, seed=4, progress=False)
    assert simulated.station("seat lock").wait_ms == pytest.approx(30.0, rel=0.05)
    assert simulated.endpoints["api POST /hold"].mean_ms == pytest.approx(40.0, rel=0.04)


def hot(keys: int, share: float, rps: float) -> dk.Design:
    """``seats`` with one key taking ``share`` of the holds (a hot SKU)."""
    d = seats(keys, rps)
    lock = d.components["seat"]
    assert isinstance(lock, dk.Lock)
    lock.hot_key_share = share
    return d


def test_a_hot_key_is_an_mm1_of_its_share_and_the_rest_spread_over_the_others() -> None:
    # 300 holds/s, 30 % on one key of 1,000: that key is an M/M/1 at ρ = 90 · 0.010 = 0.9
    # (W = 0.9 / 0.1 · 10 = 90 ms); the 210/s left over 999 keys hardly wait. The request
    # waits 90 ms 30 % of the time: mean 10 + 0.3 · 90 + 0.7 · w_rest.
    e = dk.estimate(hot(1000, 0.3, 300))
    hottest, rest = e.station("seat lock (hot key)"), e.station("seat lock")
    assert hottest.arrival_rps == pytest.approx(90.0, rel=1e-12)
    assert hottest.wait_ms == pytest.approx(90.0, rel=1e-9)
    rho = 210 * 0.010 / 999
    assert rest.servers == 999 and rest.wait_ms == pytest.approx(rho / (1 - rho) * 10.0)
    mean = e.endpoints["api POST /hold"].mean_ms
    assert mean == pytest.approx(10.0 + 0.3 * 90.0 + 0.7 * rest.wait_ms, rel=1e-9)
    # the hot key saturates first: at 100/90 of the load (the spread keys at 476×)
    assert e.max_scale == pytest.approx(100.0 / 90.0, rel=1e-3)
    assert e.bottleneck_station == "seat lock (hot key)"


def test_the_simulation_sends_the_hot_share_to_one_key() -> None:
    # 30 % of 300/s on one key at ρ 0.6 (a tighter interval than at 0.9): W = 15 ms
    design = hot(1000, 0.3, 200)
    want = dk.estimate(design)
    got = dk.simulate(design, duration_s=600, seed=2, progress=False)
    assert want.station("seat lock (hot key)").wait_ms == pytest.approx(15.0, rel=1e-9)
    assert got.station("seat lock (hot key)").arrival_rps == pytest.approx(60.0, rel=0.03)
    assert got.station("seat lock (hot key)").wait_ms == pytest.approx(15.0, rel=0.08)
    ep_want, ep_got = want.endpoints["api POST /hold"], got.endpoints["api POST /hold"]
    assert ep_got.mean_ms == pytest.approx(ep_want.mean_ms, rel=0.05)
    assert ep_got.p95_ms == pytest.approx(ep_want.p95_ms, rel=0.05)


def test_a_hot_key_share_below_an_even_spread_is_refused() -> None:
    with pytest.raises(dk.DesignError, match=r"components\.seat\.hot_key_share: the hottest of "
                                             r"1,000 key\(s\) takes at least 1/1,000"):
        dk.estimate(hot(1000, 0.0001, 300))
    with pytest.raises(dk.DesignError, match=r"give keys"):
        dk.estimate(hot(1, 0.5, 300))
