"""Fallbacks and internal calls that fail: closed forms, and the simulation's count."""

from __future__ import annotations

import math

import pytest

import designkit as dk
from designkit.errors import DesignError


def _design() -> dk.Design:
    """A third party whose attempts time out 20 % of the time (at the p80 of an
    exponential of mean 50 ms) and fail 10 % within time: 28 % of calls fail. One endpoint
    falls back to a stale copy in a cache, one degrades without it, one calls another
    service's endpoint that fails 5 % on its own, falling back to a flaky provider; one
    falls back to a constant 100 ms backup, after the failed call's own time (a timeout's
    80 ms, not a typical call's)."""
    d = dk.Design(name="fallbacks")
    d.external("recs", latency_ms=50.0, timeout_ms=50.0 * math.log(5.0), failure_rate=0.1)
    d.cache("stale", service_ms=0.5)
    d.external("psp", latency_ms=20.0, failure_rate=0.5, retries={"max": 1})
    d.service("users", io="async").endpoint("GET /u").call("psp")
    api = d.service("api", io="async", workers=200)
    api.endpoint("GET /home").call("recs", fallback=[{"call": "stale", "op": "GET"}])
    api.endpoint("GET /degrade").call("recs", fallback=[])
    d.external("backup", latency_ms={"mean": 100.0, "scv": 0.0})
    api.endpoint("GET /backup").call("recs", fallback=[{"call": "backup"}])
    api.endpoint("GET /chain").call("users GET /u", failure_rate=0.05,
                                    fallback=[{"call": "psp"}])
    for key in ("GET /home", "GET /degrade", "GET /backup", "GET /chain"):
        d.set_load(f"api {key}", 50)
    return d


RECS_FAILS = 1.0 - 0.8 * 0.9
USERS_FAILS = 1.0 - 0.95 * (1.0 - 0.25)  # its own 5 %, then psp's 0.5² after one retry


def test_a_fallback_takes_over_the_failures_and_runs_as_often_as_the_call_fails() -> None:
    e = dk.estimate(_design())
    assert e.endpoints["api GET /home"].error_ratio == 0.0
    assert e.endpoints["api GET /degrade"].error_ratio == 0.0
    # the stale copy is read by the 28 % of 50/s whose call failed
    assert e.station("stale servers").arrival_rps == pytest.approx(50.0 * RECS_FAILS)
    # mean: the call (E[min(X, t)] = 50·0.8 = 40 ms) then, 28 % of the time, the cache read
    home = e.endpoints["api GET /home"]
    cache_read = e.station("stale servers").wait_ms + 0.5
    assert home.mean_ms == pytest.approx(40.0 + RECS_FAILS * cache_read, rel=1e-3)
    assert e.endpoints["api GET /degrade"].mean_ms == pytest.approx(40.0, rel=1e-3)


def test_a_fallback_follows_the_failed_calls_time() -> None:
    # 72 % of calls succeed below t = 50·ln 5; 8 % fail below t, then wait the backup's
    # 100 ms; 20 % time out at t, then wait 100 ms. P(T < t + 100) = 0.8: the p95 and the
    # p99 are the timed-out requests' t + 100 exactly (taking the fallback after a typical
    # call's time instead would spread them below it).
    e = dk.estimate(_design()).endpoints["api GET /backup"]
    t = 50.0 * math.log(5.0)
    assert e.p95_ms == pytest.approx(t + 100.0, rel=3e-3)
    assert e.p99_ms == pytest.approx(t + 100.0, rel=3e-3)
    assert e.mean_ms == pytest.approx(40.0 + RECS_FAILS * 100.0, rel=1e-3)


def test_an_internal_call_fails_at_its_own_rate_then_the_callees() -> None:
    e = dk.estimate(_design())
    # the chain fails when users fails (its 5 %, or psp twice) and then the fallback's
    # psp call fails twice: 0.2875 × 0.25, put down to the fallback's cause
    chain = e.endpoints["api GET /chain"]
    assert chain.error_ratio == pytest.approx(USERS_FAILS * 0.25, rel=1e-12)
    assert chain.errors == pytest.approx({"failure: psp": USERS_FAILS * 0.25}, rel=1e-12)
    # psp: users' calls (1.5 attempts each) and the fallback's, 28.75 % of 50/s
    assert e.components["psp"].arrival_rps == pytest.approx(
        1.5 * 50.0 * (1.0 + USERS_FAILS), rel=1e-12)
    d = _design()
    d.components["api"].endpoints["GET /chain"].steps[0].fallback = None
    plain = dk.estimate(d).endpoints["api GET /chain"]
    assert plain.errors == pytest.approx({"failure: users": 0.05, "failure: psp": 0.95 * 0.25})


def test_the_simulation_runs_the_fallbacks_as_the_estimate_says() -> None:
    # Error ratios within 10 % or half a point; mean and p95 (all requests, successes)
    # within 5 %; the cache's load within 3 %.
    design = _design()
    want = dk.estimate(design)
    got = dk.simulate(design, duration_s=1000, seed=3, progress=False)
    for key, w in want.endpoints.items():
        g = got.endpoints[key]
        assert abs(g.error_ratio - w.error_ratio) <= max(0.005, 0.1 * w.error_ratio), key
        assert g.mean_ms == pytest.approx(w.mean_ms, rel=0.05), key
        assert g.p95_ms == pytest.approx(w.p95_ms, rel=0.05), key
        if w.success is not None:
            assert g.success is not None
            assert g.success.p95_ms == pytest.approx(w.success.p95_ms, rel=0.05), key
    assert got.station("stale servers").arrival_rps == pytest.approx(
        want.station("stale servers").arrival_rps, rel=0.03)


def test_a_fallback_is_drawn_as_an_alternative_with_its_share() -> None:
    from designkit.render.mermaid import sequence

    design = _design()
    text = sequence(design, "api GET /home", dk.estimate(design))
    assert "    alt recs fails (28%) · 0.504 ms\n        api_" in text
    degrade = sequence(design, "api GET /degrade")
    assert "alt recs fails (28%)\n        Note right of api_a033: degrade: answer without it\n" \
        "    end" in degrade


def test_a_failure_rate_belongs_on_a_call_of_an_endpoint() -> None:
    d = _design()
    d.components["api"].endpoints["GET /home"].steps[0].failure_rate = 0.1
    with pytest.raises(DesignError, match=r"steps\[0\]\.failure_rate: only a call of another "
                                          r"service's endpoint takes a failure_rate"):
        dk.estimate(d)


def test_a_service_down_fails_its_callers_calls_and_their_fallbacks_take_over() -> None:
    from designkit.estimate.scenarios import Scenario

    design = _design()
    # users down: every call of it fails, and the chain's fallback (psp, 25 % after its
    # retry) decides; failing 50 %: its calls fail 1 − 0.95 · 0.5, then users' own psp
    down = dk.estimate(design, scenario=Scenario(down=("users",)))
    assert down.endpoints["api GET /chain"].errors == pytest.approx({"failure: psp": 0.25})
    half = dk.estimate(design, scenario=Scenario(failing={"users": 0.5}))
    users = 1.0 - 0.95 * 0.5 * 0.75
    assert half.endpoints["api GET /chain"].error_ratio == pytest.approx(users * 0.25)
    with pytest.raises(DesignError, match=r"scenario\.down\.stale: only an external API or a "
                                          r"service can fail here; 'stale' is a cache"):
        dk.estimate(design, scenario=Scenario(down=("stale",)))

