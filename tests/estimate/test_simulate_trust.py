"""`dk.simulate` says how far its numbers can be trusted: completions, confidence
intervals, and a warning when a run is too short."""

from __future__ import annotations

import math
import warnings

import pytest

import designkit as dk


def mm1(rps: float) -> dk.Design:
    d = dk.Design(name="mm1")
    d.service("api", workers=1).endpoint("GET /x", cpu_ms=10)
    d.set_load("api GET /x", rps)
    return d


def test_a_long_run_reports_its_completions_and_intervals_that_hold_the_truth() -> None:
    """M/M/1 at ρ 0.5: the sojourn is Exp(μ − λ) — mean 20 ms, p95 20 ln 20 = 59.9 ms."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a long run warns about nothing
        e = dk.simulate(mm1(50), duration_s=2000, seed=4).endpoints["api GET /x"]
    sampled = e.sampled
    assert sampled is not None
    assert sampled.completions == pytest.approx(100_000, rel=0.02)
    low, high = sampled.mean_ci
    assert low < 20.0 < high and (high - low) / 2 < 0.05 * 20
    low, high = sampled.p95_ci
    assert low < 20 * math.log(20) < high and sampled.p95_half_width(e.p95_ms) < 0.05
    data = e.to_dict()
    assert data["completions"] == sampled.completions
    assert data["p95_ci_ms"] == [pytest.approx(low), pytest.approx(high)]


def test_an_estimate_carries_no_sample_counts() -> None:
    e = dk.estimate(mm1(50)).endpoints["api GET /x"]
    assert e.sampled is None and "completions" not in e.to_dict()


def test_a_p95_from_few_completions_is_flagged() -> None:
    with pytest.warns(RuntimeWarning, match=r"api GET /x: p95 from 1\d\d completions"):
        e = dk.simulate(mm1(50), duration_s=3, seed=1)
    assert e.endpoints["api GET /x"].sampled.completions < 200  # type: ignore[union-attr]


def test_a_short_run_of_a_saturated_design_does_not_pass_for_finite() -> None:
    """ρ 1.2: the estimate says saturated. A 3 s run either sees the queue grow (and says
    saturated) or warns that its finite numbers only mean the queue had no time to grow."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = dk.simulate(mm1(120), duration_s=3, seed=1).endpoints["api GET /x"]
    said = [str(w.message) for w in caught]
    assert e.saturated or any("saturates it" in m for m in said), said
