"""A calibrated component: its times scaled, reshaped, and stretched with load — held to
closed forms (M/M/1 with a load-dependent rate) and to the simulator."""

from __future__ import annotations

import math
import warnings

import pytest

import designkit as dk


def _mm1(cpu_ms: float, rps: float, calibration: dict | None = None) -> dk.Design:
    d = dk.Design(name="mm1")
    d.service("api", workers=1).endpoint("GET /x", cpu_ms=cpu_ms)
    d.set_load("api GET /x", rps)
    if calibration is not None:
        d.calibration = calibration
    return d


@pytest.mark.parametrize(("beta", "rps"), [(0.5, 50.0), (0.25, 30.0), (2.0, 20.0)])
def test_a_slowdown_is_a_load_dependent_rate_in_closed_form(beta: float, rps: float) -> None:
    # s = s0 (1 + β ρ) with ρ = λ s: s = s0 / (1 − β λ s0); M/M/1 mean s / (1 − λ s)
    s0 = 10.0
    rho0 = rps * s0 / 1000
    s = s0 / (1 - beta * rho0)
    e = dk.estimate(_mm1(s0, rps, {"components": {"api": {"slowdown": beta}}}))
    assert e.endpoints["api GET /x"].mean_ms == pytest.approx(s / (1 - rps * s / 1000),
                                                              rel=1e-9)
    assert e.station("api workers").utilization == pytest.approx(rho0 / (1 - beta * rho0),
                                                                 rel=1e-9)
    # it saturates at ρ₀ = 1 / (1 + β): max_scale = 1 / ((1 + β) ρ₀)
    assert e.max_scale == pytest.approx(1 / ((1 + beta) * rho0), rel=1e-4)
    assert e.bottleneck_station == "api workers"


def test_past_its_saturation_point_a_slowing_component_is_saturated() -> None:
    # β = 0.5: saturates at ρ₀ = 2/3, so 70 rps × 10 ms (ρ₀ 0.7) is past it, though
    # the same design without a slowdown runs at 70 %
    e = dk.estimate(_mm1(10, 70, {"components": {"api": {"slowdown": 0.5}}}))
    assert e.saturated and math.isinf(e.endpoints["api GET /x"].mean_ms)
    assert not dk.estimate(_mm1(10, 70)).saturated


def test_scale_and_scv_reshape_every_time_of_the_component() -> None:
    # scale 2 of 5 ms and scv 0 (constant): M/D/1 at ρ 0.5: W = s + ρ s / (2 (1 − ρ))
    e = dk.estimate(_mm1(5, 50, {"components": {"api": {"scale": 2.0, "scv": 0.0}}}))
    assert e.endpoints["api GET /x"].mean_ms == pytest.approx(10 + 0.5 * 10 / (2 * 0.5))
    # a database's derived query time and a call's stated service_ms both scale
    d = dk.Design(name="db")
    api = d.service("api", workers=50).endpoint("GET /x")
    api.call("db", query={"table": "t", "where": ["id"]})
    api.call("db", service_ms=4)
    d.database("db", cores=8, seek_ms=1.0).table("t", rows=1000).column(
        "id", "int", primary_key=True)
    d.set_load("api GET /x", 1)
    before = dk.estimate(d).endpoints["api GET /x"].mean_ms
    d.calibration = {"components": {"db": {"scale": 3.0}}}
    assert dk.estimate(d).endpoints["api GET /x"].mean_ms == pytest.approx(3 * before,
                                                                           rel=1e-3)


def test_the_simulator_runs_the_same_slowdown() -> None:
    d = _mm1(10, 50, {"components": {"api": {"slowdown": 0.5}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = dk.simulate(d, duration_s=600, seed=3)
    assert s.endpoints["api GET /x"].mean_ms == pytest.approx(40.0, rel=0.06)  # exact: 40
    assert s.station("api workers").utilization == pytest.approx(2 / 3, rel=0.03)


def test_a_load_past_the_measured_range_is_named() -> None:
    d = _mm1(10, 60, {"measured": {"api GET /x": 40}})
    e = dk.estimate(d)
    assert e.beyond_measured == {"api GET /x": (1.5, 40.0)}
    assert ("beyond the measurements: api GET /x at 1.5× the 40 rps measured — the "
            "calibrated times are extrapolated") in str(e)
    assert e.to_dict()["beyond_measured"] == {"api GET /x": {"factor": 1.5,
                                                             "measured_rps": 40.0}}
    assert "beyond_measured" not in dk.estimate(_mm1(10, 60)).to_dict()
    assert dk.estimate(d, scale=0.5).beyond_measured == {}


def test_a_calibration_names_parts_that_exist() -> None:
    d = _mm1(10, 10, {"components": {"apx": {"scale": 2}},
                      "measured": {"api GET /y": 10}})
    with pytest.raises(dk.DesignError) as err:
        d.validate()
    text = str(err.value)
    assert "calibration.components.apx: unknown component 'apx' (did you mean 'api'?)" in text
    assert "calibration.measured" in text and "api GET /y" in text
    with pytest.raises(dk.DesignError, match=r"calibration.components.api.scale"):
        dk.load({"designkit": 1, "name": "x",
                 "calibration": {"components": {"api": {"scale": 0}}}})


@pytest.mark.parametrize("beta", [0.5, 5.0, 10.0])
def test_a_held_station_s_stretch_is_the_fixed_point(beta: float) -> None:
    # one worker holds 1 ms of its own cpu (stretched) and a 6 ms call (not): at 50 rps
    # ρ = 0.05 (f + 6), so f = 1 + β ρ is f = (1 + 0.3 β) / (1 − 0.05 β) — a station whose
    # utilization is not proportional to the stretch (the plain iteration diverges at β 5)
    d = dk.Design(name="held")
    d.service("api", workers=1).endpoint("GET /x", cpu_ms=1).call("ext")
    d.external("ext", latency_ms=6)
    d.set_load("api GET /x", 50)
    d.calibration = {"components": {"api": {"slowdown": beta}}}
    f = (1 + 0.3 * beta) / (1 - 0.05 * beta)
    e = dk.estimate(d)
    assert e.station("api workers").utilization == pytest.approx(0.05 * (f + 6), rel=1e-6)
    assert not e.saturated


def test_a_vanishing_slowdown_changes_no_capacity() -> None:
    # the flash sale's user-facing and background capacities and bottlenecks stay the same
    # when a component slows down by nothing: the slowed search keeps them apart
    plain = dk.estimate(dk.template("flash-sale"))
    design = dk.template("flash-sale")
    design.calibration = {"components": {"checkout-api": {"slowdown": 1e-6}}}
    slowed = dk.estimate(design)
    assert slowed.max_scale == pytest.approx(plain.max_scale, rel=2e-3)
    assert slowed.bottleneck_station == plain.bottleneck_station == "order-read-db cpu"
    assert plain.background is not None and slowed.background is not None
    assert slowed.background.station == plain.background.station
    assert slowed.background.max_scale == pytest.approx(plain.background.max_scale, rel=2e-3)
