"""``dk.sensitivity``: each row against the design estimated with that one input moved (built
here by hand, not by the function's own copy), elasticities against closed forms, and the
tornado plot."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

import designkit as dk
from designkit.render import plots


def cached() -> dk.Design:
    d = dk.Design(name="cached")
    d.cache("c", hit_ratio=0.8, service_ms=0.5)
    d.database("db", cores=2)
    ep = d.service("api", workers=50, io="async").endpoint("GET /x", cpu_ms=1)
    ep.cache("c").call("db", service_ms=8)
    d.set_load("api GET /x", 400)
    return d


def test_each_row_is_the_design_with_that_input_moved() -> None:
    d = cached()
    result = dk.sensitivity(d, metric="p95", endpoint="api GET /x")
    rows = {r.input.name: r for r in result.rows}
    assert set(rows) == {"c hit ratio", "api GET /x rate", "c times", "db times",
                         "api times"}
    hit = rows["c hit ratio"]
    assert (hit.input.low, hit.input.high) == pytest.approx((0.78, 0.82))
    for value, got in ((hit.input.low, hit.at_low), (hit.input.high, hit.at_high)):
        moved = cached()
        moved.components["c"].hit_ratio = value
        assert got == dk.estimate(moved).endpoints["api GET /x"].p95_ms
    for rps, got in ((360.0, rows["api GET /x rate"].at_low),
                     (440.0, rows["api GET /x rate"].at_high)):
        moved = cached()
        moved.set_load("api GET /x", rps)
        assert got == pytest.approx(dk.estimate(moved).endpoints["api GET /x"].p95_ms,
                                    rel=1e-12)
    for factor, got in ((0.9, rows["db times"].at_low), (1.1, rows["db times"].at_high)):
        moved = cached()
        moved.calibration = {"components": {"db": {"scale": factor}}}  # type: ignore[assignment]
        assert got == pytest.approx(dk.estimate(moved).endpoints["api GET /x"].p95_ms,
                                    rel=1e-12)
    assert result.nominal == dk.estimate(d).endpoints["api GET /x"].p95_ms
    # widest first
    swings = [r.swing for r in result.rows]
    assert swings == sorted(swings, reverse=True)


def test_moves_without_a_copy_equal_the_design_moved_by_hand() -> None:
    """A rate is moved as the workload given and a component's times as a stretch of the
    compiled design (no copy): each equals, to the last digit, the design changed by hand —
    with a scheduled job on the rated endpoint (its runs add to the rate), a calibration
    scale already set (the move multiplies it), a scenario and grown tables. With a
    calibrated slowdown the times are moved in a copy (its stretch is solved per load)."""
    from designkit.estimate.scenarios import Scenario

    def design() -> dk.Design:
        d = cached()
        d.schedule = {"api GET /x": {"every_s": 0.5, "runs": 10}}  # type: ignore[dict-item]
        d.calibration = {"components": {"db": {"scale": 1.25, "scv": 0.5}}}  # type: ignore[assignment]
        return d

    scenario = Scenario(slow={"c": 2.0})
    result = dk.sensitivity(design(), metric="p95", endpoint="api GET /x", scenario=scenario,
                            days=30.0)
    rows = {r.input.name: r for r in result.rows}

    def p95(d: dk.Design) -> float:
        return dk.estimate(d, scenario=scenario, days=30.0).endpoints["api GET /x"].p95_ms

    rate = rows["api GET /x rate"]
    for rps, got in ((rate.input.low, rate.at_low), (rate.input.high, rate.at_high)):
        moved = design()
        moved.set_load("api GET /x", rps)
        assert got == p95(moved)
    times = rows["db times"]
    for factor, got in ((times.input.low, times.at_low), (times.input.high, times.at_high)):
        moved = design()
        moved.calibration = {"components": {"db": {"scale": 1.25 * factor, "scv": 0.5}}}  # type: ignore[assignment]
        assert got == p95(moved)
    assert times.at_low < result.nominal < times.at_high
    for factor, got in ((0.9, rows["api times"].at_low), (1.1, rows["api times"].at_high)):
        moved = design()
        moved.calibration = {"components": {"db": {"scale": 1.25, "scv": 0.5},  # type: ignore[assignment]
                                            "api": {"scale": factor}}}
        assert got == p95(moved)
    slowed = cached()
    slowed.calibration = {"components": {"db": {"slowdown": 0.5}}}  # type: ignore[assignment]
    row = dk.sensitivity(slowed, metric="mean", inputs=["db times"]).rows[0]
    moved = cached()
    moved.calibration = {"components": {"db": {"slowdown": 0.5, "scale": 1.1}}}  # type: ignore[assignment]
    assert row.at_high == dk.estimate(moved).endpoints["api GET /x"].mean_ms
    with pytest.raises(dk.ArgumentError, match="calibrated slowdown"):
        from designkit.estimate.api import estimate_with

        estimate_with(slowed, stretch={"db": 1.1})
    # a move that takes a calibration scale beyond its bounds is refused, as the design
    # changed by hand is (the copy's checks), not estimated by a stretch
    near = cached()
    near.calibration = {"components": {"db": {"scale": 950.0}}}  # type: ignore[assignment]
    with pytest.raises(dk.DesignError, match="scale"):
        dk.sensitivity(near, metric="mean", inputs=["db times"])
    kept = dk.sensitivity(near, metric="mean", inputs=["api times"]).rows[0]
    by_hand = cached()
    by_hand.calibration = {"components": {"db": {"scale": 950.0}, "api": {"scale": 1.1}}}  # type: ignore[assignment]
    assert kept.at_high == dk.estimate(by_hand).endpoints["api GET /x"].mean_ms
    for wrong in ({"dbx": 1.1}, {"db": 0.0}, {"db": math.inf}, {"db": True}):
        with pytest.raises(dk.ArgumentError, match="stretch takes components"):
            estimate_with(cached(), stretch=wrong)  # type: ignore[arg-type]


def test_elasticity_of_an_mm1_is_the_closed_form() -> None:
    """M/M/1, S = 10 ms, λ = 60/s: W = S / (1 − λS). Moving λ by ±10 % and S by ±10 %,
    the central difference of ln W over ln of the input is exact to compute."""
    d = dk.Design(name="mm1")
    d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
    d.set_load("api GET /x", 60)
    result = dk.sensitivity(d, metric="mean")
    rows = {r.input.name: r for r in result.rows}

    def w(rate: float, service: float) -> float:
        return service / (1 - rate / 1000 * service)

    rate = rows["api GET /x rate"]
    assert rate.at_low == pytest.approx(w(54, 10), rel=1e-12)
    assert rate.at_high == pytest.approx(w(66, 10), rel=1e-12)
    assert rate.elasticity == pytest.approx(math.log(w(66, 10) / w(54, 10))
                                            / math.log(1.1 / 0.9), rel=1e-12)
    times = rows["api times"]
    assert times.elasticity == pytest.approx(math.log(w(60, 11) / w(60, 9))
                                             / math.log(1.1 / 0.9), rel=1e-12)
    # near ρ/(1 − ρ) + 1 = 2.5 for the service time, ρ/(1 − ρ) = 1.5 for the rate
    assert 1.5 < rate.elasticity < 1.7 and 2.5 < times.elasticity < 2.8
    assert result.rows[0].input.name == "api times"


def test_uncertain_numbers_swing_over_their_range() -> None:
    d = dk.load({"designkit": 1, "name": "x", "components": {"api": {
        "kind": "service", "workers": 1, "endpoints": {"GET /x": {"cpu_ms": 10}}}},
        "workload": {"api GET /x": {"low": 40, "high": 70}}})
    result = dk.sensitivity(d, metric="max_scale")
    row = result.rows[0]
    assert row.input.kind == "uncertain" and (row.input.low, row.input.high) == (40, 70)
    assert row.at_low == pytest.approx(100 / 40, rel=1e-3)
    assert row.at_high == pytest.approx(100 / 70, rel=1e-3)
    assert row.elasticity == pytest.approx(-1.0, rel=2e-3)


def test_the_dominant_assumption_comes_first() -> None:
    """With the cache at 0.98, the database behind it is barely loaded; the hit ratio
    moves the database's utilization most: its miss ratio is what multiplies the load."""
    d = cached()
    d.components["c"].hit_ratio = 0.98
    result = dk.sensitivity(d, metric="utilization", component="db")
    assert result.rows[0].input.name in ("c hit ratio", "db times", "api GET /x rate")
    by = {r.input.name: r for r in result.rows}
    # utilization ∝ miss ratio × rate × db time: elasticity −1 to the hit ratio's miss…
    assert by["c hit ratio"].elasticity == pytest.approx(1.0, rel=1e-9)
    assert by["api GET /x rate"].elasticity == pytest.approx(1.0, rel=1e-9)
    assert by["db times"].elasticity == pytest.approx(1.0, rel=1e-9)
    assert by["api times"].swing == 0.0


def test_bad_arguments_name_the_fix() -> None:
    d = cached()
    with pytest.raises(dk.ArgumentError, match="metric must be one of"):
        dk.sensitivity(d, metric="p90")  # type: ignore[arg-type]
    with pytest.raises(dk.ArgumentError, match="step must be"):
        dk.sensitivity(d, step=1.5)
    with pytest.raises(dk.DesignError) as err:
        dk.sensitivity(d, endpoint="api GET /y")
    assert err.value.problems[0].suggestions == ("api GET /x",)
    with pytest.raises(dk.DesignError) as err:
        dk.sensitivity(d, endpoint="api GET /x", inputs=["db time"])
    assert "db times" in err.value.problems[0].suggestions
    with pytest.raises(dk.DesignError, match="name the component"):
        dk.sensitivity(d, metric="utilization")
    two = cached()
    two.service("api").endpoint("GET /y", cpu_ms=1)
    two.set_load("api GET /y", 5)
    with pytest.raises(dk.DesignError, match="name the endpoint"):
        dk.sensitivity(two)


def test_tornado_plot_draws_the_widest_first() -> None:
    result = dk.sensitivity(cached(), metric="p95", endpoint="api GET /x")
    fig = plots.tornado(result)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == result.rows[0].input.name  # the top bar is the widest
    assert len(labels) == len([r for r in result.rows if r.swing > 0])
    svg = plots.to_svg(fig)
    ET.fromstring(svg)
    assert "what moves p95 of api GET /x" in svg
    fig = plots.tornado(result, top=2)
    assert len(fig.axes[0].get_yticklabels()) == 2
    assert "as designed" in str(result) and "<table>" in result._repr_html_()


def test_a_low_hit_ratio_moves_within_zero_to_one() -> None:
    d = cached()
    d.components["c"].hit_ratio = 0.05
    row = next(r for r in dk.sensitivity(d, metric="mean").rows if r.input.kind == "hit_ratio")
    assert row.input.low == 0.0 and row.input.high == pytest.approx(0.145)
    with pytest.raises(dk.ArgumentError, match=r"inputs=\['api times'\]"):
        dk.sensitivity(d, metric="mean", inputs="api times")  # type: ignore[arg-type]
    twice = dk.sensitivity(d, metric="mean", inputs=["api times", "api times"])
    assert [r.input.name for r in twice.rows] == ["api times"]
