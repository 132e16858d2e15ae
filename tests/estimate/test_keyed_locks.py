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
