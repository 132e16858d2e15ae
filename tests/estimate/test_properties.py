"""Properties of the estimator over generated designs (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import designkit as dk

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TOL = 1e-3  # grids differ between two loads; percentiles agree to 0.1 %


@st.composite
def small_designs(draw: st.DrawFn) -> dk.Design:
    """A service over a database, a cache and a third party, with random sizes and times."""
    design = dk.Design(name="generated")
    io = draw(st.sampled_from(["blocking", "async"]))
    api = design.service("api", replicas=draw(st.integers(1, 4)),
                         workers=draw(st.integers(1, 16)), io=io)
    db = design.database("db", cores=draw(st.integers(1, 8)),
                         pool_size=draw(st.integers(1, 20)))
    db.table("items", rows=draw(st.integers(1, 10_000))).column("id", "uuid", primary_key=True)
    design.cache("cache", hit_ratio=draw(st.floats(0, 1)),
                 service_ms=draw(st.floats(0.05, 2)))
    design.external("ext", latency_ms={"p50": 20.0, "p95": draw(st.floats(25, 200))},
                    timeout_ms=draw(st.sampled_from([None, 300.0])),
                    failure_rate=draw(st.sampled_from([0.0, 0.05, 0.4])),
                    retries={"max": draw(st.integers(0, 3))})
    ep = api.endpoint("GET /x", cpu_ms=draw(st.floats(0.1, 20)))
    ep.cache("cache").call("db", query={"table": "items", "where": ["id"]},
                           count=draw(st.integers(1, 5)))
    if draw(st.booleans()):
        ep.transaction("db").call("db", service_ms=draw(st.floats(0.1, 5)))
    if draw(st.booleans()):
        ep.call("ext")
    design.set_load("api GET /x", draw(st.floats(0.1, 200)))
    return design


def p95s(estimate: dk.Estimate) -> list[float]:
    return [e.p95_ms for e in estimate.endpoints.values()]


@SETTINGS
@given(small_designs(), st.floats(1.01, 3.0))
def test_more_load_never_lowers_latency(design: dk.Design, factor: float) -> None:
    low, high = dk.estimate(design), dk.estimate(design, scale=factor)
    for a, b in zip(p95s(low), p95s(high), strict=True):
        assert b >= a * (1 - TOL)
    for name, component in low.components.items():
        assert high.components[name].utilization >= component.utilization * (1 - 1e-9)


P95_TOL = 5e-3
"""More servers may move a little waiting from the workers' queue into a queue they hold
(a third worker lets a third request reach a cache): the mean still falls, but the p95 of
the composed waits (each 0 or exponential) can rise by up to 0.3 % (found by hypothesis:
7.682 → 7.705 ms with the mean 3.2019 → 3.1995 ms)."""

UNSHARED_CACHE = 64
"""Cache servers in the test below. More workers really do make requests slower when
what they hold is mostly one shared single-server station: one blocking worker makes a
request's time one M/G/1 service of low variability (a 2 ms cache read, a query, the 2 ms
fill), more let requests meet at the cache's exponential visits. The simulation shows it
(2 → 4 workers at 40 rps: mean 5.721 → 5.753 ms, p95 12.65 → 12.81 ms; the estimate
+0.06 % and +0.5 %). The property is about the solver, so the cache is not shared there."""


@SETTINGS
@given(small_designs(), st.integers(1, 8))
def test_more_servers_never_raise_latency(design: dk.Design, extra: int) -> None:
    design.components["cache"].servers = UNSHARED_CACHE  # type: ignore[union-attr]
    before = dk.estimate(design)
    api = design.components["api"]
    assert isinstance(api, dk.Service)
    api.workers += extra
    db = design.components["db"]
    assert isinstance(db, dk.Database)
    db.cores += extra
    after = dk.estimate(design)
    for a, b in zip(before.endpoints.values(), after.endpoints.values(), strict=True):
        assert b.mean_ms <= a.mean_ms * (1 + TOL)
        assert b.p95_ms <= a.p95_ms * (1 + P95_TOL)


@SETTINGS
@given(small_designs())
def test_saturation_is_infinite_and_flagged_never_nan(design: dk.Design) -> None:
    e = dk.estimate(design)
    beyond = dk.estimate(design, scale=e.max_scale * 1.05) if math.isfinite(e.max_scale) else e
    for endpoint in [*e.endpoints.values(), *beyond.endpoints.values()]:
        values = (endpoint.mean_ms, endpoint.p50_ms, endpoint.p95_ms, endpoint.p99_ms)
        assert not any(math.isnan(v) for v in values)
        assert endpoint.saturated == math.isinf(endpoint.mean_ms)
    if math.isfinite(e.max_scale):
        assert beyond.saturated
        assert all(ep.saturated for ep in beyond.endpoints.values())
    assert "NaN" not in beyond.to_json() and "Infinity" not in beyond.to_json()


@SETTINGS
@given(small_designs(), st.lists(st.floats(0.1, 3.0), min_size=2, max_size=5))
def test_one_trial_of_several_loads_equals_a_solution_per_load(
        design: dk.Design, scales: list[float]) -> None:
    from designkit.estimate.program import compile_design
    from designkit.estimate.solve import solve, trials

    program = compile_design(design)
    workload = dict(design.workload)
    batch = trials(program, workload, scales)
    for column, scale in enumerate(scales):
        one = solve(program, workload, scale)
        assert batch.utilization[:, column].tolist() == [s.utilization for s in one.stations]
        assert batch.endpoint_mean[:, column].tolist() == [m.mean for m in one.endpoint_moments]


@SETTINGS
@given(small_designs())
def test_the_composed_distribution_has_the_solved_mean(design: dk.Design) -> None:
    # Two computations of one number: the tape's moments and the mean of the distribution
    # composed on a grid (which also decides the percentiles).
    from designkit.estimate.program import compile_design
    from designkit.estimate.solve import solve

    program = compile_design(design)
    solution = solve(program, dict(design.workload))
    e = dk.estimate(design)
    for i, ep in enumerate(program.endpoints):
        moments = solution.endpoint_moments[i]
        composed = e.endpoints[str(ep.ref)].mean_ms
        if math.isinf(moments.mean):
            assert math.isinf(composed)
        else:
            assert composed == pytest.approx(moments.mean, rel=0.01, abs=1e-3)


@SETTINGS
@given(small_designs(), st.floats(0.1, 3.0))
def test_errors_add_up_and_do_not_depend_on_the_load(design: dk.Design, factor: float) -> None:
    # The causes add up to the ratio; a third party that fails only by its own errors
    # (no timeout) fails a call when every attempt does: failure_rate^(1 + retries).
    from designkit.estimate.errors import call_errors
    from designkit.estimate.program import compile_design
    from designkit.flow.nodes import ExternalCall, walk

    one, other = dk.estimate(design), dk.estimate(design, scale=factor)
    for key, endpoint in one.endpoints.items():
        assert 0.0 <= endpoint.error_ratio <= 1.0
        assert sum(endpoint.errors.values()) == pytest.approx(endpoint.error_ratio, abs=1e-12)
        assert other.endpoints[key].errors == pytest.approx(endpoint.errors, abs=1e-12)
    ext = design.components["ext"]
    calls = [n for ep in compile_design(design).endpoints for n in walk(ep.steps)
             if isinstance(n, ExternalCall)]
    got = one.endpoints["api GET /x"].error_ratio
    if not calls:
        assert got == 0.0
    elif ext.timeout_ms is None:  # type: ignore[union-attr]
        attempts = 1 + ext.retries.max  # type: ignore[union-attr]
        assert got == pytest.approx(ext.failure_rate ** attempts, rel=1e-12, abs=1e-15)  # type: ignore[union-attr]
    else:
        assert got == pytest.approx(call_errors(calls[0]).ratio, rel=1e-12)
